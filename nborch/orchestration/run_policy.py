"""The run policy: how long a run may take, and when and whether it is retried.

A deployment holds the defaults (`nborch.models.RunPolicy`); each run copies them when it is
made (by `runs.create_run` or the scheduler), unless it is given its own. The timeout is
enforced by the run's worker (`nborch.workers.base`), which stops the run's infrastructure
and reports it FAILED as timed out; the retries are decided here, in the transaction that
records the ending (`runs.transition`).

A retry is scheduled `retry_delay_seconds * retry_backoff ** (n - 1)` after the ending, for
the n-th retry, capped at MAX_RETRY_DELAY, plus up to RETRY_JITTER of that at random, so that
runs failing together are not retried together.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from nborch.errors import ValidationError
from nborch.models import RetryOn, RunPolicy, StateType
from nborch.store.tables import FlowRunRow, RunPolicyColumns
from nborch.timeutil import format_seconds

# The longest timeout a run may have.
MAX_TIMEOUT_SECONDS = 7 * 86400.0
# The longest a retry waits, backoff included (a longer computed delay is cut to this).
MAX_RETRY_DELAY_SECONDS = 86400.0
MAX_RETRY_BACKOFF = 10.0
# A retry's delay is lengthened by up to this fraction of it, at random.
RETRY_JITTER = 0.1


def check_run_policy(policy: RunPolicy, owner: str) -> RunPolicy:
    """The policy, its `retry_on` without repeats; refused, naming `owner` (e.g. "deployment
    'etl/daily'") and the fix, when a value is out of bounds."""
    timeout = policy.timeout_seconds
    if timeout is not None and not 0 < timeout <= MAX_TIMEOUT_SECONDS:
        raise ValidationError(
            f"Timeout of {owner} is {_number(timeout)} s: it must be more than 0 and at most "
            f"{format_seconds(MAX_TIMEOUT_SECONDS)}. Give --timeout a duration such as 30m or 2h "
            "(leave it out for no timeout)."
        )
    delay = policy.retry_delay_seconds
    if not 0 <= delay <= MAX_RETRY_DELAY_SECONDS:
        raise ValidationError(
            f"Retry delay of {owner} is {_number(delay)} s: it must be from 0 to "
            f"{format_seconds(MAX_RETRY_DELAY_SECONDS)}. Give --retry-delay a duration such "
            "as 30s or 5m."
        )
    backoff = policy.retry_backoff
    if not 1 <= backoff <= MAX_RETRY_BACKOFF:
        raise ValidationError(
            f"Retry backoff of {owner} is {_number(backoff)}: it must be from 1 (every retry "
            f"waits the retry delay) to {MAX_RETRY_BACKOFF:g} (each waits that many times "
            "longer than the one before). Give --retry-backoff a factor such as 2."
        )
    retry_on = list(dict.fromkeys(RetryOn(kind) for kind in policy.retry_on))
    return policy.model_copy(update={"retry_on": retry_on})


def _number(value: float) -> str:
    return f"{value:g}" if math.isfinite(value) else str(value)


def policy_of(row: RunPolicyColumns) -> dict[str, Any]:
    """The policy's fields of a deployment's or a run's row, for its model."""
    return {
        "timeout_seconds": row.timeout_seconds,
        "retry_delay_seconds": row.retry_delay_seconds,
        "retry_backoff": row.retry_backoff,
        "retry_on": retry_on_list(row.retry_on),
    }


def store_policy(row: RunPolicyColumns, policy: RunPolicy) -> None:
    """Write a checked policy into a deployment's or a run's row."""
    row.timeout_seconds = policy.timeout_seconds
    row.retry_delay_seconds = policy.retry_delay_seconds
    row.retry_backoff = policy.retry_backoff
    row.retry_on = ",".join(RetryOn(kind).value for kind in policy.retry_on)


def retry_on_list(column: str) -> list[RetryOn]:
    return [RetryOn(kind) for kind in column.split(",") if kind]


def run_policy(defaults: RunPolicyColumns, owner: str, **given: Any) -> RunPolicy:
    """A new run's policy: the deployment's (`defaults`), with the values `given` for this
    run (None: the deployment's) in their place; checked."""
    policy = RunPolicy.model_validate(
        {**policy_of(defaults), **{k: v for k, v in given.items() if v is not None}}
    )
    return check_run_policy(policy, owner)


def ending_kind(state: StateType, timed_out: bool) -> RetryOn:
    """What an ending counts as for `retry_on`."""
    if timed_out:
        return RetryOn.TIMEOUT
    return RetryOn.CRASHED if state is StateType.CRASHED else RetryOn.FAILED


def retry_delay(
    row: RunPolicyColumns, retry_number: int, jitter: Callable[[], float] = random.random
) -> float:
    """Seconds the `retry_number`-th retry (1 for the first) waits; `jitter` gives a number
    in [0, 1) (the fraction of RETRY_JITTER added)."""
    base = row.retry_delay_seconds
    if base <= 0:
        return 0.0
    exponent = max(retry_number - 1, 0)
    # In logarithms: a large exponent must not overflow before it is capped.
    scaled = math.log(base) + exponent * math.log(max(row.retry_backoff, 1.0))
    delay = min(math.exp(min(scaled, math.log(MAX_RETRY_DELAY_SECONDS))), MAX_RETRY_DELAY_SECONDS)
    return delay * (1 + RETRY_JITTER * jitter())


def planned_retry(
    row: FlowRunRow, ending: RetryOn, reason: str, now: datetime
) -> tuple[datetime, str] | None:
    """When the run's next attempt is due and the SCHEDULED state's message (which retry,
    when, and why), or None when its policy does not retry `ending` or it has no retries
    left. `row.run_count` counts the attempts made so far."""
    if row.run_count > row.retries or ending not in retry_on_list(row.retry_on):
        return None
    delay = retry_delay(row, row.run_count)
    when = now + timedelta(seconds=delay)
    at = "" if delay <= 0 else f" in {format_seconds(delay)} (at {when:%Y-%m-%d %H:%M:%S} UTC)"
    return when, f"Retry {row.run_count} of {row.retries}{at} after {row.state}: {reason}"

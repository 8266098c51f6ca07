"""The run policy on both back ends: stored on a deployment, copied (or given) per run,
bounded; retries that wait their delay, back off with jitter, and happen only on the
endings the policy names."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import pytest
from support.api import Server
from support.deployments import deploy_hello

from nborch.client import LocalClient
from nborch.errors import NotFoundError, ValidationError
from nborch.models import FlowRun, RetryOn
from nborch.models import StateType as S
from nborch.orchestration import claims, scheduler
from nborch.orchestration.run_policy import RETRY_JITTER
from nborch.timeutil import utcnow


def fail_attempt(
    client: LocalClient, pool: str, worker: uuid.UUID, run: FlowRun, now: datetime, **ending: object
) -> FlowRun:
    """Claim the run as of `now`, start it and end it (FAILED unless `ending` says)."""
    claimed = claims.claim_runs(client.store, pool, worker, 1, now=now)
    assert [r.id for r in claimed] == [run.id]
    client.set_state(run.id, S.RUNNING)
    state = ending.pop("state", S.FAILED)
    return client.set_state(run.id, state, "boom", **ending)  # type: ignore[arg-type]


def waited(run: FlowRun) -> float:
    """Seconds between the retry's SCHEDULED state and the time it is scheduled for."""
    assert run.state is S.SCHEDULED
    return (run.scheduled_time - run.history[-1].timestamp).total_seconds()


def test_a_deployment_keeps_its_policy_and_its_runs_copy_or_override_it(
    client: LocalClient, pool: str
) -> None:
    deployment = deploy_hello(
        client,
        pool,
        retries=2,
        timeout=timedelta(hours=2),
        retry_delay=30,
        retry_backoff=2,
        retry_on="failed,timeout",
        cron="0 6 * * *",
    )
    assert (deployment.timeout_seconds, deployment.retry_delay_seconds) == (7200, 30)
    assert deployment.retry_backoff == 2
    assert deployment.retry_on == [RetryOn.FAILED, RetryOn.TIMEOUT]
    copied = client.create_run("hello/demo")
    assert (copied.timeout_seconds, copied.retries, copied.retry_delay_seconds) == (7200, 2, 30)
    assert copied.retry_on == [RetryOn.FAILED, RetryOn.TIMEOUT]
    own = client.create_run("hello/demo", timeout_seconds=60, retries=0, retry_on=[RetryOn.CRASHED])
    assert (own.timeout_seconds, own.retries, own.retry_on) == (60, 0, [RetryOn.CRASHED])
    assert (own.retry_delay_seconds, own.retry_backoff) == (30, 2)  # not given: the deployment's
    scheduler.tick(client.store, utcnow())  # the scheduler's runs copy it too
    made = [r for r in client.list_runs(deployment="hello/demo") if r.schedule_id]
    assert made and {(r.timeout_seconds, r.retry_backoff) for r in made} == {(7200, 2)}
    # Redeployed without a policy: the defaults (no timeout, retries at once on every ending).
    plain = deploy_hello(client, pool)
    assert (plain.timeout_seconds, plain.retry_delay_seconds, plain.retry_backoff) == (None, 0, 1)
    assert plain.retry_on == [RetryOn.FAILED, RetryOn.CRASHED, RetryOn.TIMEOUT]


def test_retries_wait_their_delay_backing_off_with_jitter(
    client: LocalClient, pool: str, worker_id: uuid.UUID
) -> None:
    deploy_hello(client, pool, retries=3, retry_delay=60, retry_backoff=2)
    run = client.create_run("hello/demo")
    now = utcnow()
    for number, delay in enumerate([60, 120, 240], start=1):
        retried = fail_attempt(client, pool, worker_id, run, now)
        assert delay <= waited(retried) <= delay * (1 + RETRY_JITTER) + 0.001
        message = retried.history[-1].message
        assert message.startswith(f"Retry {number} of 3 in {delay // 60} min")
        assert f"(at {retried.scheduled_time:%Y-%m-%d %H:%M:%S} UTC) after FAILED: boom" in message
        # Not before its time: a claim now finds nothing; one at its time takes it.
        assert claims.claim_runs(client.store, pool, worker_id, 1, now=now) == []
        now = retried.scheduled_time + timedelta(seconds=1)
    assert fail_attempt(client, pool, worker_id, run, now).state is S.FAILED  # none left


def test_without_a_delay_a_retry_is_due_at_once(
    client: LocalClient, pool: str, worker_id: uuid.UUID
) -> None:
    deploy_hello(client, pool, retries=1)
    run = client.create_run("hello/demo")
    retried = fail_attempt(client, pool, worker_id, run, utcnow())
    assert waited(retried) == 0
    assert retried.history[-1].message == "Retry 1 of 1 after FAILED: boom"


@pytest.mark.parametrize(
    ("retry_on", "ending", "retried"),
    [
        ("failed,crashed", {"timed_out": True}, False),  # a timeout is no plain failure
        ("timeout", {"timed_out": True}, True),
        ("timeout", {}, False),
        ("timeout", {"state": S.CRASHED}, False),
        ("crashed", {"state": S.CRASHED}, True),
        ("failed", {}, True),
    ],
)
def test_only_the_endings_the_policy_names_are_retried(
    client: LocalClient,
    pool: str,
    worker_id: uuid.UUID,
    retry_on: str,
    ending: dict[str, object],
    retried: bool,
) -> None:
    deploy_hello(client, pool, retries=1, retry_on=retry_on)
    run = client.create_run("hello/demo")
    after = fail_attempt(client, pool, worker_id, run, utcnow(), **ending)
    assert (after.state is S.SCHEDULED) is retried


def test_the_backoff_is_capped_at_a_day(
    client: LocalClient, pool: str, worker_id: uuid.UUID
) -> None:
    deploy_hello(client, pool, retries=2, retry_delay=timedelta(hours=12), retry_backoff=10)
    run = client.create_run("hello/demo")
    first = fail_attempt(client, pool, worker_id, run, utcnow())
    second = fail_attempt(client, pool, worker_id, run, first.scheduled_time)
    assert 86400 <= waited(second) <= 86400 * (1 + RETRY_JITTER) + 0.001


@pytest.mark.parametrize(
    ("policy", "says"),
    [
        ({"timeout": 0}, "Timeout of deployment 'hello/demo' is 0 s: it must be more than 0"),
        ({"timeout": timedelta(days=8)}, "at most 7 d. Give --timeout a duration"),
        ({"retry_delay": -1}, "Retry delay of deployment 'hello/demo' is -1 s"),
        ({"retry_delay": timedelta(days=2)}, "from 0 to 1 d. Give --retry-delay"),
        ({"retry_backoff": 0.5}, "Retry backoff of deployment 'hello/demo' is 0.5"),
        ({"retry_backoff": 11}, "Give --retry-backoff a factor such as 2"),
        ({"retry_on": "failed,never"}, "Retry on 'never' names no ending nborch retries"),
    ],
)
def test_a_policy_out_of_bounds_is_refused_and_nothing_stored(
    client: LocalClient, pool: str, policy: dict[str, object], says: str
) -> None:
    with pytest.raises((ValidationError, ValueError), match=says.replace("(", r"\(")):
        deploy_hello(client, pool, **policy)
    with pytest.raises(NotFoundError):
        client.get_deployment("hello/demo")


def test_a_runs_own_policy_is_bounded_too(client: LocalClient, pool: str) -> None:
    deploy_hello(client, pool)
    for given, says in [
        ({"timeout_seconds": -5}, "Timeout of a run of deployment 'hello/demo' is -5 s"),
        ({"retry_backoff": 100}, "Retry backoff of a run of deployment 'hello/demo' is 100"),
        ({"retries": -1}, "Retries of a run of deployment 'hello/demo' must be"),
    ]:
        with pytest.raises(ValidationError, match=says):
            client.create_run("hello/demo", **given)  # type: ignore[arg-type]
    assert client.list_runs(deployment="hello/demo") == []


def test_over_http_a_timeout_and_a_runs_own_policy_reach_the_store(server: Server) -> None:
    api = server.client()
    api.create_pool("etl", "process")
    deploy_hello(api, "etl", retries=1, retry_on="failed")
    run = api.create_run("hello/demo", timeout_seconds=60, retry_delay_seconds=5)
    assert (run.timeout_seconds, run.retry_delay_seconds) == (60, 5)
    worker = api.register_worker("w", "etl").id
    assert [r.id for r in api.claim_runs("etl", worker, 1)] == [run.id]
    api.set_state(run.id, S.RUNNING, attempt=1)
    ended = api.set_state(run.id, S.FAILED, "Timed out", attempt=1, timed_out=True)
    assert ended.state is S.FAILED  # retried on failures only: a timeout is not one

"""Printing for people (rich tables) and for machines (JSON): the CLI, the magics and the
library (deploy's confirmation) all print through here."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from typing import Any

from pydantic import BaseModel
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from nborch.models import Deployment, PoolStatus, RunPolicy, StateType
from nborch.timeutil import format_seconds

# Piped output is not cut to 80 columns.
console = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 160)
error_console = Console(stderr=True, highlight=False, soft_wrap=True)

STATE_STYLES = {
    StateType.SCHEDULED: "yellow",
    StateType.LATE: "dark_orange",
    StateType.PENDING: "grey62",
    StateType.RUNNING: "blue",
    StateType.COMPLETED: "green",
    StateType.FAILED: "red",
    StateType.CRASHED: "bold red",
    StateType.CANCELLING: "magenta",
    StateType.CANCELLED: "grey50",
}
STATUS_STYLES = {
    PoolStatus.READY: "green",
    PoolStatus.NOT_READY: "red",
    PoolStatus.PAUSED: "grey50",
}


def as_jsonable(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, (list, tuple)):
        return [as_jsonable(v) for v in value]
    return value


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(as_jsonable(value), indent=2, default=str) + "\n")


class Styled(str):
    """Text with rich markup put there on purpose; any other text is shown as it is."""


def markup(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, Styled) else escape(str(value))


def styled_state(state: StateType, message: str = "") -> Styled:
    suffix = f": {escape(message)}" if message else ""
    return Styled(f"[{STATE_STYLES[state]}]{state.value}[/]{suffix}")


def styled_status(status: PoolStatus) -> Styled:
    return Styled(f"[{STATUS_STYLES[status]}]● {status.value}[/]")


def print_table(title: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    table = Table(title=title, title_justify="left")
    for column in columns:
        is_id = column == "ID"  # ids are for copying: never cut them
        table.add_column(column, no_wrap=is_id, min_width=36 if is_id else None)
    for row in rows:
        table.add_row(*(markup(cell) for cell in row))
    console.print(table)


def print_fields(title: str, fields: Sequence[tuple[str, Any]]) -> None:
    console.print(f"[bold]{escape(title)}[/]")
    width = max(len(name) for name, _ in fields)
    for name, value in fields:
        if isinstance(value, (dict, list)):
            value = json.dumps(value) if value else "-"
        console.print(f"  {name.ljust(width)}  {markup(value)}")


def fmt_time(moment: Any) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S") if moment else ""


def fmt_limit(limit: int | None) -> str:
    return "∞" if limit is None else str(limit)


def print_deployment_summary(deployment: Deployment, created: bool) -> None:
    """The confirmation `deploy` prints (as the seed shows it)."""
    console.print("Successfully created/updated all deployments!")
    print_table(
        "Deployments",
        ["Name", "Status", "Details"],
        [
            (
                deployment.full_name,
                "created" if created else "updated",
                f"pool {deployment.pool_name}, queue {deployment.queue_name}",
            )
        ],
    )
    console.print("To schedule a run for this deployment, use the following command:")
    console.print(f"\n        $ nborch deployment run '{deployment.full_name}'\n", markup=False)


def describe_policy(policy: RunPolicy) -> str:
    """`timeout 2 h; retries wait 30 s, x2 each; on failed, timeout`."""
    timeout = format_seconds(policy.timeout_seconds) if policy.timeout_seconds else "none"
    wait = format_seconds(policy.retry_delay_seconds) if policy.retry_delay_seconds else "at once"
    backoff = f", x{policy.retry_backoff:g} each" if policy.retry_backoff != 1 else ""
    on = ", ".join(kind.value for kind in policy.retry_on) or "nothing"
    return f"timeout {timeout}; retries {wait}{backoff}; on {on}"

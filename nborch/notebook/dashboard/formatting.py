"""How the dashboard shows things: state badges, status lights, times, durations, values.

Every function returns a small piece of HTML (escaped) for an `ipywidgets.HTML` cell, or
plain text; none touches a widget, so they are cheap to call on every refresh.
"""

from __future__ import annotations

import html
import json
from datetime import datetime
from typing import Any

from nborch.models import PoolStatus, StateType
from nborch.timeutil import ago

STATE_COLOURS = {
    StateType.SCHEDULED: "#b45309",
    StateType.LATE: "#c2410c",
    StateType.PENDING: "#6b7280",
    StateType.RUNNING: "#2563eb",
    StateType.COMPLETED: "#15803d",
    StateType.FAILED: "#dc2626",
    StateType.CRASHED: "#991b1b",
    StateType.CANCELLING: "#a21caf",
    StateType.CANCELLED: "#4b5563",
}
STATUS_COLOURS = {
    PoolStatus.READY: "#16a34a",
    PoolStatus.NOT_READY: "#dc2626",
    PoolStatus.PAUSED: "#9ca3af",
}
ERROR_COLOUR = "#dc2626"
MUTED_COLOUR = "#6b7280"


def text(value: object) -> str:
    """Plain text, escaped for an HTML cell."""
    return html.escape(str(value))


def clipped(value: object) -> str:
    """Text on one line, cut with an ellipsis to fit its column; the whole on hover."""
    shown = text(value)
    return (
        f'<span title="{shown}" style="display:block;white-space:nowrap;overflow:hidden;'
        f'text-overflow:ellipsis">{shown}</span>'
    )


def muted(value: object) -> str:
    return f'<span style="color:{MUTED_COLOUR}">{text(value)}</span>'


def error(message: str) -> str:
    """A message about something that went wrong, in red (empty stays empty)."""
    return f'<span style="color:{ERROR_COLOUR}">{text(message)}</span>' if message else ""


def success(message: str) -> str:
    return f'<span style="color:#15803d">{text(message)}</span>' if message else ""


def state_badge(state: StateType) -> str:
    """A run's state as a coloured badge, e.g. a green COMPLETED."""
    colour = STATE_COLOURS[state]
    return (
        f'<span class="nborch-state" data-state="{state.value}" style="background:{colour};'
        "color:white;border-radius:4px;padding:1px 6px;font-size:11px;font-weight:600;"
        f'white-space:nowrap">{state.value}</span>'
    )


def status_light(status: PoolStatus) -> str:
    """A pool's status as a light and its name: READY green, NOT_READY red, PAUSED grey."""
    colour = STATUS_COLOURS[status]
    return (
        f'<span class="nborch-light" data-status="{status.value}" style="display:inline-block;'
        f"width:10px;height:10px;border-radius:50%;background:{colour};margin-right:5px;"
        f'vertical-align:middle"></span>{status.value}'
    )


def since(moment: datetime | None, now: datetime) -> str:
    """`3 s ago` (or `never`)."""
    return ago(moment, now)


def until(moment: datetime | None, now: datetime) -> str:
    """`in 5 min` for a time ahead, `3 s ago` for one past, `-` for none."""
    if moment is None:
        return "-"
    if moment <= now:
        return ago(moment, now)
    return "in " + ago(now, moment).removesuffix(" ago")


def clock(moment: datetime | None) -> str:
    """A time as this machine's local date and time, to the second (`-` for none)."""
    if moment is None:
        return "-"
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def duration(seconds: float | None) -> str:
    """`0.8 s`, `42 s`, `3 min 5 s`, `2 h 10 min` (`-` for none)."""
    if seconds is None:
        return "-"
    if seconds < 10:
        return f"{seconds:.1f} s"
    whole = int(seconds)
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        return f"{whole // 60} min {whole % 60} s"
    return f"{whole // 3600} h {whole % 3600 // 60} min"


def compact(value: Any, limit: int = 80) -> str:
    """A value as short JSON (`{"n": 3}`), cut with an ellipsis past `limit` characters."""
    shown = json.dumps(value, default=str, ensure_ascii=False)
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"


def limit_of(used: int, limit: int | None) -> str:
    """`1 / 4`, or `1 / ∞` with no limit."""
    return f"{used} / {'∞' if limit is None else limit}"

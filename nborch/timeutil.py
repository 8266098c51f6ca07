"""Time in one place, so that tests (and the scheduler) can reason about it."""

from __future__ import annotations

from datetime import datetime, timezone


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def ago(moment: datetime | None, now: datetime | None = None) -> str:
    """`3 s ago`, `5 min ago`, `2 h ago`, `4 d ago`; `never` for None."""
    if moment is None:
        return "never"
    seconds = max(0.0, ((now or utcnow()) - moment).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{int(seconds // size)} {unit} ago"
    return f"{int(seconds)} s ago"

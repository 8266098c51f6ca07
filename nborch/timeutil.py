"""Time in one place, so that tests (and the scheduler) can reason about it."""

from __future__ import annotations

from datetime import datetime, timezone

# Times given as input must fall in these years: outside them they are typing mistakes, and
# near year 1 or 9999 the times computed from them (an offset applied, a slot added) overflow.
TIME_YEARS = (1970, 2200)


def time_problem(moment: datetime, *, needs_zone: bool = True) -> str | None:
    """What is wrong with a time given as input, in words that end with the fix; None when
    nothing is. A time without a time zone is a problem unless `needs_zone` is False (the
    input says its zone beside it, as a schedule's anchor does)."""
    if not TIME_YEARS[0] <= moment.year <= TIME_YEARS[1]:
        return (
            f"{moment.isoformat()} is out of range: use a time in the years {TIME_YEARS[0]} "
            f"to {TIME_YEARS[1]}"
        )
    if needs_zone and moment.tzinfo is None:
        return (
            f"{moment.isoformat()} has no time zone: give it an offset, e.g. "
            f"{moment.isoformat()}+00:00 for UTC"
        )
    return None


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

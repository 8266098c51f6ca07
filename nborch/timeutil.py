"""Time in one place, so that tests (and the scheduler) can reason about it."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

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


def seconds(value: float | timedelta | None) -> float | None:
    """A duration the Python API was given (seconds or a timedelta), in seconds."""
    return value.total_seconds() if isinstance(value, timedelta) else value


def format_seconds(seconds: float) -> str:
    """`45 s`, `1.5 s`, `12 min`, `2 h 30 min`, `7 d`: a duration as people read it."""
    if seconds < 60:
        return (
            f"{seconds:.1f} s" if seconds < 10 and seconds != int(seconds) else f"{seconds:.0f} s"
        )
    parts = []
    rest = round(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60), ("s", 1)):
        if rest >= size:
            parts.append(f"{rest // size} {unit}")
            rest %= size
    return " ".join(parts[:2])


def parse_duration(text: str, what: str = "") -> float:
    """Seconds in `90`, `1.5`, `90s`, `5m`, `2h`, `1h30m`, `7d`; refused, naming `what`
    (e.g. "Timeout"), with a ValueError when it is not one."""
    raw = text.strip().lower().replace(" ", "")
    match = _DURATION.fullmatch(raw)
    if not raw or match is None:
        raise ValueError(
            f"{what} '{text}' is not a duration. Write seconds (90) or numbers with units "
            "d, h, m, s (30m, 1h30m, 2d).".lstrip()
        )
    if match["plain"] is not None:
        return float(match["plain"])
    sizes = {"d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0}
    return sum(float(match[unit]) * size for unit, size in sizes.items() if match[unit])


_NUMBER = r"\d+(?:\.\d+)?|\.\d+"
_DURATION = re.compile(
    rf"(?P<plain>{_NUMBER})|(?:(?P<d>{_NUMBER})d)?(?:(?P<h>{_NUMBER})h)?"
    rf"(?:(?P<m>{_NUMBER})m(?:in)?)?(?:(?P<s>{_NUMBER})s)?"
)

"""When a schedule fires: cron expressions in a time zone, and fixed intervals from an anchor.

Daylight saving: a cron time that falls in the hour skipped in spring fires once, at the end
of the gap (02:30 → 03:00); a fixed-hour cron time that occurs twice in autumn fires once,
while crons with a wildcard hour (hourly jobs) keep firing every real hour.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadDateError, croniter

from nborch.errors import ValidationError

_FIELDS: tuple[tuple[str, int, int, dict[str, int]], ...] = (
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day of month", 1, 31, {}),
    (
        "month",
        1,
        12,
        {m: i + 1 for i, m in enumerate("jan feb mar apr may jun jul aug sep oct nov dec".split())},
    ),
    ("day of week", 0, 7, {d: i for i, d in enumerate("sun mon tue wed thu fri sat".split())}),
)
_NICKNAMES = {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}


def check_timezone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError(
            f"Unknown time zone {name!r}. Use an IANA name such as 'UTC' or 'Europe/Paris'."
        ) from None


def check_cron(expression: str) -> str:
    """A valid five-field cron expression, or a ValidationError that says which field is wrong
    (`'61 * * * *': minute must be 0-59`)."""
    text = " ".join(expression.split())
    if text.lower() in _NICKNAMES:
        return text.lower()
    fields = text.split(" ")
    if len(fields) != 5:
        raise ValidationError(
            f"{expression!r}: a cron expression has 5 fields (minute hour day-of-month month "
            f"day-of-week), this one has {len(fields)}. Example: '0 1 * * *' (01:00 every day)."
        )
    for field, (name, low, high, names) in zip(fields, _FIELDS, strict=True):
        for part in field.split(","):
            _check_part(expression, part, name, low, high, names)
    if not croniter.is_valid(text):
        raise ValidationError(f"{expression!r} is not a valid cron expression.")
    try:
        croniter(text, datetime(2000, 1, 1, tzinfo=timezone.utc)).get_next(datetime)
    except CroniterBadDateError:
        raise ValidationError(
            f"{expression!r} never fires (no such date, e.g. February 30th). Check its day "
            "of month and month."
        ) from None
    return text


def _check_part(
    expression: str, part: str, name: str, low: int, high: int, names: dict[str, int]
) -> None:
    base, _, step = part.partition("/")
    if step and (not step.isdigit() or int(step) == 0):
        raise ValidationError(f"{expression!r}: the step of the {name} must be a number >= 1.")
    if base in ("*", "?"):
        return
    for value in base.split("-", 1):
        number = (
            names.get(value.lower())
            if value.lower() in names
            else (int(value) if value.isdigit() else None)
        )
        if number is None or not low <= number <= high:
            raise ValidationError(f"{expression!r}: {name} must be {low}-{high}.")


def _fixed_hour(expression: str) -> bool:
    if expression.startswith("@"):
        return expression != "@hourly"
    return expression.split(" ")[1] not in ("*", "*/1")


def cron_times(expression: str, tz: str, after: datetime) -> Iterator[datetime]:
    """Fire times strictly after `after`, as aware UTC datetimes, in order."""
    zone = check_timezone(tz)
    iterator = croniter(expression, after.astimezone(zone))
    dedupe_wall_clock = _fixed_hour(expression)
    previous_wall: datetime | None = None
    while True:
        moment: datetime = iterator.get_next(datetime)
        wall = moment.replace(tzinfo=None)
        if dedupe_wall_clock and wall == previous_wall:
            continue  # the autumn hour repeats: a 01:30 job runs once
        previous_wall = wall
        yield moment.astimezone(timezone.utc)


def latest_cron_time(expression: str, tz: str, at_or_before: datetime) -> datetime:
    zone = check_timezone(tz)
    iterator = croniter(expression, (at_or_before + timedelta(microseconds=1)).astimezone(zone))
    moment: datetime = iterator.get_prev(datetime)
    return moment.astimezone(timezone.utc)


def interval_times(seconds: float, anchor: datetime, after: datetime) -> Iterator[datetime]:
    """anchor + k·interval for every k with a time strictly after `after`."""
    step = timedelta(seconds=seconds)
    k = max(0, math.floor((after - anchor) / step) + 1)
    while True:
        moment = anchor + k * step
        if moment > after:
            yield moment
        k += 1


def latest_interval_time(
    seconds: float, anchor: datetime, at_or_before: datetime
) -> datetime | None:
    if at_or_before < anchor:
        return None
    step = timedelta(seconds=seconds)
    return anchor + math.floor((at_or_before - anchor) / step) * step


class Timetable:
    """A schedule's times, whatever kind of schedule it is."""

    def __init__(
        self, cron: str | None, interval_seconds: float | None, anchor: datetime | None, tz: str
    ) -> None:
        if (cron is None) == (interval_seconds is None):
            raise ValueError("a timetable needs a cron expression or an interval")
        self.cron, self.interval_seconds, self.tz = cron, interval_seconds, tz
        self.anchor = anchor or datetime(2000, 1, 1, tzinfo=timezone.utc)

    def times(self, after: datetime) -> Iterator[datetime]:
        """Times strictly after `after`, aware UTC, in order."""
        if self.cron is not None:
            return cron_times(self.cron, self.tz, after)
        assert self.interval_seconds is not None
        return interval_times(self.interval_seconds, self.anchor, after)

    def latest(self, at_or_before: datetime) -> datetime | None:
        if self.cron is not None:
            return latest_cron_time(self.cron, self.tz, at_or_before)
        assert self.interval_seconds is not None
        return latest_interval_time(self.interval_seconds, self.anchor, at_or_before)

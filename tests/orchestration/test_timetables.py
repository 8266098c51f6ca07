"""When schedules fire: cron validation, time zones and daylight saving, intervals."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from itertools import islice, pairwise
from zoneinfo import ZoneInfo

import pytest

from nborch.errors import ValidationError
from nborch.orchestration.timetables import Timetable, check_cron, check_timezone

NEW_YORK = ZoneInfo("America/New_York")
UTC = timezone.utc


@pytest.mark.parametrize(
    ("expression", "reason"),
    [
        ("61 * * * *", "'61 * * * *': minute must be 0-59"),
        ("0 24 * * *", "hour must be 0-23"),
        ("0 0 0 * *", "day of month must be 1-31"),
        ("0 0 * 13 *", "month must be 1-12"),
        ("0 0 * * 9", "day of week must be 0-7"),
        ("*/0 * * * *", "step of the minute"),
        ("0 1 * *", "has 5 fields"),
        ("0 0 * FOO *", "month must be 1-12"),
    ],
)
def test_bad_cron_is_refused_with_the_reason(expression: str, reason: str) -> None:
    with pytest.raises(ValidationError, match=reason.replace("*", r"\*")):
        check_cron(expression)


@pytest.mark.parametrize(
    "expression", ["0 1 * * *", "*/5 9-17 * * MON-FRI", "@daily", "0 9 1,15 jan,jul *"]
)
def test_good_cron_is_kept(expression: str) -> None:
    expected = expression.lower() if expression.startswith("@") else expression
    assert check_cron(expression) == expected


def test_unknown_time_zone() -> None:
    with pytest.raises(ValidationError, match="Unknown time zone 'Mars/Base'"):
        check_timezone("Mars/Base")


def _local_times(expression: str, start: datetime, end: datetime) -> list[datetime]:
    times = Timetable(expression, None, None, "America/New_York").times(after=start)
    found = []
    for moment in times:
        if moment >= end:
            return found
        found.append(moment.astimezone(NEW_YORK))
    raise AssertionError("unreachable")


def test_daily_job_in_the_repeated_autumn_hour_runs_once() -> None:
    day = datetime(2024, 11, 3, tzinfo=NEW_YORK)  # clocks go back at 02:00
    fired = _local_times("30 1 * * *", day - timedelta(hours=1), day + timedelta(days=1))
    assert [t.strftime("%H:%M %Z") for t in fired] == ["01:30 EDT"]


def test_hourly_job_runs_every_real_hour_through_the_autumn_change() -> None:
    day = datetime(2024, 11, 3, tzinfo=NEW_YORK)
    fired = _local_times("0 * * * *", day - timedelta(seconds=1), day + timedelta(days=1))
    assert len(fired) == 25  # the day has 25 hours
    gaps = {b.astimezone(UTC) - a.astimezone(UTC) for a, b in pairwise(fired)}
    assert gaps == {timedelta(hours=1)}


def test_job_in_the_skipped_spring_hour_runs_once_at_the_end_of_the_gap() -> None:
    day = datetime(2024, 3, 10, tzinfo=NEW_YORK)  # 02:00 jumps to 03:00
    fired = _local_times("30 2 * * *", day - timedelta(hours=1), day + timedelta(days=1))
    assert [t.strftime("%H:%M %Z") for t in fired] == ["03:00 EDT"]


def test_cron_keeps_local_wall_time_across_the_change() -> None:
    start = datetime(2024, 3, 8, 12, tzinfo=NEW_YORK)
    fired = list(islice(Timetable("0 9 * * *", None, None, "America/New_York").times(start), 4))
    assert [t.astimezone(NEW_YORK).hour for t in fired] == [9, 9, 9, 9]
    assert [t.hour for t in fired] == [14, 13, 13, 13]  # in UTC the offset moved


def test_interval_counts_from_its_anchor() -> None:
    anchor = datetime(2024, 1, 1, 0, 0, 7, tzinfo=UTC)
    table = Timetable(None, 60, anchor, "UTC")
    after = datetime(2024, 6, 1, 12, 0, 30, tzinfo=UTC)
    assert list(islice(table.times(after), 2)) == [
        datetime(2024, 6, 1, 12, 1, 7, tzinfo=UTC),
        datetime(2024, 6, 1, 12, 2, 7, tzinfo=UTC),
    ]
    assert table.latest(after) == datetime(2024, 6, 1, 12, 0, 7, tzinfo=UTC)
    assert table.latest(anchor - timedelta(seconds=1)) is None

"""A work pool's compute-hours quota: the calendar period it counts over (UTC), and the
check that refuses a run (at creation) or holds it back (at claim) once it is used up."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from nborch.errors import QuotaExceededError, ValidationError
from nborch.models import QuotaPeriod
from nborch.store.tables import WorkPoolRow

# Most hours a quota may have: a century of one machine's time, well inside any column.
MAX_QUOTA_HOURS = 1_000_000.0


def parse_quota_period(value: str | QuotaPeriod) -> QuotaPeriod:
    try:
        return QuotaPeriod(value)
    except ValueError:
        choices = ", ".join(p.value for p in QuotaPeriod)
        raise ValidationError(f"Unknown quota period '{value}'. Choose one of: {choices}") from None


def check_quota_hours(hours: float | None, owner: str) -> float | None:
    if hours is None:
        return None
    if (
        isinstance(hours, bool)
        or not isinstance(hours, (int, float))
        or not 0 < hours <= MAX_QUOTA_HOURS
    ):
        raise ValidationError(
            f"Compute-hours quota of {owner} must be a number above 0 and at most "
            f"{MAX_QUOTA_HOURS:g}, got {hours!r}."
        )
    return float(hours)


def period_bounds(period: QuotaPeriod, now: datetime) -> tuple[datetime, datetime]:
    """The calendar day, week (from Monday) or month in UTC that `now` is in: [start, end)."""
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if period is QuotaPeriod.DAY:
        return day, day + timedelta(days=1)
    if period is QuotaPeriod.WEEK:
        start = day - timedelta(days=day.weekday())
        return start, start + timedelta(days=7)
    start = day.replace(day=1)
    end = (
        start.replace(year=start.year + 1, month=1)
        if start.month == 12
        else start.replace(month=start.month + 1)
    )
    return start, end


def current_period(pool: WorkPoolRow, now: datetime) -> tuple[datetime, datetime]:
    return period_bounds(QuotaPeriod(pool.quota_period), now)


def used_hours(session: Session, pool: WorkPoolRow, now: datetime) -> float:
    from nborch.orchestration.usage import pool_seconds

    return pool_seconds(session, pool.id, *current_period(pool, now), now) / 3600.0


def is_over_quota(session: Session, pool: WorkPoolRow, now: datetime) -> bool:
    """Has the pool used its compute hours for this period? (False without a quota.)"""
    return pool.quota_hours is not None and used_hours(session, pool, now) >= pool.quota_hours


def refuse_over_quota(session: Session, pool: WorkPoolRow, now: datetime) -> None:
    """QuotaExceededError naming the pool, its quota, what is used and the fix."""
    if pool.quota_hours is None:
        return
    used = used_hours(session, pool, now)
    if used < pool.quota_hours:
        return
    period = QuotaPeriod(pool.quota_period)
    resets = period_bounds(period, now)[1]
    raise QuotaExceededError(
        f"Work pool '{pool.name}' has used {used:.2f} of its {pool.quota_hours:g} compute "
        f"hours this {period.value} (the quota resets {resets:%Y-%m-%d %H:%M} UTC). Raise it "
        f"with: nborch work-pool set-quota {pool.name} HOURS — or wait for the next "
        f"{period.value}. See what used it: nborch work-pool usage --pool {pool.name}"
    )

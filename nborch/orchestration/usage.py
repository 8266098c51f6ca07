"""Compute hours: how long runs spent RUNNING, per pool, per deployment and per tag, over a
window; the same figure decides a pool's quota (`quotas`).

A run's compute time is the seconds it spent RUNNING, every attempt added up when the
attempt ends (`flow_runs.compute_seconds`), plus the current attempt's time so far while it
runs. A finished run counts in the window its end falls in; a run in progress (or waiting
for a retry) counts in the window it last started in. Runs from before this was recorded
count their last attempt (start to end).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from nborch.models import PoolType, PoolUsage, QuotaPeriod, StateType, UsageEntry, UsageReport
from nborch.orchestration.lookup import pool_by_name
from nborch.orchestration.quotas import current_period, period_bounds
from nborch.store.engine import Store
from nborch.store.tables import DeploymentRow, FlowRow, FlowRunRow, WorkPoolRow
from nborch.timeutil import utcnow


@dataclass(frozen=True)
class RunTime:
    """What decides one run's compute time."""

    compute_seconds: float | None
    start_time: datetime | None
    end_time: datetime | None
    state: str

    def seconds(self, now: datetime) -> float:
        total = self.compute_seconds or 0.0
        if self.compute_seconds is None and self.start_time and self.end_time:
            total = (self.end_time - self.start_time).total_seconds()  # from before 0006
        if self.state == StateType.RUNNING.value and self.start_time is not None:
            total += max((now - self.start_time).total_seconds(), 0.0)
        return total


def _in_window(since: datetime, until: datetime) -> Any:
    """Runs whose compute time counts between `since` and `until`."""
    return and_(
        FlowRunRow.start_time.is_not(None),
        or_(
            and_(FlowRunRow.end_time >= since, FlowRunRow.end_time < until),
            and_(FlowRunRow.end_time.is_(None), FlowRunRow.start_time < until),
        ),
    )


def pool_seconds(
    session: Session, pool_id: str, since: datetime, until: datetime, now: datetime
) -> float:
    """Compute seconds of one pool's runs in the window."""
    rows = session.execute(
        select(
            FlowRunRow.compute_seconds,
            FlowRunRow.start_time,
            FlowRunRow.end_time,
            FlowRunRow.state,
        ).where(FlowRunRow.pool_id == pool_id, _in_window(since, until))
    ).all()
    return sum(RunTime(*row).seconds(now) for row in rows)


def _aware(moment: datetime) -> datetime:
    """A time without a zone is taken as UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _hours(seconds: float) -> float:
    return round(seconds / 3600.0, 6)


def usage_report(
    store: Store,
    *,
    pool_name: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    now: datetime | None = None,
) -> UsageReport:
    """Hours per pool (every pool, or `pool_name`), per deployment and per tag between
    `since` (default: the start of this month, UTC) and `until` (default: now); each pool
    also says how much of its quota this period has used."""
    now = now or utcnow()
    until = _aware(until) if until else now
    since = _aware(since) if since else period_bounds(QuotaPeriod.MONTH, now)[0]
    with store.read() as session:
        pools = (
            [pool_by_name(session, pool_name)]
            if pool_name
            else list(session.scalars(select(WorkPoolRow).order_by(WorkPoolRow.name)))
        )
        rows = session.execute(
            select(
                FlowRunRow.pool_id,
                FlowRow.name,
                DeploymentRow.name,
                FlowRunRow.tags,
                FlowRunRow.compute_seconds,
                FlowRunRow.start_time,
                FlowRunRow.end_time,
                FlowRunRow.state,
            )
            .join(FlowRow, FlowRunRow.flow_id == FlowRow.id)
            .outerjoin(DeploymentRow, FlowRunRow.deployment_id == DeploymentRow.id)
            .where(
                _in_window(since, until),
                *([FlowRunRow.pool_id == pools[0].id] if pool_name else []),
            )
        ).all()
        quota_used = {
            pool.id: pool_seconds(session, pool.id, *current_period(pool, now), now)
            for pool in pools
            if pool.quota_hours is not None
        }
    by_pool: dict[str | None, list[float]] = defaultdict(list)
    by_deployment: dict[str, list[float]] = defaultdict(list)
    by_tag: dict[str, list[float]] = defaultdict(list)
    for pool_id, flow, deployment, tags, compute, start, end, state in rows:
        seconds = RunTime(compute, start, end, state).seconds(now)
        by_pool[pool_id].append(seconds)
        by_deployment[f"{flow}/{deployment}" if deployment else f"{flow} (no deployment)"].append(
            seconds
        )
        for tag in tags or []:
            by_tag[tag].append(seconds)
    return UsageReport(
        since=since,
        until=until,
        pools=[_pool_usage(pool, by_pool.get(pool.id, []), quota_used, now) for pool in pools],
        deployments=_entries(by_deployment),
        tags=_entries(by_tag),
    )


def _pool_usage(
    pool: WorkPoolRow, seconds: Sequence[float], quota_used: dict[str, float], now: datetime
) -> PoolUsage:
    period = QuotaPeriod(pool.quota_period)
    has_quota = pool.quota_hours is not None
    return PoolUsage(
        name=pool.name,
        type=PoolType(pool.type),
        runs=len(seconds),
        hours=_hours(sum(seconds)),
        quota_hours=pool.quota_hours,
        quota_period=period,
        quota_used_hours=_hours(quota_used[pool.id]) if has_quota else None,
        quota_resets=period_bounds(period, now)[1] if has_quota else None,
    )


def _entries(groups: dict[str, list[float]]) -> list[UsageEntry]:
    entries = [
        UsageEntry(name=name, runs=len(seconds), hours=_hours(sum(seconds)))
        for name, seconds in groups.items()
    ]
    return sorted(entries, key=lambda e: (-e.hours, e.name))

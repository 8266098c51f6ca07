"""Work pools: create, inspect, pause, limit, delete; status from worker heartbeats."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from types import EllipsisType
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from nborch.errors import AlreadyExistsError, ConflictError, ValidationError
from nborch.jobs import (
    check_template_defaults,
    default_base_job_template,
    validate_base_job_template,
)
from nborch.models import ACTIVE_STATES, PoolStatus, PoolType, QuotaPeriod, WorkPool
from nborch.orchestration.lookup import DEFAULT_QUEUE, pool_by_name
from nborch.orchestration.names import check_name
from nborch.orchestration.quotas import check_quota_hours, parse_quota_period
from nborch.settings import get_settings
from nborch.store.engine import Store
from nborch.store.tables import DeploymentRow, FlowRunRow, WorkerRow, WorkPoolRow, WorkQueueRow
from nborch.store.wakeups import wake_pool
from nborch.timeutil import utcnow


def parse_pool_type(value: str | PoolType) -> PoolType:
    try:
        return PoolType(value)
    except ValueError:
        choices = ", ".join(t.value for t in PoolType)
        raise ValidationError(
            f"Unknown work pool type '{value}'. Choose one of: {choices}"
        ) from None


def check_limit(limit: int | None, owner: str) -> int | None:
    if limit is not None and (not isinstance(limit, int) or limit < 0):
        raise ValidationError(
            f"Concurrency limit of {owner} must be a whole number >= 0, got {limit!r}."
        )
    return limit


def create_pool(
    store: Store,
    name: str,
    type: str | PoolType = PoolType.PROCESS,
    *,
    description: str = "",
    base_job_template: dict[str, Any] | None = None,
    concurrency_limit: int | None = None,
    paused: bool = False,
    quota_hours: float | None = None,
    quota_period: str | QuotaPeriod = QuotaPeriod.MONTH,
) -> WorkPool:
    """A pool with its default queue; `quota_hours` caps its runs' compute hours per
    `quota_period` (day, week or month, UTC)."""
    check_name("Work pool", name)
    pool_type = parse_pool_type(type)
    if pool_type is PoolType.KUBERNETES:
        raise ValidationError(
            "Work pools of type 'kubernetes' cannot be created in this version: nborch renders "
            "a Kubernetes Job per run from the kubernetes base job template (nborch work-pool "
            "get-default-base-job-template --type kubernetes), but no cluster could run where "
            "nborch is tested, so nothing submits those Jobs yet. Use a docker-swarm or dask "
            "pool, or a docker pool with a worker on each node."
        )
    owner = f"work pool '{name}'"
    quota_hours = check_quota_hours(quota_hours, owner)
    period = parse_quota_period(quota_period)
    template = (
        validate_base_job_template(base_job_template, owner)
        if base_job_template is not None
        else default_base_job_template(pool_type)
    )
    check_template_defaults(template, pool_type, owner)
    check_limit(concurrency_limit, owner)
    try:
        with store.write() as session:
            row = WorkPoolRow(
                id=str(uuid.uuid4()),
                name=name,
                type=pool_type.value,
                description=description,
                base_job_template=template,
                concurrency_limit=concurrency_limit,
                paused=paused,
                created=utcnow(),
                quota_hours=quota_hours,
                quota_period=period.value,
            )
            session.add(row)
            session.flush()
            session.add(
                WorkQueueRow(
                    id=str(uuid.uuid4()),
                    pool_id=row.id,
                    name=DEFAULT_QUEUE,
                    priority=1,
                    concurrency_limit=None,
                    paused=False,
                    description="The pool's default queue",
                )
            )
    except IntegrityError:
        raise AlreadyExistsError(
            f"Work pool '{name}' already exists. Inspect it with: nborch work-pool inspect {name}"
        ) from None
    return get_pool(store, name)


def _status(row: WorkPoolRow, workers_online: int) -> PoolStatus:
    if row.paused:
        return PoolStatus.PAUSED
    return PoolStatus.READY if workers_online else PoolStatus.NOT_READY


def _online_since(now: datetime | None) -> datetime:
    return (now or utcnow()) - timedelta(seconds=get_settings().worker_timeout)


def list_pools(store: Store, *, now: datetime | None = None) -> list[WorkPool]:
    """Every pool with its status, runs holding a slot, and workers online."""
    with store.read() as session:
        rows = session.scalars(select(WorkPoolRow).order_by(WorkPoolRow.name)).all()
        online = dict(
            session.execute(
                select(WorkerRow.pool_id, func.count())
                .where(WorkerRow.last_heartbeat >= _online_since(now), ~WorkerRow.stopped)
                .group_by(WorkerRow.pool_id)
            ).all()
        )
        active = dict(
            session.execute(
                select(FlowRunRow.pool_id, func.count())
                .where(FlowRunRow.state.in_([s.value for s in ACTIVE_STATES]))
                .group_by(FlowRunRow.pool_id)
            ).all()
        )
    return [_to_model(row, online.get(row.id, 0), active.get(row.id, 0)) for row in rows]


def _to_model(row: WorkPoolRow, workers_online: int, active_runs: int) -> WorkPool:
    return WorkPool(
        id=uuid.UUID(row.id),
        name=row.name,
        type=PoolType(row.type),
        description=row.description,
        base_job_template=row.base_job_template,
        concurrency_limit=row.concurrency_limit,
        paused=row.paused,
        status=_status(row, workers_online),
        created=row.created,
        quota_hours=row.quota_hours,
        quota_period=QuotaPeriod(row.quota_period),
        active_runs=active_runs,
        workers_online=workers_online,
    )


def get_pool(store: Store, name: str, *, now: datetime | None = None) -> WorkPool:
    with store.read() as session:
        row = pool_by_name(session, name)
        workers_online = session.scalar(
            select(func.count())
            .select_from(WorkerRow)
            .where(
                WorkerRow.pool_id == row.id,
                WorkerRow.last_heartbeat >= _online_since(now),
                ~WorkerRow.stopped,
            )
        )
        active_runs = session.scalar(
            select(func.count())
            .select_from(FlowRunRow)
            .where(
                FlowRunRow.pool_id == row.id,
                FlowRunRow.state.in_([s.value for s in ACTIVE_STATES]),
            )
        )
        return _to_model(row, workers_online or 0, active_runs or 0)


def update_pool(
    store: Store,
    name: str,
    *,
    paused: bool | None = None,
    concurrency_limit: int | None | EllipsisType = ...,
    description: str | None = None,
    base_job_template: dict[str, Any] | None = None,
    quota_hours: float | None | EllipsisType = ...,
    quota_period: str | QuotaPeriod | None = None,
) -> WorkPool:
    """Change what is given; `concurrency_limit=None` clears the limit and `quota_hours=None`
    the quota, `...` leaves them."""
    owner = f"work pool '{name}'"
    if base_job_template is not None:
        validate_base_job_template(base_job_template, owner)
    if concurrency_limit is not ...:
        check_limit(concurrency_limit, owner)
    if quota_hours is not ...:
        quota_hours = check_quota_hours(quota_hours, owner)
    period = parse_quota_period(quota_period) if quota_period is not None else None
    with store.write() as session:
        row = pool_by_name(session, name, for_update=True)
        if paused is not None:
            row.paused = paused
        if paused is False or concurrency_limit is not ...:
            wake_pool(session, row.id)  # its waiting runs may start now
        if concurrency_limit is not ...:
            row.concurrency_limit = concurrency_limit
        if description is not None:
            row.description = description
        if base_job_template is not None:
            check_template_defaults(base_job_template, PoolType(row.type), owner)
            row.base_job_template = base_job_template
        if quota_hours is not ...:
            row.quota_hours = quota_hours
        if period is not None:
            row.quota_period = period.value
    return get_pool(store, name)


def delete_pool(store: Store, name: str) -> None:
    """Delete a pool and its queues; refused while deployments still point at it."""
    with store.write() as session:
        row = pool_by_name(session, name, for_update=True)
        deployments = session.scalar(
            select(func.count()).select_from(DeploymentRow).where(DeploymentRow.pool_id == row.id)
        )
        if deployments:
            raise ConflictError(
                f"Work pool '{name}' still has {deployments} deployment(s). Delete them first "
                f"(nborch deployment ls shows them), then: nborch work-pool delete {name}"
            )
        session.delete(row)

"""Deployments: a flow's notebook, where it runs (pool, queue, job variables) and its
defaults. Deploying the same `flow/name` again updates it in place."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from nborch.errors import ConflictError, ValidationError
from nborch.jobs import validate_job_variables
from nborch.models import (
    ACTIVE_STATES,
    WAITING_STATES,
    CatchUp,
    Deployment,
    DeploymentSpec,
    ParameterSpec,
    Schedule,
)
from nborch.orchestration.lookup import (
    DEFAULT_QUEUE,
    deployment_by_name,
    pool_by_name,
    queue_by_name,
)
from nborch.orchestration.names import check_name
from nborch.orchestration.pools import check_limit
from nborch.orchestration.run_policy import check_run_policy, policy_of, store_policy
from nborch.orchestration.schedules import (
    check_schedule,
    replace_schedules,
    restart_schedules,
    schedules_of,
)
from nborch.orchestration.secrets import require_secrets
from nborch.parameters import check_parameter_specs, validate_parameters
from nborch.store.engine import Store
from nborch.store.tables import DeploymentRow, FlowRow, FlowRunRow, WorkPoolRow, WorkQueueRow
from nborch.store.wakeups import wake_pool
from nborch.timeutil import utcnow


def ensure_flow(session: Any, flow_name: str) -> FlowRow:
    check_name("Flow", flow_name)
    flow = session.scalars(select(FlowRow).where(FlowRow.name == flow_name)).one_or_none()
    if flow is None:
        flow = FlowRow(id=str(uuid.uuid4()), name=flow_name, created=utcnow())
        session.add(flow)
        session.flush()
    return flow


def apply_deployment(store: Store, spec: DeploymentSpec) -> tuple[Deployment, bool]:
    """Create or update `flow/name`; returns it and whether it was created."""
    full_name = f"{spec.flow_name}/{spec.name}"
    check_name("Deployment", spec.name)
    owner = f"deployment '{full_name}'"
    check_parameter_specs(spec.parameter_specs, owner)
    validate_parameters(spec.parameter_specs, spec.parameters, owner)
    check_limit(spec.concurrency_limit, owner)
    if not isinstance(spec.retries, int) or spec.retries < 0:
        raise ValidationError(f"Retries of {owner} must be a whole number >= 0.")
    policy = check_run_policy(spec, owner)
    schedules = (
        None
        if spec.schedules is None
        else [check_schedule(s, spec.parameter_specs, owner) for s in spec.schedules]
    )
    if schedules and not spec.pool_name:
        raise ValidationError(
            f"Schedules of {owner} need a work pool whose workers run them. Add --pool NAME."
        )
    now = utcnow()
    with store.write() as session:
        require_secrets(
            session,
            spec.parameters,
            spec.job_variables,
            *(schedule.parameters for schedule in schedules or ()),
            owner=owner,
        )
        pool_id = queue_id = None
        if spec.pool_name:
            pool = pool_by_name(session, spec.pool_name)
            validate_job_variables(
                pool.base_job_template, spec.job_variables, owner=f"work pool '{pool.name}'"
            )
            queue = queue_by_name(session, pool, spec.queue_name or DEFAULT_QUEUE)
            pool_id, queue_id = pool.id, queue.id
        elif spec.job_variables:
            raise ValidationError(
                f"Job variables of {owner} need a work pool to check them against. Add --pool NAME."
            )
        flow = ensure_flow(session, spec.flow_name)
        row = session.scalars(
            select(DeploymentRow).where(
                DeploymentRow.flow_id == flow.id, DeploymentRow.name == spec.name
            )
        ).one_or_none()
        created = row is None
        if row is None:
            row = DeploymentRow(id=str(uuid.uuid4()), flow_id=flow.id, name=spec.name, created=now)
            session.add(row)
        row.source = spec.source
        row.entrypoint = spec.entrypoint
        row.parameter_specs = [p.model_dump(mode="json") for p in spec.parameter_specs]
        row.parameters = spec.parameters
        row.pool_id = pool_id
        row.queue_id = queue_id
        row.job_variables = spec.job_variables
        row.tags = list(spec.tags)
        row.description = spec.description
        row.version = spec.version
        row.concurrency_limit = spec.concurrency_limit
        row.retries = spec.retries
        store_policy(row, policy)
        row.catch_up = CatchUp(spec.catch_up).value
        if row.paused != spec.paused and not created:
            restart_schedules(session, row.id)
        row.paused = spec.paused
        row.updated = now
        session.flush()
        if schedules is not None:
            replace_schedules(session, row, schedules, now)
    return get_deployment(store, full_name), created


def _to_model(
    row: DeploymentRow,
    flow_name: str,
    pool_name: str | None,
    queue_name: str | None,
    schedules: list[Schedule],
) -> Deployment:
    return Deployment(
        id=uuid.UUID(row.id),
        flow_name=flow_name,
        name=row.name,
        source=row.source,
        entrypoint=row.entrypoint,
        parameter_specs=[ParameterSpec.model_validate(p) for p in row.parameter_specs],
        parameters=row.parameters,
        pool_name=pool_name,
        queue_name=queue_name,
        job_variables=row.job_variables,
        tags=row.tags,
        description=row.description,
        version=row.version,
        paused=row.paused,
        concurrency_limit=row.concurrency_limit,
        retries=row.retries,
        **policy_of(row),
        catch_up=CatchUp(row.catch_up),
        schedules=schedules,
        created=row.created,
        updated=row.updated,
    )


def _with_schedules(session: Session, found: Sequence[Any]) -> list[Deployment]:
    """`found`: rows of (deployment, flow name, pool name, queue name)."""
    names = {row[0].id: f"{row[1]}/{row[0].name}" for row in found}
    schedules = schedules_of(session, list(names), names)
    return [
        _to_model(row[0], row[1], row[2], row[3], schedules.get(row[0].id, [])) for row in found
    ]


def _query():  # type: ignore[no-untyped-def]
    return (
        select(DeploymentRow, FlowRow.name, WorkPoolRow.name, WorkQueueRow.name)
        .join(FlowRow, DeploymentRow.flow_id == FlowRow.id)
        .outerjoin(WorkPoolRow, DeploymentRow.pool_id == WorkPoolRow.id)
        .outerjoin(WorkQueueRow, DeploymentRow.queue_id == WorkQueueRow.id)
    )


def get_deployment(store: Store, full_name: str) -> Deployment:
    with store.read() as session:
        row, _flow = deployment_by_name(session, full_name)
        found = session.execute(_query().where(DeploymentRow.id == row.id)).all()
        return _with_schedules(session, found)[0]


def list_deployments(
    store: Store, *, pool_name: str | None = None, flow_name: str | None = None
) -> list[Deployment]:
    with store.read() as session:
        query = _query().order_by(FlowRow.name, DeploymentRow.name)
        if pool_name:
            query = query.where(DeploymentRow.pool_id == pool_by_name(session, pool_name).id)
        if flow_name:
            query = query.where(FlowRow.name == flow_name)
        return _with_schedules(session, session.execute(query).all())


def set_deployment_paused(store: Store, full_name: str, paused: bool) -> Deployment:
    with store.write() as session:
        row, _flow = deployment_by_name(session, full_name)
        if row.paused != paused:
            restart_schedules(session, row.id)
        row.paused = paused
        if not paused:
            wake_pool(session, row.pool_id)  # its waiting runs may start now
        row.updated = utcnow()
    return get_deployment(store, full_name)


def delete_deployment(store: Store, full_name: str) -> None:
    """Delete a deployment and its runs that have not started; refused while it has runs
    in progress (cancel them first). Finished runs are kept, for their outputs."""
    with store.write() as session:
        row, _flow = deployment_by_name(session, full_name)
        active = session.scalar(
            select(func.count())
            .select_from(FlowRunRow)
            .where(
                FlowRunRow.deployment_id == row.id,
                FlowRunRow.state.in_([s.value for s in ACTIVE_STATES]),
            )
        )
        if active:
            raise ConflictError(
                f"Deployment '{full_name}' has {active} run(s) in progress. Cancel them with "
                "nborch flow-run cancel ID, then delete it."
            )
        session.execute(
            delete(FlowRunRow).where(
                FlowRunRow.deployment_id == row.id,
                FlowRunRow.state.in_([s.value for s in WAITING_STATES]),
            )
        )
        session.delete(row)

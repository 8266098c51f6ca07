"""Flow runs: creation (parameters and job variables checked first), the state machine,
cancellation and retries. Claims are in `claims`, logs in `run_logs`, who holds a run in
`fencing`, runs of silent workers in `crash_detection`.

    SCHEDULED → (LATE) → PENDING → RUNNING → COMPLETED | FAILED | CRASHED
                            │         └──→ CANCELLING → CANCELLED
                            └──────────→ CANCELLING / CANCELLED
    FAILED / CRASHED → SCHEDULED again while the run has retries left.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from nborch.errors import ConflictError, ValidationError
from nborch.jobs import validate_job_variables
from nborch.models import (
    ACTIVE_STATES,
    WAITING_STATES,
    CellFailure,
    FlowRun,
    ParameterSpec,
    RetryOn,
    RunPolicy,
    State,
    StateType,
)
from nborch.orchestration.alert_events import queue_alerts
from nborch.orchestration.deployments import ensure_flow
from nborch.orchestration.fencing import held_for_its_worker, held_run
from nborch.orchestration.lookup import deployment_by_name, pool_by_name, run_by_id
from nborch.orchestration.quotas import refuse_over_quota
from nborch.orchestration.run_policy import (
    check_run_policy,
    ending_kind,
    planned_retry,
    policy_of,
    run_policy,
    store_policy,
)
from nborch.orchestration.secrets import require_secrets
from nborch.parameters import check_parameter, validate_parameters
from nborch.settings import get_settings
from nborch.sources import notebook_location
from nborch.store.engine import Store
from nborch.store.tables import (
    DeploymentRow,
    FlowRow,
    FlowRunRow,
    FlowRunStateRow,
    WorkerRow,
    WorkPoolRow,
    WorkQueueRow,
)
from nborch.store.wakeups import wake_pool
from nborch.timeutil import utcnow

S = StateType
ALLOWED_TRANSITIONS: dict[StateType, frozenset[StateType]] = {
    S.SCHEDULED: frozenset({S.PENDING, S.LATE, S.CANCELLED}),
    S.LATE: frozenset({S.PENDING, S.CANCELLED}),
    S.PENDING: frozenset({S.RUNNING, S.SCHEDULED, S.CANCELLING, S.CANCELLED, S.FAILED, S.CRASHED}),
    S.RUNNING: frozenset({S.COMPLETED, S.FAILED, S.CRASHED, S.CANCELLING, S.SCHEDULED}),
    # A run may finish on its own while its cancellation is on the way.
    S.CANCELLING: frozenset({S.CANCELLED, S.COMPLETED, S.FAILED, S.CRASHED}),
    S.COMPLETED: frozenset(),
    S.FAILED: frozenset(),
    S.CRASHED: frozenset(),
    S.CANCELLED: frozenset(),
}
ACTIVE = [s.value for s in ACTIVE_STATES]
WAITING = [s.value for s in WAITING_STATES]


# ---- reading -------------------------------------------------------------------------


def _runs_query():  # type: ignore[no-untyped-def]
    return (
        select(
            FlowRunRow,
            FlowRow.name,
            DeploymentRow.name,
            WorkPoolRow.name,
            WorkQueueRow.name,
            WorkerRow.name,
            DeploymentRow.source,
        )
        .join(FlowRow, FlowRunRow.flow_id == FlowRow.id)
        .outerjoin(DeploymentRow, FlowRunRow.deployment_id == DeploymentRow.id)
        .outerjoin(WorkPoolRow, FlowRunRow.pool_id == WorkPoolRow.id)
        .outerjoin(WorkQueueRow, FlowRunRow.queue_id == WorkQueueRow.id)
        .outerjoin(WorkerRow, FlowRunRow.worker_id == WorkerRow.id)
    )


def _to_model(
    row: FlowRunRow,
    flow: str,
    deployment: str | None,
    pool: str | None,
    queue: str | None,
    worker: str | None,
    source: str | None,
    history: Sequence[FlowRunStateRow] = (),
) -> FlowRun:
    return FlowRun(
        id=uuid.UUID(row.id),
        name=row.name,
        flow_name=flow,
        deployment_id=uuid.UUID(row.deployment_id) if row.deployment_id else None,
        deployment_name=f"{flow}/{deployment}" if deployment else None,
        pool_name=pool,
        queue_name=queue,
        worker_id=uuid.UUID(row.worker_id) if row.worker_id else None,
        worker_name=worker,
        schedule_id=uuid.UUID(row.schedule_id) if row.schedule_id else None,
        state=StateType(row.state),
        state_message=row.state_message,
        parameters=row.parameters,
        job_variables=row.job_variables,
        source=source,
        source_commit=row.source_commit,
        input_path=row.input_path,
        cwd=row.cwd,
        output_path=row.output_path,
        infrastructure_id=row.infrastructure_id,
        failure=CellFailure.model_validate(row.failure) if row.failure else None,
        run_count=row.run_count,
        retries=row.retries,
        **policy_of(row),
        attempt=row.attempt,
        tags=row.tags,
        scheduled_time=row.scheduled_time,
        start_time=row.start_time,
        end_time=row.end_time,
        created=row.created,
        created_by=row.created_by,
        history=[
            State(type=StateType(h.type), timestamp=h.timestamp, message=h.message) for h in history
        ],
    )


def load_runs(session: Session, run_ids: Sequence[str], with_history: bool) -> list[FlowRun]:
    """The runs with these ids, as models, in the order given."""
    if not run_ids:
        return []
    found = {r[0].id: r for r in session.execute(_runs_query().where(FlowRunRow.id.in_(run_ids)))}
    histories: dict[str, list[FlowRunStateRow]] = {}
    if with_history:
        for state in session.scalars(
            select(FlowRunStateRow)
            .where(FlowRunStateRow.run_id.in_(run_ids))
            .order_by(FlowRunStateRow.id)
        ):
            histories.setdefault(state.run_id, []).append(state)
    models = []
    for run_id in run_ids:
        if run_id in found:
            row, flow, deployment, pool, queue, worker, source = found[run_id]
            models.append(
                _to_model(
                    row, flow, deployment, pool, queue, worker, source, histories.get(run_id, [])
                )
            )
    return models


def get_run(store: Store, run_id: str | uuid.UUID) -> FlowRun:
    with store.read() as session:
        row = run_by_id(session, str(run_id))
        return load_runs(session, [row.id], with_history=True)[0]


def list_runs(
    store: Store,
    *,
    deployment: str | None = None,
    pool_name: str | None = None,
    states: Sequence[StateType] = (),
    limit: int = 50,
) -> list[FlowRun]:
    """Newest first."""
    with store.read() as session:
        query = select(FlowRunRow.id).order_by(FlowRunRow.created.desc()).limit(limit)
        if deployment:
            query = query.where(
                FlowRunRow.deployment_id == deployment_by_name(session, deployment)[0].id
            )
        if pool_name:
            query = query.where(FlowRunRow.pool_id == pool_by_name(session, pool_name).id)
        if states:
            query = query.where(FlowRunRow.state.in_([s.value for s in states]))
        return load_runs(session, list(session.scalars(query)), with_history=False)


# ---- creating ------------------------------------------------------------------------


def _run_name(prefix: str, run_id: str) -> str:
    return f"{prefix}-{run_id[:8]}"


def output_path_for(run_id: str) -> str:
    # A plain string join: the scheduler calls this for every run it makes.
    return os.path.join(get_settings().runs_dir, run_id, "output.ipynb")


def _add_state(
    session: Session, row: FlowRunRow, state: StateType, message: str, now: datetime
) -> None:
    row.state = state.value
    row.state_message = message
    session.add(FlowRunStateRow(run_id=row.id, type=state.value, message=message, timestamp=now))


def create_run(
    store: Store,
    deployment: str,
    *,
    parameters: dict[str, Any] | None = None,
    job_variables: dict[str, Any] | None = None,
    scheduled_time: datetime | None = None,
    tags: Sequence[str] = (),
    created_by: str | None = None,
    timeout_seconds: float | None = None,
    retries: int | None = None,
    retry_delay_seconds: float | None = None,
    retry_backoff: float | None = None,
    retry_on: Sequence[RetryOn] | None = None,
) -> FlowRun:
    """A SCHEDULED run of `flow/deployment`; refused, with nothing stored, on bad input.
    `created_by` says who asked for it (see `FlowRun.created_by`). The run policy's values
    (`timeout_seconds`, `retries`, ...) given here are this run's; those left None are the
    deployment's."""
    parameters = dict(parameters or {})
    job_variables = dict(job_variables or {})
    now = utcnow()
    with store.write() as session:
        dep, flow = deployment_by_name(session, deployment)
        owner = f"deployment '{deployment}'"
        if retries is not None and retries < 0:
            raise ValidationError(f"Retries of a run of {owner} must be a whole number >= 0.")
        policy = run_policy(
            dep,
            f"a run of {owner}",
            timeout_seconds=timeout_seconds,
            retry_delay_seconds=retry_delay_seconds,
            retry_backoff=retry_backoff,
            retry_on=retry_on,
        )
        specs = [ParameterSpec.model_validate(p) for p in dep.parameter_specs]
        validate_parameters(specs, parameters, owner)
        require_secrets(
            session,
            {**dep.parameters, **parameters},
            {**dep.job_variables, **job_variables},
            owner=owner,
        )
        if dep.pool_id is None:
            raise ValidationError(
                f"Deployment '{deployment}' has no work pool, so no worker would run it. "
                f"Redeploy it with --pool NAME."
            )
        pool = session.get(WorkPoolRow, dep.pool_id)
        assert pool is not None
        refuse_over_quota(session, pool, now)
        validate_job_variables(
            pool.base_job_template,
            dep.job_variables,
            job_variables,
            owner=f"work pool '{pool.name}'",
        )
        run_id = str(uuid.uuid4())
        input_path, cwd = notebook_location(dep.source, dep.entrypoint)
        row = FlowRunRow(
            id=run_id,
            name=_run_name(dep.name, run_id),
            flow_id=flow.id,
            deployment_id=dep.id,
            pool_id=dep.pool_id,
            queue_id=dep.queue_id,
            parameters={**dep.parameters, **parameters},
            job_variables={**dep.job_variables, **job_variables},
            input_path=input_path,
            cwd=cwd,
            output_path=output_path_for(run_id),
            run_count=0,
            retries=dep.retries if retries is None else retries,
            tags=sorted({*dep.tags, *tags}),
            scheduled_time=scheduled_time or now,
            created=now,
            created_by=created_by,
        )
        store_policy(row, policy)
        session.add(row)
        _add_state(session, row, S.SCHEDULED, "", now)
        wake_pool(session, row.pool_id)
        session.flush()
        return load_runs(session, [run_id], with_history=True)[0]


def create_adhoc_run(
    store: Store,
    flow_name: str,
    input_path: str,
    *,
    parameters: dict[str, Any],
    job_variables: dict[str, Any],
    output_path: str | None,
    cwd: str | None,
    worker_id: uuid.UUID,
    tags: Sequence[str] = (),
    created_by: str | None = None,
    timeout_seconds: float | None = None,
) -> FlowRun:
    """A run with no deployment, already PENDING in the hands of `worker_id` (`nborch run`);
    `created_by` says who started it; past `timeout_seconds`, its worker stops it."""
    now = utcnow()
    for name, value in parameters.items():
        check_parameter(name, value, f"flow '{flow_name}'")
    policy = check_run_policy(RunPolicy(timeout_seconds=timeout_seconds), f"flow '{flow_name}'")
    with store.write() as session:
        require_secrets(session, parameters, job_variables, owner=f"flow '{flow_name}'")
        flow = ensure_flow(session, flow_name)
        run_id = str(uuid.uuid4())
        row = FlowRunRow(
            id=run_id,
            name=_run_name(flow_name, run_id),
            flow_id=flow.id,
            worker_id=str(worker_id),
            parameters=parameters,
            job_variables=job_variables,
            input_path=input_path,
            cwd=cwd,
            output_path=output_path or output_path_for(run_id),
            run_count=0,
            retries=0,
            attempt=1,  # in its worker's hands from the start
            tags=list(tags),
            scheduled_time=now,
            created=now,
            created_by=created_by,
        )
        store_policy(row, policy)
        session.add(row)
        _add_state(session, row, S.SCHEDULED, "", now)
        _add_state(session, row, S.PENDING, "Started by nborch run", now)
        session.flush()
        return load_runs(session, [run_id], with_history=True)[0]


# ---- state changes -------------------------------------------------------------------


def set_state(
    store: Store,
    run_id: str | uuid.UUID,
    state: StateType,
    message: str = "",
    *,
    failure: CellFailure | None = None,
    attempt: int | None = None,
    timed_out: bool = False,
) -> FlowRun:
    """Move a run to `state`, storing the change with its time; refuses illegal moves, and
    a worker's move once its `attempt` no longer holds the run (`nborch.orchestration.fencing`).
    `timed_out`: a FAILED run ended by its timeout (retried only on `timeout`)."""
    now = utcnow()
    with store.write() as session:
        row = held_run(session, run_id, attempt, for_update=True)
        if attempt is not None and state.is_final and held_for_its_worker(row):
            # The worker taken for silent is back with its attempt's end: its word replaces
            # the verdict, and the retry held for it is dropped (or made due, if it failed).
            row.state, row.start_time = S.RUNNING.value, None
            message = f"{message} (reported after its worker was out of touch)".lstrip()
        transition(session, row, state, message, now, timed_out=timed_out)
        if failure is not None:
            row.failure = failure.model_dump(mode="json")
        session.flush()
        return load_runs(session, [row.id], with_history=True)[0]


def transition(
    session: Session,
    row: FlowRunRow,
    state: StateType,
    message: str,
    now: datetime,
    *,
    worker_vanished: bool = False,
    timed_out: bool = False,
    hold: float = 0.0,
) -> None:
    """Move the run to `state` (refused when not allowed), with its history, alerts and,
    on FAILED or CRASHED, its retry. `hold`: the retry waits at least that many seconds,
    held for the attempt's worker in case it comes back with the run's end (`hold_for`)."""
    current = StateType(row.state)
    if state not in ALLOWED_TRANSITIONS[current]:
        raise ConflictError(
            f"Flow run '{row.id}' is {current.value} and cannot become {state.value}."
        )
    if current is S.RUNNING and row.start_time is not None:
        # An attempt's compute time ends here (cancelling: when it was asked for).
        ran = (now - row.start_time).total_seconds()
        row.compute_seconds = (row.compute_seconds or 0.0) + max(ran, 0.0)
    if state is S.RUNNING:
        row.run_count += 1
        row.start_time = now
        row.end_time = None
        row.failure = None
    if state is S.SCHEDULED:  # released by its worker: another may claim it
        row.worker_id = None
        row.scheduled_time = now
        wake_pool(session, row.pool_id)
    _add_state(session, row, state, message, now)
    queue_alerts(session, row, state, message, now)  # in this transaction: never lost
    if state.is_final:
        row.end_time = now
    if state in (S.FAILED, S.CRASHED):
        _retry_if_allowed(session, row, current, message, now, worker_vanished, timed_out, hold)


def _retry_if_allowed(
    session: Session,
    row: FlowRunRow,
    previous: StateType,
    reason: str,
    now: datetime,
    worker_vanished: bool,
    timed_out: bool,
    hold: float = 0.0,
) -> None:
    """Schedule the run again when its policy retries this ending and it has retries left,
    as late as the policy says (`nborch.orchestration.run_policy`)."""
    if previous is S.PENDING and worker_vanished:
        hold = 0.0  # it never ran: another worker may take it at once
        when, message = now, f"Rescheduled: {reason}"
    else:
        if previous is S.PENDING:
            row.run_count += 1  # its worker could not start it: that was an attempt
        retry = planned_retry(row, ending_kind(StateType(row.state), timed_out), reason, now)
        if retry is None:
            return
        when, message = retry
        if hold > 0 and when < now + timedelta(seconds=hold):
            when = now + timedelta(seconds=hold)
            message = (
                f"Retry {row.run_count} of {row.retries} held until "
                f"{when:%Y-%m-%d %H:%M:%S} UTC, in case its worker comes back with the "
                f"run's end, after CRASHED: {reason}"
            )
    if hold <= 0:
        row.worker_id = None  # kept while held: that worker's word on the attempt counts
    row.end_time = None
    row.scheduled_time = when
    _add_state(session, row, S.SCHEDULED, message, now)
    wake_pool(session, row.pool_id)


def record_source_commit(
    store: Store, run_id: str | uuid.UUID, commit: str, *, attempt: int | None = None
) -> None:
    """The commit of a git source that the run was checked out at."""
    with store.write() as session:
        held_run(session, run_id, attempt, for_update=True).source_commit = commit


def record_infrastructure(
    store: Store, run_id: str | uuid.UUID, infrastructure_id: str, *, attempt: int | None = None
) -> None:
    """Remember what runs the run (a pid, a container id), for people and reconciliation."""
    with store.write() as session:
        held_run(session, run_id, attempt, for_update=True).infrastructure_id = infrastructure_id


def take_over_run(
    store: Store,
    run_id: str | uuid.UUID,
    worker_id: uuid.UUID,
    *,
    from_worker_id: uuid.UUID | None,
) -> FlowRun:
    """Hand an active run whose worker is gone to `worker_id`, which settles what the other
    left behind (e.g. its container). Exactly one taker wins: refused when the run has ended
    or is no longer held by `from_worker_id`."""
    with store.write() as session:
        row = run_by_id(session, str(run_id), for_update=True)
        expected = str(from_worker_id) if from_worker_id else None
        if row.state not in ACTIVE or row.worker_id != expected:
            raise ConflictError(
                f"Flow run '{row.id}' is {row.state} and held by worker '{row.worker_id}': "
                f"it cannot be taken over from worker '{from_worker_id}'."
            )
        row.worker_id = str(worker_id)
        row.attempt += 1  # the worker that left it can write about it no more
        session.flush()
        return load_runs(session, [row.id], with_history=True)[0]


def cancel_run(store: Store, run_id: str | uuid.UUID) -> FlowRun:
    """A run not yet claimed is CANCELLED at once; one in a worker's hands goes to
    CANCELLING, and its worker stops the infrastructure and reports CANCELLED."""
    now = utcnow()
    with store.write() as session:
        row = run_by_id(session, str(run_id), for_update=True)
        current = StateType(row.state)
        if current.is_final:
            raise ConflictError(
                f"Flow run '{row.id}' is already {current.value}; nothing to cancel."
            )
        if current is S.CANCELLING:
            pass
        elif current in WAITING_STATES:
            transition(session, row, S.CANCELLED, "Cancelled before it started", now)
        else:
            transition(session, row, S.CANCELLING, "Cancellation requested", now)
        session.flush()
        return load_runs(session, [row.id], with_history=True)[0]

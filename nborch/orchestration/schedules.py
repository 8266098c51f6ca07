"""A deployment's schedules: checked when created, and their unstarted runs removed when
they change, pause or go."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from nborch.errors import NotFoundError, ValidationError
from nborch.models import WAITING_STATES, ParameterSpec, Schedule, ScheduleSpec
from nborch.orchestration.lookup import deployment_by_name
from nborch.orchestration.secrets import require_secrets
from nborch.orchestration.timetables import check_cron, check_timezone
from nborch.parameters import validate_parameters
from nborch.store.engine import Store
from nborch.store.tables import DeploymentRow, FlowRunRow, ScheduleRow
from nborch.timeutil import time_problem, utcnow

MIN_INTERVAL_SECONDS = 1.0
MAX_INTERVAL_SECONDS = 10 * 366 * 24 * 3600.0  # ten years


def check_schedule(
    spec: ScheduleSpec, parameter_specs: Sequence[ParameterSpec], owner: str
) -> ScheduleSpec:
    """The schedule with its cron normalised, or a ValidationError saying what is wrong."""
    if (spec.cron is None) == (spec.interval_seconds is None):
        raise ValidationError(
            f"A schedule of {owner} needs either a cron expression or an interval, not "
            "both or neither. Example: --cron '0 1 * * *' or --interval 3600"
        )
    check_timezone(spec.timezone)
    interval = spec.interval_seconds
    if interval is not None and not MIN_INTERVAL_SECONDS <= interval <= MAX_INTERVAL_SECONDS:
        how = "too short" if interval < MIN_INTERVAL_SECONDS else "too long or not a number"
        raise ValidationError(
            f"Interval {interval:g} s of a schedule of {owner} is {how}: use "
            f"{MIN_INTERVAL_SECONDS:g} s to {MAX_INTERVAL_SECONDS:.0f} s (ten years)."
        )
    if spec.anchor_date is not None:
        # An anchor without an offset is in the schedule's time zone, so it may be naive.
        problem = time_problem(spec.anchor_date, needs_zone=False)
        if problem:
            raise ValidationError(f"Anchor of a schedule of {owner}: {problem}.")
        if spec.anchor_date.tzinfo is None:  # read in the schedule's time zone
            zone = check_timezone(spec.timezone)
            spec = spec.model_copy(update={"anchor_date": spec.anchor_date.replace(tzinfo=zone)})
    validate_parameters(parameter_specs, spec.parameters, f"a schedule of {owner}")
    cron = check_cron(spec.cron) if spec.cron is not None else None
    return spec.model_copy(update={"cron": cron})


def _same(row: ScheduleRow, spec: ScheduleSpec) -> bool:
    """Is `row` the schedule `spec` asks for? (An interval given without an anchor keeps
    the anchor it got when first deployed.)"""
    return (
        row.cron == spec.cron
        and row.interval_seconds == spec.interval_seconds
        and (spec.anchor_date is None or row.anchor_date == spec.anchor_date)
        and row.timezone == spec.timezone
        and row.parameters == spec.parameters
        and row.active == spec.active
    )


def _to_row(deployment_id: str, spec: ScheduleSpec, now: datetime) -> ScheduleRow:
    anchor = spec.anchor_date if spec.interval_seconds is not None else None
    return ScheduleRow(
        id=str(uuid.uuid4()),
        deployment_id=deployment_id,
        cron=spec.cron,
        interval_seconds=spec.interval_seconds,
        anchor_date=anchor or (now if spec.interval_seconds is not None else None),
        timezone=spec.timezone,
        parameters=spec.parameters,
        active=spec.active,
        next_slot=None,
        created=now,
    )


def drop_unstarted_runs(session: Session, schedule_ids: Sequence[str]) -> None:
    """Runs a schedule made that nobody started: they go with the schedule's old form."""
    if schedule_ids:
        session.execute(
            delete(FlowRunRow).where(
                FlowRunRow.schedule_id.in_(schedule_ids),
                FlowRunRow.state.in_([s.value for s in WAITING_STATES]),
            )
        )


def replace_schedules(
    session: Session, deployment: DeploymentRow, specs: Sequence[ScheduleSpec], now: datetime
) -> None:
    """Make the deployment's schedules exactly `specs` (checked already); schedules that
    stay the same keep their runs."""
    unmatched = list(
        session.scalars(select(ScheduleRow).where(ScheduleRow.deployment_id == deployment.id))
    )
    for spec in specs:
        match = next((row for row in unmatched if _same(row, spec)), None)
        if match is not None:
            unmatched.remove(match)
        else:
            session.add(_to_row(deployment.id, spec, now))
    drop_unstarted_runs(session, [row.id for row in unmatched])
    for row in unmatched:
        session.delete(row)


def _to_model(row: ScheduleRow, full_name: str, next_run: datetime | None) -> Schedule:
    return Schedule(
        id=uuid.UUID(row.id),
        deployment_name=full_name,
        cron=row.cron,
        interval_seconds=row.interval_seconds,
        anchor_date=row.anchor_date,
        timezone=row.timezone,
        parameters=row.parameters,
        active=row.active,
        created=row.created,
        next_run_time=next_run,
        error=row.error,
    )


def schedules_of(
    session: Session, deployment_ids: Sequence[str], names: dict[str, str]
) -> dict[str, list[Schedule]]:
    """The schedules of each deployment, with the time of each one's next run."""
    rows = session.scalars(
        select(ScheduleRow)
        .where(ScheduleRow.deployment_id.in_(deployment_ids))
        .order_by(ScheduleRow.created, ScheduleRow.id)
    ).all()
    next_runs = (
        dict(
            session.execute(
                select(FlowRunRow.schedule_id, func.min(FlowRunRow.scheduled_time))
                .where(
                    FlowRunRow.schedule_id.in_([row.id for row in rows]),
                    FlowRunRow.state.in_([s.value for s in WAITING_STATES]),
                )
                .group_by(FlowRunRow.schedule_id)
            ).all()
        )
        if rows
        else {}
    )
    found: dict[str, list[Schedule]] = {}
    for row in rows:
        found.setdefault(row.deployment_id, []).append(
            _to_model(row, names[row.deployment_id], next_runs.get(row.id))
        )
    return found


def create_schedule(store: Store, full_name: str, spec: ScheduleSpec) -> Schedule:
    with store.write() as session:
        deployment, _flow = deployment_by_name(session, full_name)
        specs = [ParameterSpec.model_validate(p) for p in deployment.parameter_specs]
        owner = f"deployment '{full_name}'"
        row = _to_row(deployment.id, check_schedule(spec, specs, owner), utcnow())
        require_secrets(session, row.parameters, owner=f"a schedule of {owner}")
        session.add(row)
        session.flush()
        return _to_model(row, full_name, None)


def list_schedules(store: Store, full_name: str) -> list[Schedule]:
    with store.read() as session:
        deployment, _flow = deployment_by_name(session, full_name)
        return schedules_of(session, [deployment.id], {deployment.id: full_name}).get(
            deployment.id, []
        )


def _schedule(session: Session, full_name: str, schedule_id: str) -> ScheduleRow:
    deployment, _flow = deployment_by_name(session, full_name)
    row = None
    try:
        row = session.get(ScheduleRow, str(uuid.UUID(str(schedule_id))))
    except ValueError:
        pass
    if row is None or row.deployment_id != deployment.id:
        raise NotFoundError(
            f"Deployment '{full_name}' has no schedule '{schedule_id}'. List them with: "
            f"nborch deployment schedule ls '{full_name}'"
        )
    return row


def set_schedule_active(store: Store, full_name: str, schedule_id: str, active: bool) -> Schedule:
    """Pausing drops the runs the schedule made that nobody started; resuming starts
    from now (missed times while paused are not caught up) and clears its error."""
    with store.write() as session:
        row = _schedule(session, full_name, schedule_id)
        row.active = active
        row.next_slot = None
        row.error = None
        drop_unstarted_runs(session, [row.id])
        session.flush()
        return _to_model(row, full_name, None)


def delete_schedule(store: Store, full_name: str, schedule_id: str) -> None:
    with store.write() as session:
        row = _schedule(session, full_name, schedule_id)
        drop_unstarted_runs(session, [row.id])
        session.delete(row)


def restart_schedules(session: Session, deployment_id: str) -> None:
    """A deployment paused or resumed: its schedules drop their unstarted runs and start
    again from now when it runs again."""
    rows = session.scalars(
        select(ScheduleRow).where(ScheduleRow.deployment_id == deployment_id)
    ).all()
    drop_unstarted_runs(session, [row.id for row in rows])
    for row in rows:
        row.next_slot = None

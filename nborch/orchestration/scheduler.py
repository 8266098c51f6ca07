"""The scheduler's tick: turns schedules into SCHEDULED runs ahead of time, marks runs
LATE, applies each deployment's catch-up policy, and crashes runs of vanished workers.

Exactly once: every run a schedule makes carries its slot (the schedule's own time for it),
and the store refuses a second run for the same schedule and slot, so two schedulers
ticking at once cannot double a run. One lease in the store lets only one process tick at a
time; when it dies, another takes over after the lease's time to live.
"""

from __future__ import annotations

import uuid
from collections import defaultdict, deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import String, Table, Text, insert, literal, or_, select, update
from sqlalchemy.orm import Session

from nborch.models import CatchUp, StateType
from nborch.orchestration.leases import acquire_lease
from nborch.orchestration.runs import crash_orphaned_runs, notebook_location, output_path_for
from nborch.orchestration.timetables import Timetable
from nborch.settings import get_settings
from nborch.store.bulk import ids_in, insert_ignoring_conflicts
from nborch.store.engine import Store
from nborch.store.tables import (
    DeploymentRow,
    FlowRunRow,
    FlowRunStateRow,
    ScheduleRow,
    UTCDateTime,
)
from nborch.store.wakeups import wake_pool
from nborch.timeutil import utcnow

LEASE = "scheduler"
LATE = StateType.LATE.value
# Core tables for the bulk statements (ORM bulk mode would want primary keys per row).
_RUNS = cast(Table, FlowRunRow.__table__)
_STATES = cast(Table, FlowRunStateRow.__table__)
_SCHEDULES = cast(Table, ScheduleRow.__table__)
_TICK = timedelta(microseconds=1)


@dataclass
class TickResult:
    created: int = 0
    late: int = 0
    skipped: int = 0
    crashed: int = 0


def plan_slots(
    timetable: Timetable,
    next_slot: datetime | None,
    catch_up: CatchUp,
    now: datetime,
    horizon_end: datetime,
    max_runs: int,
) -> tuple[list[datetime], datetime]:
    """The slots to make runs for now, and the first slot left for a later tick.

    Slots missed while nothing ticked (next_slot in the past) follow the catch-up policy;
    then come the slots up to the horizon — at least the next one, at most `max_runs`.
    """
    slots: list[datetime] = []
    if next_slot is not None and next_slot <= now:
        if catch_up is CatchUp.ALL:
            missed: deque[datetime] = deque(maxlen=max_runs)
            for moment in timetable.times(after=next_slot - _TICK):
                if moment > now:
                    break
                missed.append(moment)
            slots.extend(missed)
        elif catch_up is CatchUp.LATEST:
            latest = timetable.latest(at_or_before=now)
            if latest is not None and latest >= next_slot:
                slots.append(latest)
        after = now
    else:
        after = next_slot - _TICK if next_slot is not None else now
    future = 0
    for moment in timetable.times(after=after):
        if (moment > horizon_end and future) or future >= max_runs:
            return slots, moment
        slots.append(moment)
        future += 1
    raise AssertionError("a timetable never ends")


def add_states(
    session: Session, run_ids: Sequence[str], state: StateType, message: str, now: datetime
) -> None:
    """Record `state` for many runs: one INSERT ... SELECT per chunk of ids, not a row each."""
    for matching in ids_in(session, _RUNS.c.id, run_ids):
        rows = select(
            _RUNS.c.id,
            literal(state.value, String()),
            literal(message, Text()),
            literal(now, UTCDateTime()),
        ).where(matching)
        session.connection().execute(
            insert(_STATES).from_select(["run_id", "type", "message", "timestamp"], rows)
        )


def schedule_runs(store: Store, now: datetime) -> int:
    """Make the runs every active schedule needs; returns how many were made."""
    settings = get_settings()
    horizon_end = now + timedelta(seconds=settings.scheduler_horizon)
    with store.write() as session:
        due = session.execute(
            select(
                ScheduleRow.id,
                ScheduleRow.cron,
                ScheduleRow.interval_seconds,
                ScheduleRow.anchor_date,
                ScheduleRow.timezone,
                ScheduleRow.parameters,
                ScheduleRow.next_slot,
                DeploymentRow.id,
                DeploymentRow.flow_id,
                DeploymentRow.name,
                DeploymentRow.pool_id,
                DeploymentRow.queue_id,
                DeploymentRow.parameters,
                DeploymentRow.job_variables,
                DeploymentRow.retries,
                DeploymentRow.tags,
                DeploymentRow.source,
                DeploymentRow.entrypoint,
                DeploymentRow.catch_up,
            )
            .join(DeploymentRow, ScheduleRow.deployment_id == DeploymentRow.id)
            .where(
                ScheduleRow.active,
                ~DeploymentRow.paused,
                DeploymentRow.pool_id.is_not(None),
                or_(ScheduleRow.next_slot.is_(None), ScheduleRow.next_slot <= horizon_end),
            )
        ).all()
        runs: list[dict[str, Any]] = []
        cursors: dict[datetime, list[str]] = defaultdict(list)
        # Schedules alike (same timetable, cursor and policy) share one plan per tick.
        plans: dict[tuple[Any, ...], tuple[list[datetime], datetime]] = {}
        for (
            schedule_id,
            cron,
            interval,
            anchor,
            tz,
            schedule_parameters,
            next_slot,
            dep_id,
            flow_id,
            dep_name,
            pool_id,
            queue_id,
            parameters,
            job_variables,
            retries,
            tags,
            source,
            entrypoint,
            catch_up,
        ) in due:
            key = (cron, interval, anchor, tz, next_slot, catch_up)
            if key not in plans:
                plans[key] = plan_slots(
                    Timetable(cron, interval, anchor, tz),
                    next_slot,
                    CatchUp(catch_up),
                    now,
                    horizon_end,
                    settings.scheduler_max_runs,
                )
            slots, following = plans[key]
            cursors[following].append(schedule_id)
            input_path, cwd = notebook_location(source, entrypoint)
            run_parameters = {**parameters, **schedule_parameters}
            for slot in slots:
                run_id = str(uuid.uuid4())
                runs.append(
                    {
                        "id": run_id,
                        "name": f"{dep_name}-{run_id[:8]}",
                        "flow_id": flow_id,
                        "deployment_id": dep_id,
                        "pool_id": pool_id,
                        "queue_id": queue_id,
                        "schedule_id": schedule_id,
                        "slot_time": slot,
                        "scheduled_time": slot,
                        "state": StateType.SCHEDULED.value,
                        "state_message": "",
                        "parameters": run_parameters,
                        "job_variables": job_variables,
                        "input_path": input_path,
                        "cwd": cwd,
                        "output_path": output_path_for(run_id),
                        "run_count": 0,
                        "retries": retries,
                        "tags": tags,
                        "created": now,
                    }
                )
        # A slot that has its run already (another scheduler was first) is skipped.
        created = insert_ignoring_conflicts(session, _RUNS, runs, ["schedule_id", "slot_time"])
        add_states(session, created, StateType.SCHEDULED, "Scheduled", now)
        if created:  # idle workers of these pools look again (e.g. to sleep until one is due)
            made = set(created)
            for pool_id in {run["pool_id"] for run in runs if run["id"] in made}:
                wake_pool(session, pool_id)
        for following, schedule_ids in cursors.items():  # most share a few values
            for matching in ids_in(session, _SCHEDULES.c.id, schedule_ids):
                session.connection().execute(
                    update(_SCHEDULES).where(matching).values(next_slot=following)
                )
        return len(created)


def mark_late_runs(store: Store, now: datetime) -> int:
    late_after = get_settings().late_after
    with store.write() as session:
        late = session.scalars(
            update(FlowRunRow)
            .where(
                FlowRunRow.state == StateType.SCHEDULED.value,
                FlowRunRow.scheduled_time < now - timedelta(seconds=late_after),
            )
            .values(
                state=StateType.LATE.value,
                state_message=f"Not started within {late_after:g} s of its time",
            )
            .returning(FlowRunRow.id)
            .execution_options(synchronize_session=False)
        ).all()
        add_states(
            session, late, StateType.LATE, f"Not started within {late_after:g} s of its time", now
        )
        return len(late)


def skip_missed_runs(store: Store, now: datetime) -> int:
    """LATE runs that their deployment's catch-up policy says not to run are CANCELLED:
    with `latest`, those of a schedule that has a newer run due; with `none`, all."""
    with store.read() as session:  # only LATE runs are ever skipped: usually there are none
        if session.scalar(select(FlowRunRow.id).where(FlowRunRow.state == LATE).limit(1)) is None:
            return 0
    with store.write() as session:
        waiting = session.execute(
            select(
                FlowRunRow.id,
                FlowRunRow.schedule_id,
                FlowRunRow.slot_time,
                FlowRunRow.state,
                DeploymentRow.catch_up,
            )
            .join(DeploymentRow, FlowRunRow.deployment_id == DeploymentRow.id)
            .where(
                FlowRunRow.schedule_id.is_not(None),
                FlowRunRow.state.in_([StateType.SCHEDULED.value, StateType.LATE.value]),
                FlowRunRow.scheduled_time <= now,
                DeploymentRow.catch_up != CatchUp.ALL.value,
            )
        ).all()
        # Every row here has a schedule and a slot (the query asks for schedule_id).
        rows = cast(list[tuple[str, str, datetime, str, str]], waiting)
        newest: dict[str, datetime] = {}
        for _id, schedule_id, slot, _state, _policy in rows:
            newest[schedule_id] = max(slot, newest.get(schedule_id, slot))
        skipped = [
            run_id
            for run_id, schedule_id, slot, state, policy in rows
            if state == StateType.LATE.value
            and (policy == CatchUp.NONE.value or slot < newest[schedule_id])
        ]
        if not skipped:
            return 0
        message = (
            "Skipped: it missed its time and the deployment's catch-up policy says not to run it"
        )
        done = session.scalars(
            update(FlowRunRow)
            .where(FlowRunRow.id.in_(skipped), FlowRunRow.state == StateType.LATE.value)
            .values(state=StateType.CANCELLED.value, state_message=message, end_time=now)
            .returning(FlowRunRow.id)
            .execution_options(synchronize_session=False)
        ).all()
        add_states(session, done, StateType.CANCELLED, message, now)
        return len(done)


def tick(store: Store, now: datetime | None = None, *, crash_orphans: bool = True) -> TickResult:
    """One round of the scheduler's work (each step its own short transaction). Without
    `crash_orphans`, runs of workers that stopped heartbeating are left alone this time."""
    now = now or utcnow()
    return TickResult(
        created=schedule_runs(store, now),
        late=mark_late_runs(store, now),
        skipped=skip_missed_runs(store, now),
        crashed=len(crash_orphaned_runs(store, now=now)) if crash_orphans else 0,
    )


def tick_if_leader(
    store: Store, holder: str, now: datetime | None = None, *, crash_orphans: bool = True
) -> TickResult | None:
    """Tick when `holder` holds (or can take) the scheduler's lease; None otherwise."""
    now = now or utcnow()
    ttl = 3 * get_settings().scheduler_interval
    if not acquire_lease(store, LEASE, holder, ttl, now):
        return None
    return tick(store, now, crash_orphans=crash_orphans)

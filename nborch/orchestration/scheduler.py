"""The scheduler's tick: turns schedules into SCHEDULED runs ahead of time, marks runs
LATE, applies each deployment's catch-up policy, and crashes runs of vanished workers.

Exactly once: every run a schedule makes carries its slot (the schedule's own time for it),
and the store refuses a second run for the same schedule and slot, so two schedulers
ticking at once cannot double a run. One lease in the store lets only one process tick at a
time; when it dies, another takes over after the lease's time to live.

One schedule never stops the others: a schedule whose times cannot be computed (a date
out of range, a cron that never fires, a bug) is marked in error with the reason and
skipped until it is changed or resumed; every other schedule keeps its runs.

A tick is bounded: it makes runs for the schedules due soonest, about
`scheduler_batch` runs at most, and says when more are due (`TickResult.more`) so that
its caller ticks again at once. Ten thousand deployments on minute crons all need a run
at the same second; made in one transaction, that would hold the store's write lock for
seconds (on SQLite every worker's claim and heartbeat waits for it).
"""

from __future__ import annotations

import json
from collections import defaultdict, deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Text, or_, select, update
from sqlalchemy import cast as sql_cast
from sqlalchemy.orm import Session

from nborch.models import CatchUp, StateType, TickResult
from nborch.orchestration.alert_events import queue_alerts_of_runs, queue_long_runs
from nborch.orchestration.alert_sender import kick as kick_alert_sender
from nborch.orchestration.crash_detection import crash_orphaned_runs
from nborch.orchestration.leases import acquire_lease
from nborch.orchestration.runs import notebook_location, output_path_for
from nborch.orchestration.timetables import Timetable
from nborch.settings import get_settings
from nborch.store.bulk import TIMESTAMP, for_each_row, is_postgres, time_ordered_id
from nborch.store.engine import Store
from nborch.store.tables import DeploymentRow, FlowRunRow, ScheduleRow
from nborch.store.wakeups import wake_pool
from nborch.timeutil import utcnow

LEASE = "scheduler"
LATE = StateType.LATE.value
_TICK = timedelta(microseconds=1)


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


# A new run's columns, as SQL over `v`, the run planned here (its id, schedule, slot and
# paths, and its parameters when its schedule adds some), and `d`, its deployment: the
# database copies the deployment's columns (JSON included) itself.
_NEW_RUN = {
    "id": "v.id",
    "name": "d.name || '-' || substr(v.id, 29, 8)",  # the id's tail: its head is a time
    "flow_id": "d.flow_id",
    "deployment_id": "d.id",
    "pool_id": "d.pool_id",
    "queue_id": "d.queue_id",
    "schedule_id": "v.schedule_id",
    "slot_time": "v.slot",
    "scheduled_time": "v.slot",
    "state": ":state",
    "state_message": "''",
    "parameters": "coalesce(v.parameters, d.parameters)",
    "job_variables": "d.job_variables",
    "input_path": "v.input_path",
    "cwd": "v.cwd",
    "output_path": "v.output_path",
    "run_count": "0",
    "retries": "d.retries",
    "timeout_seconds": "d.timeout_seconds",
    "retry_delay_seconds": "d.retry_delay_seconds",
    "retry_backoff": "d.retry_backoff",
    "retry_on": "d.retry_on",
    "tags": "d.tags",
    "created": ":now",
    "created_by": "'scheduler'",
}
_PLANNED = {
    "id": "varchar",
    "schedule_id": "varchar",
    "deployment_id": "varchar",
    "slot": TIMESTAMP,
    "parameters": "json",
    "input_path": "text",
    "cwd": "text",
    "output_path": "text",
}
_INSERT_RUNS = (
    f"INSERT INTO flow_runs ({', '.join(_NEW_RUN)}) "
    f"SELECT {', '.join(_NEW_RUN.values())} FROM {{rows}}, deployments AS d "
    "WHERE d.id = v.deployment_id "
    # A slot that has its run already (another scheduler was first) is skipped.
    "ON CONFLICT (schedule_id, slot_time) DO NOTHING"
)


def _insert_states(runs: str) -> str:
    """SQL adding a state (`:state`, `:message`, `:now`) to each run `v.id` of `runs`."""
    return (
        "INSERT INTO flow_run_states (run_id, type, message, timestamp) "
        f"SELECT v.id, :state, :message, :now FROM {runs}"
    )


def add_states(
    session: Session, run_ids: Sequence[str], state: StateType, message: str, now: datetime
) -> None:
    """Record `state` for many runs: one statement (and their alerts, if rules watch it)."""
    if run_ids:
        for_each_row(
            session,
            _insert_states("{rows}"),
            {"id": "varchar"},
            ((run_id,) for run_id in run_ids),
            state=state.value,
            message=message,
            now=now,
        )
        queue_alerts_of_runs(session, run_ids, state, message, now)


def _insert_runs(session: Session, planned: Sequence[Sequence[Any]], now: datetime) -> int:
    """Make the `planned` runs (rows of `_PLANNED`) that are not made yet, SCHEDULED;
    returns how many it made."""
    scheduled = {"state": StateType.SCHEDULED.value, "message": "Scheduled", "now": now}
    if is_postgres(session):  # one statement makes the runs and their states
        both = f"WITH v AS ({_INSERT_RUNS} RETURNING id) {_insert_states('v')}"
        return for_each_row(session, both, _PLANNED, planned, **scheduled).rowcount
    made = for_each_row(session, f"{_INSERT_RUNS} RETURNING id", _PLANNED, planned, **scheduled)
    run_ids = made.scalars().all()
    add_states(session, run_ids, StateType.SCHEDULED, "Scheduled", now)
    return len(run_ids)


def _move_cursors(session: Session, cursors: dict[datetime, list[str]]) -> None:
    """Set the next slot of schedules: the ids of those that share each."""
    for_each_row(
        session,
        "UPDATE deployment_schedules SET next_slot = v.next_slot FROM {rows} "
        "WHERE deployment_schedules.id = v.id",
        {"id": "varchar", "next_slot": TIMESTAMP},
        ((schedule_id, slot) for slot, ids in cursors.items() for schedule_id in ids),
    )


def _run_parameters(deployment_json: str, schedule_json: str) -> dict[str, Any] | None:
    """A schedule's runs' parameters when the schedule adds some to its deployment's;
    None when it adds none (most): the runs take the deployment's as stored."""
    added = json.loads(schedule_json) if schedule_json != "{}" else None
    return {**json.loads(deployment_json), **added} if added else None


def _due_schedules(
    session: Session, horizon_end: datetime, limit: int
) -> Iterator[tuple[Any, ...]]:
    """Active schedules of running deployments in a pool whose next slot is due by
    `horizon_end` (or not known yet), new ones and the soonest first, at most `limit`; JSON
    columns as their text. One row at a time: thousands of rows kept alive together would
    make Python run a full garbage collection."""
    query = (
        select(
            ScheduleRow.id,
            ScheduleRow.cron,
            ScheduleRow.interval_seconds,
            ScheduleRow.anchor_date,
            ScheduleRow.timezone,
            sql_cast(ScheduleRow.parameters, Text).label("schedule_parameters"),
            ScheduleRow.next_slot,
            DeploymentRow.id,
            DeploymentRow.pool_id,
            sql_cast(DeploymentRow.parameters, Text).label("deployment_parameters"),
            DeploymentRow.source,
            DeploymentRow.entrypoint,
            DeploymentRow.catch_up,
        )
        .join(DeploymentRow, ScheduleRow.deployment_id == DeploymentRow.id)
        .where(
            ScheduleRow.active,
            ScheduleRow.error.is_(None),
            ~DeploymentRow.paused,
            DeploymentRow.pool_id.is_not(None),
            or_(ScheduleRow.next_slot.is_(None), ScheduleRow.next_slot <= horizon_end),
        )
        # No second key: among schedules due at the same time any order will do, and with
        # the schedule's id as one the query took twice as long on SQLite.
        .order_by(ScheduleRow.next_slot.asc().nulls_first())
        .limit(limit)
    )
    yield from session.execute(query)


@dataclass
class _Plan:
    """What a tick makes: runs (rows of `_PLANNED`), the schedules' next slots (the ids of
    the schedules that share each), the pools that get runs, the schedules in error (id →
    reason) and whether due schedules were left for the next tick."""

    runs: list[tuple[Any, ...]] = field(default_factory=list)
    cursors: defaultdict[datetime, list[str]] = field(default_factory=lambda: defaultdict(list))
    pools: set[str] = field(default_factory=set)
    errors: dict[str, str] = field(default_factory=dict)
    more: bool = False


def _plan_runs(
    due: Iterable[tuple[Any, ...]],
    now: datetime,
    horizon_end: datetime,
    max_runs: int,
    batch: int,
) -> _Plan:
    """The runs and next slots of the `due` schedules (rows of `_due_schedules`), schedule
    by schedule until `batch` runs are planned."""
    plan = _Plan()
    # Schedules alike (same timetable, cursor and policy) share one plan per tick, and
    # deployments from one place share their notebook's location.
    slots_of: dict[tuple[Any, ...], tuple[list[datetime], datetime]] = {}
    locations: dict[tuple[str, str], tuple[str, str | None]] = {}
    for (
        schedule_id,
        cron,
        interval,
        anchor,
        tz,
        schedule_parameters,
        next_slot,
        dep_id,
        pool_id,
        deployment_parameters,
        source,
        entrypoint,
        catch_up,
    ) in due:
        if len(plan.runs) >= batch:
            plan.more = True
            break
        key = (cron, interval, anchor, tz, next_slot, catch_up)
        if key not in slots_of:
            try:
                timetable = Timetable(cron, interval, anchor, tz)
                slots_of[key] = plan_slots(
                    timetable, next_slot, CatchUp(catch_up), now, horizon_end, max_runs
                )
            except Exception as err:  # this schedule only: the others keep their runs
                plan.errors[schedule_id] = schedule_error(err)
                continue
        slots, following = slots_of[key]
        plan.cursors[following].append(schedule_id)
        if not slots:
            continue
        plan.pools.add(pool_id)
        if (source, entrypoint) not in locations:
            locations[source, entrypoint] = notebook_location(source, entrypoint)
        input_path, cwd = locations[source, entrypoint]
        parameters = _run_parameters(deployment_parameters, schedule_parameters)
        for slot in slots:
            run_id = time_ordered_id()
            plan.runs.append(
                (run_id, schedule_id, dep_id, slot, parameters, input_path, cwd,
                 output_path_for(run_id))
            )  # fmt: skip
    return plan


def schedule_error(err: Exception) -> str:
    return (
        f"The scheduler cannot compute this schedule's times ({type(err).__name__}: {err}). "
        "Change or delete the schedule; resuming it tries again."
    )


def _mark_errors(session: Session, errors: dict[str, str]) -> None:
    for_each_row(
        session,
        "UPDATE deployment_schedules SET error = v.error FROM {rows} "
        "WHERE deployment_schedules.id = v.id",
        {"id": "varchar", "error": "text"},
        errors.items(),
    )


def schedule_runs(store: Store, now: datetime) -> tuple[int, bool]:
    """Make the runs the active schedules due soonest need, about `scheduler_batch` at
    most; returns how many were made and whether due schedules were left for later."""
    settings = get_settings()
    horizon_end = now + timedelta(seconds=settings.scheduler_horizon)
    batch = settings.scheduler_batch
    with store.write() as session:
        # One schedule more than a batch can take: when it is there, there is more to do.
        due = _due_schedules(session, horizon_end, batch + 1)
        plan = _plan_runs(due, now, horizon_end, settings.scheduler_max_runs, batch)
        made = _insert_runs(session, plan.runs, now) if plan.runs else 0
        # Idle workers of these pools look again (e.g. to sleep until one is due); a pool
        # whose runs another scheduler made first is woken for nothing, which is harmless.
        if made:
            for pool_id in plan.pools:
                wake_pool(session, pool_id)
        if plan.cursors:
            _move_cursors(session, plan.cursors)
        if plan.errors:
            _mark_errors(session, plan.errors)
        return made, plan.more


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
    created, more = schedule_runs(store, now)
    queue_long_runs(store, now)  # alerts for runs running too long: no state change says so
    return TickResult(
        created=created,
        more=more,
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
    kick_alert_sender(store)  # the leader sends alerts, on a thread of their own
    return tick(store, now, crash_orphans=crash_orphans)

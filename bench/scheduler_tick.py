"""One scheduler tick with N deployments (default 10,000), each on a minute cron.

N deployments of the trivial notebook in pool "bench", each with one schedule
`* * * * *` (UTC, catch-up "latest"). The first one goes through
`nborch.orchestration.deployments.apply_deployment`; the others are bulk-inserted copies of
its deployment and schedule rows (new ids and names, same everything else), and one copy is
checked through the API against the original (`--create api` makes all N through the API,
slowly). Then, with an injected `now` (half past a minute) and no sleeping, the scheduler
ticks as its loop does: a tick makes about NBORCH_SCHEDULER_BATCH runs at most (default
2,000; `--batch` sets it), and while one leaves due schedules for later the next follows
at once (the loop pauses 0.1 s between them; not counted here):

(a) first fill    ticks at `now` until done: N x (runs in the horizon); the row shows
                  their total (and how many ticks, and the slowest);
(b) steady        ticks at `now + k x 60 s` for k = 1..--steady (default 5), each minute
                  after the runs due by then are marked COMPLETED (as workers would have
                  run them, so none is late): every deployment needs exactly one new run,
                  the worst case, since all minute crons fire at the same second. Two
                  rows: "steady tick", the median tick of all those minutes (and the
                  fastest and slowest), and "steady minute", the median of the minutes'
                  totals, i.e. all the scheduler's work for N new runs;
(c) idle tick     `tick()` again at the last steady minute's time: nothing to do.

For each NBORCH_SCHEDULER_HORIZON in --horizons (default 600 s, the default, and 60 s),
on a fresh database each: SQLite always; PostgreSQL on --postgres-url (an admin URL: a
throw-away database is created there and dropped) or on a throw-away server from
tests/support/postgres.py when one can be started (otherwise it says why and skips it).
Prints seconds per tick, split over the tick's four steps (and, inside "schedule", the
time spent planning slots: `plan_slots`, croniter), and the runs created; then
whether the goal "one scheduler tick with 10,000 deployments on minute crons under one
second" is met by every steady-state tick (the slowest one is judged). `--profile` adds the top functions of a cProfile
of one more steady-state tick (a minute after the last, after the runs due by then are
marked COMPLETED; not in the table).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import statistics
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple, cast

from common import fresh_database, postgres_server, print_table, temp_home, write_notebook
from sqlalchemy import Table, func, insert, select, update

from nborch.flows import Flow
from nborch.models import Deployment, DeploymentSpec, ScheduleSpec, StateType
from nborch.orchestration import scheduler
from nborch.orchestration.claims import claim_runs, next_run_time
from nborch.orchestration.deployments import apply_deployment, get_deployment
from nborch.orchestration.pools import create_pool
from nborch.orchestration.timetables import Timetable
from nborch.orchestration.workers import heartbeat, register_worker
from nborch.scheduler_loop import BETWEEN_BATCHES
from nborch.settings import get_settings, reset_settings
from nborch.store.engine import Store, close_stores, open_store
from nborch.store.tables import DeploymentRow, FlowRunRow, ScheduleRow
from nborch.timeutil import utcnow

POOL = "bench"
CRON = "* * * * *"
GOAL_SECONDS = 1.0
GOAL_DEPLOYMENTS = 10_000
_DEPLOYMENTS = cast(Table, DeploymentRow.__table__)
_SCHEDULES = cast(Table, ScheduleRow.__table__)
_CHUNK = 1000
STEPS = ("schedule_runs", "mark_late_runs", "skip_missed_runs", "crash_orphaned_runs")
# Timed as well: the Python side of schedule_runs, planning each schedule's slots.
TIMED = (*STEPS, "plan_slots")


def deployment_name(index: int) -> str:
    return f"d{index:05d}"


def spec_for(flow: Flow, index: int) -> DeploymentSpec:
    return DeploymentSpec(
        flow_name=flow.name,
        name=deployment_name(index),
        source=flow.source,
        entrypoint=flow.entrypoint,
        pool_name=POOL,
        parameter_specs=flow.parameters,
        schedules=[ScheduleSpec(cron=CRON)],
    )


def comparable(deployment: Deployment) -> dict[str, Any]:
    """What two deployments made the same way share: all but ids, names and times."""
    data = deployment.model_dump(exclude={"id", "name", "created", "updated", "schedules"})
    data["schedules"] = [
        s.model_dump(exclude={"id", "deployment_name", "created"}) for s in deployment.schedules
    ]
    return data


def create_deployments(store: Store, home: Path, count: int, method: str) -> float:
    """`count` deployments on a minute cron in pool POOL; returns the seconds it took."""
    create_pool(store, POOL, "process")
    flow = Flow.from_notebook(write_notebook(home / "notebooks" / "trivial.ipynb"), "tick")
    start = time.perf_counter()
    template, _ = apply_deployment(store, spec_for(flow, 0))
    if method == "api":
        for index in range(1, count):
            apply_deployment(store, spec_for(flow, index))
    else:
        bulk_copy(store, template, count)
    seconds = time.perf_counter() - start
    made = 0
    with store.read() as session:
        made = (
            session.scalar(
                select(func.count())
                .select_from(ScheduleRow)
                .join(DeploymentRow, ScheduleRow.deployment_id == DeploymentRow.id)
                .where(ScheduleRow.cron == CRON, ScheduleRow.active, ~DeploymentRow.paused)
            )
            or 0
        )
    if made != count:
        raise RuntimeError(f"expected {count} active minute schedules, found {made}")
    if count > 1:  # a copy must look, through the API, exactly like what the API made
        copy = get_deployment(store, f"{flow.name}/{deployment_name(count - 1)}")
        if comparable(copy) != comparable(template):
            raise RuntimeError(
                f"bulk copy differs from the API's deployment:\n{comparable(copy)}\n"
                f"{comparable(template)}"
            )
    return seconds


def bulk_copy(store: Store, template: Deployment, count: int) -> None:
    """Deployments 1..count-1 as copies of the template's rows (deployment, schedule)."""
    with store.write() as session:
        dep = dict(
            session.execute(select(_DEPLOYMENTS).where(_DEPLOYMENTS.c.id == str(template.id)))
            .mappings()
            .one()
        )
        sched = dict(
            session.execute(select(_SCHEDULES).where(_SCHEDULES.c.deployment_id == dep["id"]))
            .mappings()
            .one()
        )
        for start in range(1, count, _CHUNK):
            deployments, schedules = [], []
            for index in range(start, min(start + _CHUNK, count)):
                dep_id = str(uuid.uuid4())
                deployments.append({**dep, "id": dep_id, "name": deployment_name(index)})
                schedules.append({**sched, "id": str(uuid.uuid4()), "deployment_id": dep_id})
            session.execute(insert(_DEPLOYMENTS), deployments)
            session.execute(insert(_SCHEDULES), schedules)


def slots_in_horizon(now: datetime, horizon: float) -> int:
    """Runs a fresh schedule gets on its first tick: its times in (now, now + horizon], at
    least one, at most NBORCH_SCHEDULER_MAX_RUNS."""
    end = now + timedelta(seconds=horizon)
    most = get_settings().scheduler_max_runs
    found = 0
    for moment in Timetable(CRON, None, None, "UTC").times(after=now):
        if (moment > end and found) or found >= most:
            return found
        found += 1
    raise AssertionError("a timetable never ends")


@contextmanager
def step_timings() -> Iterator[dict[str, float]]:
    """Seconds spent in each step `scheduler.tick` calls, and in `plan_slots` (all wrapped
    by name in the module for the block)."""
    spent = dict.fromkeys(TIMED, 0.0)
    saved = {name: getattr(scheduler, name) for name in TIMED}

    def wrap(name: str, step: Callable[..., Any]) -> Callable[..., Any]:
        def timed_step(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return step(*args, **kwargs)
            finally:
                spent[name] += time.perf_counter() - start

        return timed_step

    for name, step in saved.items():
        setattr(scheduler, name, wrap(name, step))
    try:
        yield spent
    finally:
        for name, step in saved.items():
            setattr(scheduler, name, step)


def run_due_runs(store: Store, at: datetime) -> None:
    """Mark the runs due by `at` COMPLETED, as workers would have: none is late at `at`."""
    with store.write() as session:
        session.execute(
            update(FlowRunRow)
            .where(FlowRunRow.state == StateType.SCHEDULED.value, FlowRunRow.scheduled_time <= at)
            .values(state=StateType.COMPLETED.value)
        )


Tick = tuple[float, scheduler.TickResult, dict[str, float]]


class Goal(NamedTuple):
    """What is judged and shown under the table, per back end and horizon (seconds)."""

    backend: str
    horizon: float
    slowest_tick: float
    minute: float  # the median steady minute's ticks together
    longest_heartbeat: float  # a worker's, during the steady minutes
    claim: float  # the median claim of 4 runs with a minute's runs due at once
    next_run: float  # the median "when is the next run due" of an idle worker


Measured = tuple[list[list[object]], list[str], list[Goal]]


def ticks_until_done(store: Store, now: datetime) -> list[Tick]:
    """Tick at `now` as the scheduler's loop does: again, after its short pause, while a
    tick leaves schedules due; each tick's seconds, result and time per step."""
    ticks: list[Tick] = []
    while not ticks or ticks[-1][1].more:
        if ticks:
            time.sleep(BETWEEN_BATCHES)
        seconds, result, spent, _ = timed_tick(store, now)
        ticks.append((seconds, result, spent))
    return ticks


@contextmanager
def heartbeat_waits(store: Store) -> Iterator[list[float]]:
    """A worker of POOL heartbeating every 20 ms on a thread for the block: how long each
    heartbeat took (it waits while the scheduler holds the store's write lock)."""
    worker = register_worker(store, "probe", POOL)
    waits: list[float] = []
    done = threading.Event()

    def beat() -> None:
        while not done.wait(0.02):
            start = time.perf_counter()
            heartbeat(store, worker.id)
            waits.append(time.perf_counter() - start)

    thread = threading.Thread(target=beat, name="heartbeats")
    thread.start()
    try:
        yield waits
    finally:
        done.set()
        thread.join()


def backlog_costs(store: Store, at: datetime) -> tuple[float, float]:
    """The median seconds of a claim of 4 runs (of 20 claims) and of an idle worker's
    "when is the next run due" (of 5) at `at`, with the runs due by then waiting."""
    worker = register_worker(store, "claimer", POOL)
    claims, next_runs = [], []
    for _ in range(20):
        start = time.perf_counter()
        if len(claim_runs(store, POOL, worker.id, 4, now=at)) != 4:
            raise RuntimeError("a claim found fewer than 4 due runs")
        claims.append(time.perf_counter() - start)
    for _ in range(5):
        start = time.perf_counter()
        next_run_time(store, POOL, now=at)
        next_runs.append(time.perf_counter() - start)
    return statistics.median(claims), statistics.median(next_runs)


def timed_tick(
    store: Store, now: datetime, profile: bool = False
) -> tuple[float, scheduler.TickResult, dict[str, float], str]:
    profiler = cProfile.Profile() if profile else None
    with step_timings() as spent:
        start = time.perf_counter()
        if profiler:
            profiler.enable()
        result = scheduler.tick(store, now=now)
        if profiler:
            profiler.disable()
        seconds = time.perf_counter() - start
    report = ""
    if profiler:
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out).strip_dirs()
        stats.sort_stats("tottime").print_stats(15)
        stats.sort_stats("cumulative").print_stats(25)
        report = out.getvalue()
    return seconds, result, dict(spent), report


def measure(
    backend: str,
    url: str,
    home: Path,
    count: int,
    horizon: float,
    method: str,
    profile: bool,
    steady_ticks: int,
) -> Measured:
    """Rows for the first fill, the steady ticks and minutes (over `steady_ticks` minutes)
    and the idle tick on a fresh store at `url`; reports of profiles; figures to judge."""
    os.environ["NBORCH_SCHEDULER_HORIZON"] = f"{horizon:g}"
    reset_settings()
    store = open_store(url)
    try:
        made_in = create_deployments(store, home, count, method)
        print(
            f"{backend}, horizon {horizon:g} s: {count} deployments made in {made_in:.1f} s "
            f"({method})",
            flush=True,
        )
        now = utcnow().replace(second=30, microsecond=0)
        rows, reports = [], []
        goals: list[Goal] = []

        def row(label: str, ticks: list[Tick], expected: int | None = None) -> list[object]:
            """One row for `ticks` together: their seconds, steps and runs summed."""
            created = sum(result.created for _, result, _ in ticks)
            ok = "yes" if expected is None or created == expected else f"NO ({expected})"
            return [backend, f"{horizon:g}", label, sum(t[0] for t in ticks),
                    *(sum(t[2][s] for t in ticks) for s in TIMED), created, ok, count]  # fmt: skip

        def minute(at: datetime, expected: int, complete_due: bool) -> list[Tick]:
            if complete_due:
                run_due_runs(store, at)  # as workers would have: none is late
            ticks = ticks_until_done(store, at)
            made = sum(result.created for _, result, _ in ticks)
            slowest = max(t[0] for t in ticks)
            print(
                f"  {at:%H:%M:%S}: {len(ticks)} ticks, {sum(t[0] for t in ticks):.3f} s, "
                f"slowest {slowest:.3f} s, {made} runs ({expected} expected)",
                flush=True,
            )
            return ticks

        fill = minute(now, count * slots_in_horizon(now, horizon), False)
        first = row(
            f"first fill ({len(fill)} ticks; slowest {max(t[0] for t in fill):.3f})",
            fill,
            count * slots_in_horizon(now, horizon),
        )
        # Each steady minute a minute after the one before: every deployment needs one run.
        with heartbeat_waits(store) as waits:  # a worker's, meanwhile
            minutes = [
                minute(now + timedelta(seconds=60 * k), count, True)
                for k in range(1, steady_ticks + 1)
            ]
        ticks = sorted((t for m in minutes for t in m), key=lambda t: t[0])
        tick_row = row(
            f"steady tick (median of {len(ticks)}; {ticks[0][0]:.3f}-{ticks[-1][0]:.3f})",
            [ticks[len(ticks) // 2]],
        )
        totals = sorted((row("", m, count) for m in minutes), key=lambda r: r[3])  # type: ignore[arg-type,return-value]
        minute_row = totals[len(totals) // 2]
        minute_row[2] = (
            f"steady minute ({len(minutes[0])} ticks; median of {len(totals)}; "
            f"{totals[0][3]:.3f}-{totals[-1][3]:.3f})"
        )
        idle = row("idle", ticks_until_done(store, now + timedelta(seconds=60 * steady_ticks)), 0)
        rows += [first, tick_row, minute_row, idle]
        # Workers far behind: the next minute's runs all due, the horizon's runs ahead.
        claim, next_run = backlog_costs(store, now + timedelta(seconds=60 * steady_ticks + 31))
        goals.append(
            Goal(backend, horizon, ticks[-1][0], cast(float, minute_row[3]), max(waits), claim,
                 next_run)
        )  # fmt: skip
        with store.read() as session:
            total = session.scalar(select(func.count()).select_from(FlowRunRow)) or 0
        if total != first[-3] + sum(r[-3] for r in totals):  # type: ignore[operator]
            raise RuntimeError(f"{total} runs in the store, not what the ticks reported")
        if profile:  # one more steady-state tick, a minute later, under cProfile (not timed)
            at = now + timedelta(seconds=60 * (steady_ticks + 1))
            run_due_runs(store, at)
            seconds, result, _, report = timed_tick(store, at, True)
            reports.append(
                f"--- cProfile of another steady-state tick (now + 120 s), {backend}, horizon "
                f"{horizon:g} s: {seconds:.3f} s under the profiler, {result.created} runs, "
                f"{result.late} late, {result.skipped} skipped\n" + report
            )
        return rows, reports, goals
    finally:
        close_stores()
        os.environ.pop("NBORCH_SCHEDULER_HORIZON", None)
        reset_settings()


def sqlite_rows(home: Path, args: argparse.Namespace, horizon: float) -> Measured:
    path = home / f"tick-{horizon:g}.db"
    try:
        return measure(
            "sqlite", f"sqlite:///{path}", home, args.deployments, horizon, args.create,
            args.profile, args.steady,
        )  # fmt: skip
    finally:
        for leftover in home.glob(f"{path.name}*"):
            leftover.unlink()


def postgres_rows(home: Path, args: argparse.Namespace, horizons: list[float]) -> Measured:
    rows: list[list[object]] = []
    reports: list[str] = []
    goals: list[Goal] = []
    with postgres_server(args.postgres_url) as server:
        for horizon in horizons if server else []:
            with fresh_database(server) as url:
                more, texts, judged = measure(
                    "postgresql", url, home, args.deployments, horizon, args.create,
                    args.profile, args.steady,
                )  # fmt: skip
            rows += more
            reports += texts
            goals += judged
    return rows, reports, goals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--deployments", type=int, default=10_000, help="deployments (10000)")
    parser.add_argument(
        "--horizons",
        default="600,60",
        help="NBORCH_SCHEDULER_HORIZON values in seconds, comma-separated (600,60)",
    )
    parser.add_argument(
        "--create",
        choices=["bulk", "api"],
        default="bulk",
        help="bulk: copy the first API-made deployment with bulk SQL (default); "
        "api: apply_deployment for every one",
    )
    parser.add_argument(
        "--postgres-url",
        default=None,
        help="admin URL of a PostgreSQL server (postgresql+psycopg://user@host:port/postgres)",
    )
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    parser.add_argument("--steady", type=int, default=5, help="steady-state minutes of ticks (5)")
    parser.add_argument(
        "--batch",
        type=int,
        default=None,
        help="NBORCH_SCHEDULER_BATCH: about the most runs one tick makes (the default, 2000)",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="print a cProfile of one more steady-state tick per database",
    )
    args = parser.parse_args()
    horizons = [float(h) for h in args.horizons.split(",") if h.strip()]
    if args.batch is not None:
        os.environ["NBORCH_SCHEDULER_BATCH"] = str(args.batch)
    batch = get_settings().scheduler_batch
    rows: list[list[object]] = []
    reports: list[str] = []
    goals: list[Goal] = []
    with temp_home() as home:
        for horizon in horizons:
            more, texts, judged = sqlite_rows(home, args, horizon)
            rows += more
            reports += texts
            goals += judged
        if not args.no_postgres:
            more, texts, judged = postgres_rows(home, args, horizons)
            rows += more
            reports += texts
            goals += judged
    for report in reports:
        print(f"\n{report}")
    print(
        f"\nScheduler ticks with {args.deployments} deployments on cron '{CRON}', batch "
        f"{batch} (seconds)\n"
    )
    print_table(
        ["back end", "horizon s", "tick", "seconds", "schedule", "late", "skip", "crash",
         "(plan_slots)", "runs", "as expected", "deployments"],
        rows,
    )  # fmt: skip
    print(
        f"\nGoal: one scheduler tick with {GOAL_DEPLOYMENTS:,} deployments on minute crons "
        f"under {GOAL_SECONDS:g} s (the slowest steady-state tick; the minute's total, all "
        "the work for a new run of each deployment, and the longest a worker's heartbeat "
        "took meanwhile, for the record):"
    )
    for goal in goals:
        if args.deployments < GOAL_DEPLOYMENTS:
            verdict = f"not judged ({args.deployments} deployments, the goal is about 10,000)"
        else:
            verdict = "met" if goal.slowest_tick < GOAL_SECONDS else "NOT met"
        print(
            f"  {goal.backend}, horizon {goal.horizon:g} s: slowest tick "
            f"{goal.slowest_tick:.3f} s -> {verdict} (minute's total {goal.minute:.3f} s; "
            f"longest heartbeat {goal.longest_heartbeat:.3f} s)"
        )
    print(
        f"\nWhat the runs made ahead cost workers far behind ({args.deployments} runs due at "
        "once, the horizon's runs ahead), median seconds:"
    )
    for goal in goals:
        print(
            f"  {goal.backend}, horizon {goal.horizon:g} s: a claim of 4 runs {goal.claim:.4f} "
            f"s; an idle worker's next-run query {goal.next_run:.4f} s"
        )


if __name__ == "__main__":
    main()

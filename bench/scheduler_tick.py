"""One scheduler tick with N deployments (default 10,000), each on a minute cron.

N deployments of the trivial notebook in pool "bench", each with one schedule
`* * * * *` (UTC, catch-up "latest"). The first one goes through
`nborch.orchestration.deployments.apply_deployment`; the others are bulk-inserted copies of
its deployment and schedule rows (new ids and names, same everything else), and one copy is
checked through the API against the original (`--create api` makes all N through the API,
slowly). Then, with an injected `now` (half past a minute) and no sleeping:

(a) first tick    `tick(store, now)`: fills the horizon, N x (runs in the horizon);
(b) steady ticks  `tick(store, now + k x 60 s)` for k = 1..--steady (default 5), each
                  after the runs due by then are marked COMPLETED (as workers would have
                  run them, so none is late): every deployment needs exactly one new run,
                  the worst case, since all minute crons fire at the same second; the
                  table shows the median tick (and the fastest and slowest): one tick
                  varies by a few tenths of a second on a 2-core machine;
(c) idle tick     `tick()` again at the last steady tick's time: nothing to do.

For each NBORCH_SCHEDULER_HORIZON in --horizons (default 600 s, the default, and 60 s),
on a fresh database each: SQLite always; PostgreSQL on --postgres-url (an admin URL: a
throw-away database is created there and dropped) or on a throw-away server from
tests/support/postgres.py when one can be started (otherwise it says why and skips it).
Prints seconds per tick, split over the tick's four steps (and, inside "schedule", the
time spent planning slots: `plan_slots`, croniter), and the runs created; then
whether the goal "one scheduler tick with 10,000 deployments on minute crons under one
second" is met by the steady-state tick. `--profile` adds the top functions of a cProfile
of one more steady-state tick (a minute after the last, after the runs due by then are
marked COMPLETED; not in the table).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, cast

from common import fresh_database, postgres_server, print_table, temp_home, write_notebook
from sqlalchemy import Table, func, insert, select, update

from nborch.flows import Flow
from nborch.models import Deployment, DeploymentSpec, ScheduleSpec, StateType
from nborch.orchestration import scheduler
from nborch.orchestration.deployments import apply_deployment, get_deployment
from nborch.orchestration.pools import create_pool
from nborch.orchestration.timetables import Timetable
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
) -> tuple[list[list[object]], list[str]]:
    """Rows for the first, steady (the median of `steady_ticks`) and idle ticks on a fresh
    store at `url`."""
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

        def row(label: str, at: datetime, expected: int, complete_due: bool) -> list[object]:
            if complete_due:
                run_due_runs(store, at)  # as workers would have: none is late
            seconds, result, spent, _ = timed_tick(store, at)
            ok = "yes" if result.created == expected else f"NO ({expected} expected)"
            print(f"  {label:6} tick: {seconds:.3f} s, {result.created} runs", flush=True)
            return [backend, f"{horizon:g}", label, seconds, *(spent[s] for s in TIMED),
                    result.created, ok, count]  # fmt: skip

        first = row("first", now, count * slots_in_horizon(now, horizon), False)
        # Each steady tick a minute after the one before: every deployment needs one run.
        steady = [
            row("steady", now + timedelta(seconds=60 * k), count, True)
            for k in range(1, steady_ticks + 1)
        ]
        steady.sort(key=lambda r: r[3])  # type: ignore[arg-type,return-value]
        median = steady[len(steady) // 2]
        median[2] = f"steady (median of {len(steady)}; {steady[0][3]:.3f}-{steady[-1][3]:.3f})"
        idle = row("idle", now + timedelta(seconds=60 * steady_ticks), 0, False)
        rows += [first, median, idle]
        with store.read() as session:
            total = session.scalar(select(func.count()).select_from(FlowRunRow)) or 0
        if total != first[-3] + sum(r[-3] for r in steady):  # type: ignore[misc]
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
        return rows, reports
    finally:
        close_stores()
        os.environ.pop("NBORCH_SCHEDULER_HORIZON", None)
        reset_settings()


def sqlite_rows(
    home: Path, args: argparse.Namespace, horizon: float
) -> tuple[list[list[object]], list[str]]:
    path = home / f"tick-{horizon:g}.db"
    try:
        return measure(
            "sqlite", f"sqlite:///{path}", home, args.deployments, horizon, args.create,
            args.profile, args.steady,
        )  # fmt: skip
    finally:
        for leftover in home.glob(f"{path.name}*"):
            leftover.unlink()


def postgres_rows(
    home: Path, args: argparse.Namespace, horizons: list[float]
) -> tuple[list[list[object]], list[str]]:
    rows: list[list[object]] = []
    reports: list[str] = []
    with postgres_server(args.postgres_url) as server:
        for horizon in horizons if server else []:
            with fresh_database(server) as url:
                more, texts = measure(
                    "postgresql", url, home, args.deployments, horizon, args.create,
                    args.profile, args.steady,
                )  # fmt: skip
            rows += more
            reports += texts
    return rows, reports


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
    parser.add_argument(
        "--steady", type=int, default=5, help="steady-state ticks; their median is shown (5)"
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="print a cProfile of one more steady-state tick per database",
    )
    args = parser.parse_args()
    horizons = [float(h) for h in args.horizons.split(",") if h.strip()]
    rows: list[list[object]] = []
    reports: list[str] = []
    with temp_home() as home:
        for horizon in horizons:
            more, texts = sqlite_rows(home, args, horizon)
            rows += more
            reports += texts
        if not args.no_postgres:
            more, texts = postgres_rows(home, args, horizons)
            rows += more
            reports += texts
    for report in reports:
        print(f"\n{report}")
    print(f"\nScheduler ticks with {args.deployments} deployments on cron '{CRON}' (seconds)\n")
    print_table(
        ["back end", "horizon s", "tick", "seconds", "schedule", "late", "skip", "crash",
         "(plan_slots)", "runs", "as expected", "deployments"],
        rows,
    )  # fmt: skip
    print(
        f"\nGoal: one scheduler tick with {GOAL_DEPLOYMENTS:,} deployments on minute crons "
        f"under {GOAL_SECONDS:g} s (the steady-state tick):"
    )
    for row in rows:
        if not str(row[2]).startswith("steady"):
            continue
        seconds = cast(float, row[3])
        if args.deployments < GOAL_DEPLOYMENTS:
            verdict = f"not judged ({args.deployments} deployments, the goal is about 10,000)"
        else:
            verdict = "met" if seconds < GOAL_SECONDS else "NOT met"
        print(f"  {row[0]}, horizon {row[1]} s: {seconds:.3f} s -> {verdict}")


if __name__ == "__main__":
    main()

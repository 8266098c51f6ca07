"""The fault-injection soak (issue 17), shared by `bench/soak.py` (the full version) and
`tests/e2e/test_soak.py` (the short one in the test command): a cluster (`soak_cluster`)
runs the load (`soak_load`) while faults are injected (`soak_faults`) for `duration` s; then
the faults stop, everything is brought back, and the soak waits (at most `settle` s) for
every planned run to be final. `run_soak` returns the findings (`soak_report`): figures,
goals, and the timelines of the runs behind each failure; the processes' logs, the fault
events and every run's record are left in the folder."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from nborch.store.engine import Store, close_stores, open_store
from nborch.timeutil import utcnow
from support.soak_cluster import SoakCluster
from support.soak_faults import KINDS, FaultInjector
from support.soak_load import Load, Plan
from support.soak_report import (
    Findings,
    check_schedules,
    planned_runs,
    read_marks,
    read_runs,
)

# How long after the last run is final the notebooks' lines are read again.
LATE_LINES = 10.0


@dataclass
class SoakConfig:
    folder: Path
    runs: int = 300
    duration: float | None = None  # the faults' time; None: runs / rate
    rate: float = 1.5  # runs planned per second
    seconds: float = 2.0  # how long a run's notebook sleeps (about)
    servers: int = 2
    workers: int = 8
    limit: int = 2  # runs per worker at once
    fault_every: float = 6.0  # seconds between faults, on average
    settle: float = 120.0  # every run final within this after the faults stop
    seed: int = 17
    kinds: tuple[str, ...] = KINDS
    echo: bool = True

    @property
    def window(self) -> float:
        return self.duration if self.duration is not None else self.runs / self.rate


def run_soak(config: SoakConfig) -> Findings:
    config.folder.mkdir(parents=True, exist_ok=True)
    say = _sayer(config.echo)
    rng = random.Random(config.seed)
    cluster = SoakCluster(
        config.folder, servers=config.servers, workers=config.workers, limit=config.limit
    )
    faults: FaultInjector | None = None
    try:
        say(f"starting PostgreSQL, {config.servers} servers, {config.workers} workers")
        cluster.start()
        plan = Plan(config.runs, config.window, config.seconds)
        load = Load(cluster.admins, config.folder / "marks", plan, random.Random(rng.random()))
        load.deploy(config.folder)
        faults = FaultInjector(
            cluster, random.Random(rng.random()), config.fault_every, config.kinds
        )
        say(f"load and faults for {config.window:.0f} s (schedules every "
            f"{', '.join(f'{i:g}' for i in plan.intervals())} s, a trigger every "
            f"{plan.trigger_every:.2f} s)")  # fmt: skip
        load.start()
        faults.start()
        time.sleep(config.window)
        load.stop()
        faults.stop()
        say(f"faults stopped: {dict(faults.counts)}; bringing everything back")
        for what in cluster.restore():
            say(what)
        stopped = utcnow()
        findings = _settle(config, cluster, load, faults, stopped, say)
        findings.write(config.folder)
        return findings
    finally:
        if faults is not None:
            (config.folder / "faults.log").write_text(
                "\n".join(
                    f"{time.strftime('%H:%M:%S', time.localtime(e.at))}"
                    f".{int(e.at % 1 * 1000):03d} {e.kind}: {e.what}"
                    for e in faults.events
                )
            )
        close_stores()
        cluster.close()


def _settle(
    config: SoakConfig,
    cluster: SoakCluster,
    load: Load,
    faults: FaultInjector,
    stopped: datetime,
    say: Callable[[str], None],
) -> Findings:
    """Wait until every planned run is final (and the schedules' slots are made), at most
    `settle` s, then collect the findings."""
    store = open_store(cluster.database_url)
    deadline = time.monotonic() + config.settle
    load.join_calls(timeout=config.settle)
    while True:
        findings = _collect(config, cluster, store, load, faults, stopped)
        waiting = len(findings.lost)
        if (not waiting and not findings.slots_missing) or time.monotonic() > deadline:
            break
        say(f"waiting for {waiting} of {len(findings.planned)} runs to be final")
        time.sleep(5)
    # A run final in the store may still be executing somewhere (a worker that lost it):
    # its notebook's lines come a little later.
    time.sleep(LATE_LINES)
    return _collect(config, cluster, store, load, faults, stopped)


def _collect(
    config: SoakConfig,
    cluster: SoakCluster,
    store: Store,
    load: Load,
    faults: FaultInjector,
    stopped: datetime,
) -> Findings:
    marks = read_marks(load.marks)
    runs = read_runs(store, marks)
    planned, doubled = planned_runs(runs, load.triggered, stopped)
    found_tokens = {r.trigger for r in planned}
    schedules, doomed_error = check_schedules(store, runs, stopped)
    return Findings(
        planned=planned,
        scheduled=sum(1 for r in planned if r.schedule_id is not None),
        triggered=sum(1 for r in planned if r.schedule_id is None),
        triggers_failed={
            token: load.failures.get(token, "no answer")
            for token in load.triggered
            if token not in found_tokens
        },
        triggers_doubled=doubled,
        schedules=schedules,
        doomed_error=doomed_error,
        faults=faults.counts,
        fault_errors=faults.errors,
        faults_stopped=stopped,
        collected=utcnow(),
        settle=config.settle,
        no_run_id=[name for name in marks if name.startswith("no-run-id-")],
        orphan_kernels=len(cluster.living_orphans()),
        failed_starts=list(cluster.failed_starts),
    )


def _sayer(echo: bool) -> Callable[[str], None]:
    def say(text: str) -> None:
        if echo:
            print(f"[soak {time.strftime('%H:%M:%S')}] {text}", flush=True)

    return say

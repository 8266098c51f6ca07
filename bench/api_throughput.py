"""Claims and heartbeats per second through the HTTP API with 8 workers; the server's memory
at idle and under that load.

`nborch server start` runs in a subprocess (scheduler on, as deployed) over a store seeded
with R SCHEDULED runs (default 5,000: one made with `create_run`, the rest bulk-inserted
copies of its rows) of one pool. W spawned processes (default 8), each an `HttpClient` with a
worker key for the pool, register a worker, then for S seconds (default 10) loop: heartbeat,
claim_runs(limit 1). Every request is timed. Figures: claims/s (runs handed out),
heartbeats/s, requests/s, p50/p99 latency (all requests, and per operation), and the server
process's RSS (psutil) at idle (up, seeded, workers registered) and its peak under load
(sampled every 50 ms). Then the store must hold exactly the claimed runs as PENDING, each
claimed once. A claim sorts the pool's waiting runs, so its cost grows with R (in-process
on SQLite, about 15 ms with 100 waiting and 45 ms with 20,000 on a 2-core machine).

Back ends: SQLite (in a temporary NBORCH_HOME) always; PostgreSQL on --postgres-url (an admin
URL: a throw-away database is created there and dropped) or on a throw-away server from
tests/support/postgres.py when one can be started (otherwise it says why and skips it).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import Any, cast

import psutil
from common import (
    deploy_trivial,
    fresh_database,
    percentile,
    postgres_server,
    print_table,
    temp_home,
)
from sqlalchemy import Table, func, insert, select
from support.servers import NborchServer, environment

from nborch.client import LocalClient
from nborch.client.http import HttpClient
from nborch.models import StateType
from nborch.store.engine import Store, close_stores, open_store
from nborch.store.tables import FlowRunRow, FlowRunStateRow

POOL = "bench-api"
_RUNS = cast(Table, FlowRunRow.__table__)
_STATES = cast(Table, FlowRunStateRow.__table__)
_CHUNK = 2000
MB = 1024 * 1024


@dataclass
class WorkerResult:
    index: int
    started: float  # time.monotonic(), comparable across processes on one machine
    ended: float
    heartbeat_latencies: list[float]
    claim_latencies: list[float]
    claimed: list[str]
    empty_claims: int
    error: str | None = None


def api_worker(
    url: str, key: str, index: int, seconds: float, ready: Any, go: Event, results: Any
) -> None:
    """One worker of the server: register, wait for `go`, then heartbeat + claim 1 until
    `seconds` are up."""
    is_ready = False
    result = WorkerResult(index, 0.0, 0.0, [], [], [], 0)
    try:
        client = HttpClient(url, key, retry_for=0)
        worker_id = uuid.uuid4()
        client.register_worker(f"bench-api-{index}", POOL, worker_id=worker_id)
        ready.put(index)
        is_ready = True
        go.wait()
        result.started = time.monotonic()
        deadline = result.started + seconds
        while time.monotonic() < deadline:
            begin = time.perf_counter()
            client.heartbeat(worker_id)
            middle = time.perf_counter()
            runs = client.claim_runs(POOL, worker_id, 1)
            end = time.perf_counter()
            result.heartbeat_latencies.append(middle - begin)
            result.claim_latencies.append(end - middle)
            result.claimed.extend(str(run.id) for run in runs)
            result.empty_claims += not runs
        result.ended = time.monotonic()
        client.close()
    except BaseException as err:  # report, so the parent neither hangs nor miscounts
        if not is_ready:
            ready.put(index)
        result.error = f"{type(err).__name__}: {err}"
        result.ended = result.ended or time.monotonic()
    results.put(result)


def seed_runs(store: Store, client: LocalClient, deployment: str, count: int) -> None:
    """`count` SCHEDULED runs of `deployment`, due now: one through `create_run`, the rest
    copies of its rows (run and SCHEDULED state) with new ids and names."""
    template = client.create_run(deployment, parameters={"n": 3})
    with store.write() as session:
        run = dict(
            session.execute(select(_RUNS).where(_RUNS.c.id == str(template.id))).mappings().one()
        )
        state = dict(
            session.execute(select(_STATES).where(_STATES.c.run_id == run["id"])).mappings().one()
        )
        state.pop("id")
        for start in range(1, count, _CHUNK):
            runs, states = [], []
            for index in range(start, min(start + _CHUNK, count)):
                run_id = str(uuid.uuid4())
                runs.append({**run, "id": run_id, "name": f"bench-{index:06d}"})
                states.append({**state, "run_id": run_id})
            session.execute(insert(_RUNS), runs)
            session.execute(insert(_STATES), states)


class MemorySampler:
    """The peak RSS of a process, sampled every `interval` s on a thread."""

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        self.process = psutil.Process(pid)
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.process.memory_info().rss)
            self._stop.wait(self.interval)

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()


@dataclass
class Measured:
    row: list[object]
    operations: list[list[object]]


def measure(
    backend: str, url: str | None, home: Path, runs: int, workers: int, seconds: float
) -> Measured:
    database_url = url or f"sqlite:///{home / 'nborch.db'}"
    store = open_store(database_url)
    client = LocalClient(store)
    deployment = deploy_trivial(client, home, POOL)
    seed_runs(store, client, deployment, runs)
    worker_key = client.create_api_key(f"bench-{backend}", "worker", [POOL]).key
    env = environment(NBORCH_HOME=str(home), **({"NBORCH_DATABASE_URL": url} if url else {}))
    server = NborchServer(env)
    server.start()
    try:
        context = multiprocessing.get_context("spawn")
        ready, results, go = context.Queue(), context.Queue(), context.Event()
        processes = [
            context.Process(
                target=api_worker, args=(server.url, worker_key, i, seconds, ready, go, results)
            )
            for i in range(workers)
        ]
        for process in processes:
            process.start()
        try:
            for _ in processes:
                ready.get(timeout=120)
            server_process = psutil.Process(server.processes[-1].process.pid)
            idle_rss = server_process.memory_info().rss
            load = os.getloadavg()[0]
            with MemorySampler(server_process.pid) as sampler:
                go.set()
                outcomes: list[WorkerResult] = [
                    results.get(timeout=seconds + 300) for _ in processes
                ]
        finally:
            for process in processes:
                process.join(timeout=30)
                if process.is_alive():
                    process.kill()
    finally:
        server.stop()
    for outcome in outcomes:
        if outcome.error:
            print(f"{backend}: worker {outcome.index}: {outcome.error}", file=sys.stderr)
    ran = [o for o in outcomes if o.started]
    if not ran:
        raise RuntimeError(f"{backend}: no worker got to run; see the errors above")
    window = max(o.ended for o in ran) - min(o.started for o in ran)
    heartbeats = [x for o in outcomes for x in o.heartbeat_latencies]
    claims = [x for o in outcomes for x in o.claim_latencies]
    claimed = [run_id for o in outcomes for run_id in o.claimed]
    empty = sum(o.empty_claims for o in outcomes)
    with store.read() as session:
        pending = session.scalar(
            select(func.count())
            .select_from(FlowRunRow)
            .where(FlowRunRow.state == StateType.PENDING.value)
        )
    once = (
        not any(o.error for o in outcomes)
        and len(set(claimed)) == len(claimed) == pending
        and empty == 0
    )
    if empty:
        print(f"{backend}: {empty} claims came back empty: seed more runs (--runs)")
    close_stores()
    everything = heartbeats + claims
    ms = 1000.0
    row: list[object] = [
        backend,
        workers,
        window,
        len(claimed) / window,
        len(heartbeats) / window,
        len(everything) / window,
        percentile(everything, 50) * ms,
        percentile(everything, 99) * ms,
        idle_rss / MB,
        max(sampler.peak, idle_rss) / MB,
        "yes" if once else "no",
        f"{load:.1f}",
    ]
    operations: list[list[object]] = [
        [backend, name, len(values), percentile(values, 50) * ms, percentile(values, 99) * ms]
        for name, values in (("heartbeat", heartbeats), ("claim 1", claims))
    ]
    return Measured(row, operations)


def postgres_measured(args: argparse.Namespace, home: Path) -> list[Measured]:
    with postgres_server(args.postgres_url) as server:
        if server is None:
            return []
        with fresh_database(server) as url:
            return [measure("postgresql", url, home, args.runs, args.workers, args.seconds)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="load duration (10)")
    parser.add_argument("--workers", type=int, default=8, help="worker processes (8)")
    parser.add_argument("--runs", type=int, default=5_000, help="SCHEDULED runs seeded (5000)")
    parser.add_argument(
        "--postgres-url",
        default=None,
        help="admin URL of a PostgreSQL server (postgresql+psycopg://user@host:port/postgres)",
    )
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    args = parser.parse_args()
    measured: list[Measured] = []
    with temp_home() as home:
        measured.append(measure("sqlite", None, home, args.runs, args.workers, args.seconds))
    if not args.no_postgres:
        with temp_home() as home:
            measured += postgres_measured(args, home)
    print(
        f"\nThrough the API: {args.workers} worker processes, each looping heartbeat + claim 1 "
        f"for {args.seconds:g} s, {args.runs} runs waiting at the start (server: `nborch server "
        f"start`, scheduler on; {os.cpu_count()} CPUs, their load average at the start shown)\n"
    )
    print_table(
        [
            "back end",
            "workers",
            "seconds",
            "claims/s",
            "heartbeats/s",
            "requests/s",
            "p50 ms",
            "p99 ms",
            "RSS idle MB",
            "RSS peak MB",
            "exactly once",
            "load",
        ],
        [m.row for m in measured],
    )
    print()
    print_table(
        ["back end", "operation", "requests", "p50 ms", "p99 ms"],
        [op for m in measured for op in m.operations],
    )


if __name__ == "__main__":
    main()

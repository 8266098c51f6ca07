"""Claims per second against the store, with several claiming processes at once.

R runs (default 400) of one deployment wait in one pool. P processes (default 8, spawned)
each register a worker, then loop `claim_runs(pool, worker, 1)` → RUNNING → COMPLETED
until a claim comes back empty. Timed from releasing all processes at once until the last
one ends. Then every run's history must hold exactly one PENDING entry ("exactly once").

Back ends: SQLite (in a temporary NBORCH_HOME) always; PostgreSQL on the server given by
--postgres-url (an admin URL: a throw-away database is created on it and dropped), or else
on a throw-away server started with tests/support/postgres.py when that is possible.
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import time
import uuid
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import Any

from common import deploy_trivial, fresh_database, postgres_server, print_table, temp_home

from nborch.client import LocalClient
from nborch.models import StateType
from nborch.store.engine import close_stores, open_store

POOL = "bench-claims"


def claimer(url: str, index: int, ready: Any, go: Event, results: Any) -> None:
    """One claiming process: register, wait for `go`, claim-run-complete until empty."""
    is_ready = False
    try:
        client = LocalClient(open_store(url))
        worker_id = uuid.uuid4()
        client.register_worker(f"bench-claimer-{index}", POOL, worker_id=worker_id)
        ready.put(index)
        is_ready = True
        go.wait()
        claimed: list[str] = []
        while runs := client.claim_runs(POOL, worker_id, 1):
            for run in runs:
                claimed.append(str(run.id))
                client.set_state(run.id, StateType.RUNNING)
                client.set_state(run.id, StateType.COMPLETED)
        results.put((index, claimed, None))
    except BaseException as err:  # report, so the parent neither hangs nor miscounts
        if not is_ready:
            ready.put(index)
        results.put((index, [], f"{type(err).__name__}: {err}"))
        raise
    finally:
        close_stores()


def measure(backend: str, url: str, home: Path, runs: int, processes: int) -> list[object]:
    client = LocalClient(open_store(url))
    deployment = deploy_trivial(client, home, POOL)
    run_ids = {str(client.create_run(deployment, parameters={"n": 3}).id) for _ in range(runs)}
    context = multiprocessing.get_context("spawn")
    ready, results, go = context.Queue(), context.Queue(), context.Event()
    workers = [
        context.Process(target=claimer, args=(url, i, ready, go, results)) for i in range(processes)
    ]
    for process in workers:
        process.start()
    try:
        for _ in workers:
            ready.get(timeout=120)
        start = time.perf_counter()
        go.set()
        outcomes = [results.get(timeout=600) for _ in workers]
        seconds = time.perf_counter() - start
    finally:
        for process in workers:
            process.join(timeout=30)
            if process.is_alive():
                process.kill()
    errors = [f"claimer {i}: {error}" for i, _, error in outcomes if error]
    claimed = [run_id for _, ids, _ in outcomes for run_id in ids]
    pending_counts = [
        sum(h.type is StateType.PENDING for h in client.get_run(r).history) for r in run_ids
    ]
    completed = sum(client.get_run(r).state is StateType.COMPLETED for r in run_ids)
    once = (
        not errors
        and all(c == 1 for c in pending_counts)
        and sorted(claimed) == sorted(run_ids)
        and completed == runs
    )
    for error in errors:
        print(f"{backend}: {error}", file=sys.stderr)
    close_stores()
    return [backend, runs, processes, seconds, len(claimed) / seconds, "yes" if once else "no"]


def postgres_rows(args: argparse.Namespace, home: Path) -> list[list[object]]:
    with postgres_server(args.postgres_url) as server:
        if server is None:
            return []
        with fresh_database(server) as url:
            return [measure("postgresql", url, home, args.runs, args.processes)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=400, help="runs to claim (400)")
    parser.add_argument("--processes", type=int, default=8, help="claiming processes (8)")
    parser.add_argument(
        "--postgres-url",
        default=None,
        help="admin URL of a PostgreSQL server (postgresql+psycopg://user@host:port/postgres)",
    )
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    args = parser.parse_args()
    with temp_home() as home:
        rows = [
            measure("sqlite", f"sqlite:///{home / 'nborch.db'}", home, args.runs, args.processes)
        ]
        if not args.no_postgres:
            rows += postgres_rows(args, home)
    print(f"Claims with {args.processes} processes (claim 1, RUNNING, COMPLETED per run)\n")
    print_table(["back end", "runs", "procs", "seconds", "claims/s", "exactly once"], rows)


if __name__ == "__main__":
    main()

"""Throughput of one process worker: runs per minute on a trivial notebook.

For each worker limit (default 4, then 1 for comparison): R runs (default 20) are created
at once in a fresh process pool, then `nborch worker start --limit L --poll-interval 0.1`
is started; the wall time is measured from starting the worker until every run is final
(all must be COMPLETED). "first claim" is how long the worker took to claim its first run
(its start-up); it is included in the total.
"""

from __future__ import annotations

import argparse
import time
from datetime import timezone
from pathlib import Path
from typing import Any

from common import deploy_trivial, print_table, temp_home, worker_log, worker_process

from nborch.client import LocalClient
from nborch.models import StateType


def measure(
    home: Path,
    client: LocalClient,
    limit: int,
    runs: int,
    timeout: float,
    pool_type: str = "process",
    job_variables: dict[str, Any] | None = None,
) -> list[object]:
    """[limit, runs, first claim s, total s, runs/min] on one worker of a fresh pool."""
    pool = f"bench-throughput-{pool_type}-limit{limit}"
    deployment = deploy_trivial(client, home, pool, pool_type, job_variables)
    run_ids = {client.create_run(deployment, parameters={"n": 3}).id for _ in range(runs)}
    wall_start = time.time()
    start = time.perf_counter()
    with worker_process(home, pool, limit=limit, poll_interval=0.1):
        while True:
            found = client.list_runs(pool_name=pool, limit=runs)
            if all(r.state.is_final for r in found):
                break
            if time.perf_counter() - start > timeout:
                raise TimeoutError(f"limit {limit}: runs not final after {timeout} s")
            time.sleep(0.05)
        total = time.perf_counter() - start
    assert {r.id for r in found} == run_ids
    completed = sum(r.state is StateType.COMPLETED for r in found)
    if completed != runs:
        bad = next(r for r in found if r.state is not StateType.COMPLETED)
        raise RuntimeError(
            f"limit {limit}: {runs - completed} run(s) did not complete, e.g. {bad.id} "
            f"{bad.state.value}: {bad.state_message}\n{worker_log(home, pool)[-2000:]}"
        )
    first_claim = min(
        h.timestamp
        for r in run_ids
        for h in client.get_run(r).history
        if h.type is StateType.PENDING
    )
    if first_claim.tzinfo is None:
        first_claim = first_claim.replace(tzinfo=timezone.utc)
    startup = first_claim.timestamp() - wall_start
    return [limit, runs, startup, total, runs / total * 60]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="runs per measurement (20)")
    parser.add_argument(
        "--limits", default="4,1", help="worker --limit values, comma-separated (4,1)"
    )
    parser.add_argument("--timeout", type=float, default=300, help="seconds per limit (300)")
    args = parser.parse_args()
    limits = [int(v) for v in args.limits.split(",")]
    with temp_home() as home:
        client = LocalClient()
        rows = [measure(home, client, limit, args.runs, args.timeout) for limit in limits]
    print("Throughput of one process worker on a trivial notebook\n")
    print_table(["limit", "runs", "first claim s", "total s", "runs/min"], rows)


if __name__ == "__main__":
    main()

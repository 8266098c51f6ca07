"""Runs per minute through each cluster engine against the docker pool, on the same notebook.

R runs (default 20) of the trivial notebook are created at once in a fresh pool, then the
process that serves the pool is started; the wall time runs from its start until every run
is final (all must be COMPLETED):
- docker:         `nborch worker start --limit L` (a container per run, auto_remove);
- docker-swarm:   `nborch dispatcher start --limit L` on a one-node swarm made for the
                  measurement (`docker swarm init`, left at the end): a replicated-job
                  service per run, same runtime image;
- dask:           `nborch dispatcher start --limit L`, runs submitted to a Dask scheduler with
                  two workers of L/2 threads on this machine (`dask scheduler`, `dask worker`);
- nborch:managed: `nborch dispatcher start --limit L` (a process per run), for comparison.
The runtime image is built first when missing (`nborch image build-runtime`).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import docker
from common import deploy_trivial, print_table, temp_home
from support.dask_cluster import DaskCluster
from support.swarm import one_node_swarm
from throughput import measure

from nborch.client import LocalClient
from nborch.containers.runtime_image import build_runtime_image
from nborch.models import StateType


@contextmanager
def dispatcher_process(home: Path, limit: int) -> Iterator[subprocess.Popen[bytes]]:
    argv = [sys.executable, "-m", "nborch.cli.main", "dispatcher", "start"]
    argv += ["--limit", str(limit), "--poll-interval", "0.1", "--interval", "0.2"]
    env = {**os.environ, "NBORCH_HOME": str(home)}
    env.pop("NBORCH_DATABASE_URL", None)
    with (home / "dispatcher.log").open("wb") as log:
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        yield process
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def measure_dispatched(
    home: Path,
    client: LocalClient,
    pool_type: str,
    limit: int,
    runs: int,
    timeout: float,
    job_variables: dict[str, Any] | None = None,
    scheduler: str | None = None,
) -> list[object]:
    """[pool type, limit, runs, total s, runs/min] for a pool served by the dispatcher (a
    dask pool's default scheduler address set to `scheduler`); the pool is deleted after."""
    pool = f"bench-{pool_type.replace(':', '-')}"
    deployment = deploy_trivial(client, home, pool, pool_type, job_variables)
    if scheduler:
        template = client.get_pool(pool).base_job_template
        template["variables"]["properties"]["scheduler_address"]["default"] = scheduler
        client.update_pool(pool, base_job_template=template)
    for _ in range(runs):
        client.create_run(deployment, parameters={"n": 3})
    start = time.perf_counter()
    with dispatcher_process(home, limit):
        while True:
            found = client.list_runs(pool_name=pool, limit=runs)
            if all(r.state.is_final for r in found):
                break
            if time.perf_counter() - start > timeout:
                log = (home / "dispatcher.log").read_text(errors="replace")[-2000:]
                raise TimeoutError(f"{pool_type}: runs not final after {timeout} s\n{log}")
            time.sleep(0.05)
        total = time.perf_counter() - start
    bad = [r for r in found if r.state is not StateType.COMPLETED]
    if bad:
        raise RuntimeError(f"{pool_type}: {len(bad)} run(s) failed, e.g. {bad[0].state_message}")
    client.delete_deployment(deployment)
    client.delete_pool(pool)  # the next measurement's dispatcher serves only its own pool
    row: list[object] = [pool_type, limit, runs, total, runs / total * 60]
    print(f"== {row}", flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="runs per engine (20)")
    parser.add_argument("--limit", type=int, default=4, help="runs at once (4)")
    parser.add_argument("--timeout", type=float, default=600, help="seconds per engine (600)")
    parser.add_argument(
        "--engines",
        default="docker,docker-swarm,dask,nborch:managed",
        help="which, comma-separated (all four)",
    )
    args = parser.parse_args()
    engines = args.engines.split(",")
    image = build_runtime_image(echo=lambda line: print(f"[runtime image] {line}")).tag
    rows: list[list[object]] = []
    with temp_home() as home:
        client = LocalClient()
        if "docker" in engines:
            job = {"image": image, "image_pull_policy": "Never", "auto_remove": True}
            row = measure(home, client, args.limit, args.runs, args.timeout, "docker", job)
            rows.append(["docker (worker)", row[0], row[1], row[3], row[4]])
            print(f"== {rows[-1]}", flush=True)
        if "docker-swarm" in engines:
            with one_node_swarm(docker.from_env()):
                rows.append(
                    measure_dispatched(
                        home,
                        client,
                        "docker-swarm",
                        args.limit,
                        args.runs,
                        args.timeout,
                        {"image": image},
                    )
                )
        if "dask" in engines:
            cluster = DaskCluster(home / "dask", workers=2, threads=max(1, args.limit // 2))
            try:
                cluster.wait_for_workers(2)
                rows.append(
                    measure_dispatched(
                        home,
                        client,
                        "dask",
                        args.limit,
                        args.runs,
                        args.timeout,
                        scheduler=cluster.address,
                    )
                )
            finally:
                cluster.stop()
        if "nborch:managed" in engines:
            rows.append(
                measure_dispatched(
                    home, client, "nborch:managed", args.limit, args.runs, args.timeout
                )
            )
    print(f"\n{args.runs} runs of the trivial notebook created at once, {args.limit} at a time\n")
    print_table(["pool", "limit", "runs", "total s", "runs/min"], rows)


if __name__ == "__main__":
    main()

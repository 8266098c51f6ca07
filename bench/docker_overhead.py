"""What a container costs a run: a docker pool against a process pool and raw papermill.

Per run (median of N, default 5), on the trivial notebook:
(a) `python -m papermill in out -p n 3` in a subprocess on the host;
(b) a process pool: one long-lived `nborch worker start --poll-interval 0.1`, timed from
    `create_run` until the run is final (polled every 20 ms);
(c) a docker pool, the same way, standby containers off (standby_containers 0): each run
    is a container of the runtime image started for it (`nborch image build-runtime`,
    built first when missing), auto_remove on;
(d) a docker pool with standby containers on (standby_containers 1): each run is handed to
    a container started ahead (papermill loaded, kernel up). Between runs, in (c) and (d),
    the bench waits until the worker has a standby container ready again (d), or 2 s (c),
    outside the timing: runs that come while one waits, as runs spaced in time do.
Then R runs (default 20) created at once and one worker with `--limit 4` (default), process
pool against docker pool: total seconds from starting the worker, and runs per minute.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import docker
from common import (
    deploy_trivial,
    median,
    print_table,
    ready_standby,
    temp_home,
    timed,
    wait_for_worker,
    wait_until_final,
    worker_log,
    worker_process,
)
from run_overhead import raw_papermill, through_worker
from throughput import measure

from nborch.client import LocalClient
from nborch.containers.runtime_image import build_runtime_image
from nborch.jobs import default_base_job_template
from nborch.models import PoolType, StateType

DOCKER_JOB = {"image_pull_policy": "Never", "auto_remove": True}


def docker_runs(home: Path, runs: int, standby: int) -> list[float]:
    """Seconds from `create_run` to COMPLETED, one run at a time, on one worker of a docker
    pool with `standby` standby containers (0: off)."""
    client = LocalClient()
    engine = docker.from_env()
    pool = f"bench-docker-standby-{standby}"
    template = default_base_job_template(PoolType.DOCKER)
    template["variables"]["properties"]["standby_containers"]["default"] = standby
    deployment = deploy_trivial(
        client, home, pool, "docker", DOCKER_JOB, base_job_template=template
    )
    times = []
    with worker_process(home, pool, poll_interval=0.1) as worker:
        wait_for_worker(client, pool, worker)
        for _ in range(runs):
            deadline = time.monotonic() + 60
            if standby:
                while not ready_standby(engine, pool) and time.monotonic() < deadline:
                    time.sleep(0.05)
            else:
                time.sleep(2)
            with timed() as t:
                run = client.create_run(deployment, parameters={"n": 3})
                run = wait_until_final(client, run.id)
            if run.state is not StateType.COMPLETED:
                raise RuntimeError(
                    f"run {run.id} ended {run.state.value}: {run.state_message}\n"
                    + worker_log(home, pool)[-2000:]
                )
            times.append(t[0])
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "-n", "--runs", type=int, default=5, help="runs of each kind, one by one (5)"
    )
    parser.add_argument("--batch", type=int, default=20, help="runs created at once (20)")
    parser.add_argument(
        "--limit", type=int, default=4, help="the worker's --limit for the batch (4)"
    )
    parser.add_argument("--timeout", type=float, default=300, help="seconds per batch (300)")
    args = parser.parse_args()
    image = build_runtime_image(echo=lambda line: print(f"[runtime image] {line}"))
    DOCKER_JOB["image"] = image.tag
    with temp_home() as home:
        raw = raw_papermill(home, args.runs)
        process = through_worker(home, args.runs, 0.1)
        plain = docker_runs(home, args.runs, 0)
        standby = docker_runs(home, args.runs, 1)
        client = LocalClient()
        batches = [
            ["process", *measure(home, client, args.limit, args.batch, args.timeout)],
            [
                "docker",
                *measure(home, client, args.limit, args.batch, args.timeout, "docker", DOCKER_JOB),
            ],
        ]
    raw_s = median(raw)
    print(f"\nTrigger -> COMPLETED, {args.runs} runs each, one at a time (seconds)\n")
    rows = [
        ["raw papermill (CLI, host)", raw],
        ["process pool (standby kernels)", process],
        ["docker pool, standby containers off", plain],
        ["docker pool, standby containers on", standby],
    ]
    print_table(
        ["what", "median s", "min s", "max s", "this - raw s", "this / raw"],
        [
            [name, median(times), min(times), max(times), median(times) - raw_s,
             median(times) / raw_s]
            for name, times in rows
        ],
    )  # fmt: skip
    print(
        f"\n{args.batch} runs created at once, one worker --limit {args.limit} (the pools' "
        "default standby settings)\n"
    )
    print_table(["pool", "limit", "runs", "first claim s", "total s", "runs/min"], batches)


if __name__ == "__main__":
    main()

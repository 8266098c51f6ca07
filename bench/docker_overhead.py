"""What a container costs a run: a docker pool against a process pool and raw papermill.

Per run (median of N, default 5), on the trivial notebook:
(a) `python -m papermill in out -p n 3` in a subprocess on the host;
(b) a process pool: one long-lived `nborch worker start --poll-interval 0.1`, timed from
    `create_run` until the run is final (polled every 20 ms);
(c) a docker pool, the same way: each run is a container of the runtime image
    (`nborch image build-runtime`, built first when missing), auto_remove on.
Then R runs (default 20) created at once and one worker with `--limit 4` (default), process
pool against docker pool: total seconds from starting the worker, and runs per minute.
"""

from __future__ import annotations

import argparse

from common import median, print_table, temp_home
from run_overhead import raw_papermill, through_worker
from throughput import measure

from nborch.client import LocalClient
from nborch.containers.runtime_image import build_runtime_image

DOCKER_JOB = {"image_pull_policy": "Never", "auto_remove": True}


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
        docker = through_worker(home, args.runs, 0.1, "docker", DOCKER_JOB)
        client = LocalClient()
        batches = [
            ["process", *measure(home, client, args.limit, args.batch, args.timeout)],
            [
                "docker",
                *measure(home, client, args.limit, args.batch, args.timeout, "docker", DOCKER_JOB),
            ],
        ]
    raw_s, process_s, docker_s = median(raw), median(process), median(docker)
    print(f"\nPer run, {args.runs} runs each, one at a time (seconds)\n")
    print_table(
        ["what", "median s", "min s", "max s", "docker - this s", "docker / this"],
        [
            ["raw papermill", raw_s, min(raw), max(raw), docker_s - raw_s, docker_s / raw_s],
            [
                "process pool",
                process_s,
                min(process),
                max(process),
                docker_s - process_s,
                docker_s / process_s,
            ],
            ["docker pool", docker_s, min(docker), max(docker), 0.0, 1.0],
        ],
    )
    print(f"\n{args.batch} runs created at once, one worker --limit {args.limit}\n")
    print_table(["pool", "limit", "runs", "first claim s", "total s", "runs/min"], batches)


if __name__ == "__main__":
    main()

"""Per-run overhead of nborch above raw papermill, on a trivial notebook.

(a) `python -m papermill in out -p n 3` in a subprocess, N times;
(b) the same notebook deployed to a process pool and run N times by one long-lived
    `nborch worker start --poll-interval 0.1`, timed from `create_run` until the run is in
    a final state (the run is polled every 20 ms).
Prints the medians, the overhead (b - a) in seconds and the ratio b / a.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path
from typing import Any

from common import (
    deploy_trivial,
    median,
    print_table,
    temp_home,
    timed,
    wait_for_worker,
    wait_until_final,
    worker_log,
    worker_process,
    write_notebook,
)

from nborch.client import LocalClient
from nborch.models import StateType

POOL = "bench-overhead"


def raw_papermill(home: Path, runs: int) -> list[float]:
    notebook = write_notebook(home / "raw" / "trivial.ipynb")
    times = []
    for i in range(runs):
        argv = [
            sys.executable, "-m", "papermill", str(notebook), str(home / "raw" / f"out-{i}.ipynb"),
            "-p", "n", "3", "--no-progress-bar",
        ]  # fmt: skip
        with timed() as t:
            done = subprocess.run(argv, capture_output=True, text=True)
        if done.returncode:
            raise RuntimeError(f"papermill failed ({done.returncode}): {done.stderr[-1000:]}")
        times.append(t[0])
    return times


def through_worker(
    home: Path,
    runs: int,
    poll_interval: float,
    pool_type: str = "process",
    job_variables: dict[str, Any] | None = None,
) -> list[float]:
    """Seconds from `create_run` to a final state, one run at a time, on one worker of a
    fresh pool of `pool_type`."""
    client = LocalClient()
    pool = f"{POOL}-{pool_type}"
    deployment = deploy_trivial(client, home, pool, pool_type, job_variables)
    times = []
    with worker_process(home, pool, poll_interval=poll_interval) as worker:
        wait_for_worker(client, pool, worker)
        for _ in range(runs):
            with timed() as t:
                run = client.create_run(deployment, parameters={"n": 3})
                run = wait_until_final(client, run.id)
            if run.state is not StateType.COMPLETED:
                raise RuntimeError(
                    f"run {run.id} ended {run.state.value}: {run.state_message}\n"
                    + worker_log(home, pool)[-2000:]
                )
            times.append(t[0])
    return times  # leaving the block sends the worker SIGTERM and waits for it


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--runs", type=int, default=5, help="runs of each kind (5)")
    parser.add_argument(
        "--poll-interval", type=float, default=0.1, help="the worker's --poll-interval (0.1)"
    )
    args = parser.parse_args()
    with temp_home() as home:
        raw = raw_papermill(home, args.runs)
        orchestrated = through_worker(home, args.runs, args.poll_interval)
    raw_s, orch_s = median(raw), median(orchestrated)
    print(f"Per-run overhead, {args.runs} runs each (median seconds)\n")
    print_table(
        ["what", "median s", "min s", "max s"],
        [
            ["raw papermill", raw_s, min(raw), max(raw)],
            ["nborch worker", orch_s, min(orchestrated), max(orchestrated)],
        ],
    )
    print()
    print_table(
        ["overhead s", "ratio nborch/raw"],
        [[orch_s - raw_s, orch_s / raw_s]],
    )


if __name__ == "__main__":
    main()

"""Trigger -> COMPLETED for a trivial notebook with a worker already up: nborch with standby
kernels on and off (and `python -m papermill` per run, the old way), against raw papermill
measured in the same run: its command line in a subprocess, and `papermill.execute_notebook`
in a warm Python (this process, papermill imported once).

Each nborch mode has a process pool of its own (its base job template says the mode) and one
long-lived `nborch worker start --poll-interval 30`: a run starts because its worker is woken,
not because it polls. Once the workers are up (and their standby kernels started), the kinds
take turns, one run each per round, for N rounds (default 50), after one warm-up round; an
nborch run is timed from `create_run` until the store says COMPLETED (polled every 5 ms).
Prints the median, p99, min and max of each kind, and the load average before and after.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from common import (
    PROCESS_MODES,
    deploy_trivial,
    load_average,
    median,
    percentile,
    print_table,
    process_template,
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

POLL_INTERVAL = 30.0
SETTLE = 8.0  # seconds for the workers to start their standby kernels


def raw_cli(notebook: Path, out: Path) -> Callable[[], float]:
    argv = [
        sys.executable, "-m", "papermill", str(notebook), str(out), "-p", "n", "3",
        "--no-progress-bar",
    ]  # fmt: skip

    def once() -> float:
        with timed() as t:
            done = subprocess.run(argv, capture_output=True, text=True)
        if done.returncode:
            raise RuntimeError(f"papermill failed ({done.returncode}): {done.stderr[-1000:]}")
        return t[0]

    return once


def warm_python(notebook: Path, out: Path) -> Callable[[], float]:
    import papermill

    def once() -> float:
        with timed() as t:
            papermill.execute_notebook(
                str(notebook), str(out), parameters={"n": 3}, progress_bar=False
            )
        return t[0]

    return once


def through_worker(
    client: LocalClient, home: Path, deployment: str, pool: str
) -> Callable[[], float]:
    def once() -> float:
        with timed() as t:
            run = client.create_run(deployment, parameters={"n": 3})
            run = wait_until_final(client, run.id, interval=0.005)
        if run.state is not StateType.COMPLETED:
            raise RuntimeError(
                f"run {run.id} ended {run.state.value}: {run.state_message}\n"
                + worker_log(home, pool)[-2000:]
            )
        return t[0]

    return once


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--runs", type=int, default=50, help="rounds (50)")
    parser.add_argument(
        "--modes",
        default=",".join(PROCESS_MODES),
        help=f"nborch modes, comma-separated ({','.join(PROCESS_MODES)})",
    )
    parser.add_argument("--no-raw", action="store_true", help="skip raw papermill")
    args = parser.parse_args()
    modes = [m for m in args.modes.split(",") if m]
    load_before = load_average()
    with temp_home() as home:
        client = LocalClient()
        notebook = write_notebook(home / "raw" / "trivial.ipynb")
        kinds: dict[str, Callable[[], float]] = {}
        if not args.no_raw:
            kinds["papermill CLI (subprocess)"] = raw_cli(notebook, home / "raw" / "cli.ipynb")
            kinds["papermill in a warm Python"] = warm_python(notebook, home / "raw" / "py.ipynb")
        with_workers = []
        for mode in modes:
            pool = f"latency-{mode}"
            deployment = deploy_trivial(
                client, home, pool, base_job_template=process_template(mode)
            )
            with_workers.append((mode, pool, deployment))
        from contextlib import ExitStack

        with ExitStack() as stack:
            for mode, pool, deployment in with_workers:
                worker = stack.enter_context(
                    worker_process(home, pool, poll_interval=POLL_INTERVAL)
                )
                wait_for_worker(client, pool, worker)
                kinds[f"nborch: {PROCESS_MODES[mode]}"] = through_worker(
                    client, home, deployment, pool
                )
            time.sleep(SETTLE)
            for once in kinds.values():  # warm-up round, not counted
                once()
            times: dict[str, list[float]] = {name: [] for name in kinds}
            for _ in range(args.runs):
                for name, once in kinds.items():
                    times[name].append(once())
                    time.sleep(0.2)  # let the worker settle (shut the kernel down, etc.)
    print(f"\nTrigger -> COMPLETED, trivial notebook, {args.runs} runs of each (seconds)")
    print(f"load average before: {load_before}; after: {load_average()}\n")
    print_table(
        ["what", "median", "p99", "min", "max"],
        [[name, median(v), percentile(v, 99), min(v), max(v)] for name, v in times.items()],
    )
    standby = next((v for n, v in times.items() if "standby kernels" in n), None)
    if standby:
        goal = median(standby) < 0.5
        print(f"\ngoal (median below 0.5 s with standby kernels): {'met' if goal else 'NOT met'}")


if __name__ == "__main__":
    main()

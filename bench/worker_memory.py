"""Memory of a process worker: the worker itself (RSS and USS of its own process) and its
standby kernels (their count, RSS and USS), idle and after R runs (default 20), per mode:
standby kernels on (the default: one per free slot, at most 4), off (a kernel started per
run), and `python -m papermill` per run. Each worker is `nborch worker start` with no
--limit, in a fresh pool of its own; it is measured once it has settled.

The goal (issue 10) is on the worker's USS, idle: the memory that is its own (RSS also counts
the pages of shared libraries, which other processes share); the standby kernels' memory is
shown apart. A worker loads papermill, nbclient and nbformat with its first run, so "after
R runs" is what it holds while it works.
"""

from __future__ import annotations

import argparse
import time

import psutil
from common import (
    PROCESS_MODES,
    add_modes_option,
    chosen_modes,
    deploy_trivial,
    load_average,
    print_table,
    process_template,
    temp_home,
    wait_for_worker,
    wait_until_final,
    worker_process,
)

from nborch.client import LocalClient

MIB = 1024 * 1024
SETTLE = 8.0
GOAL_MIB = 60.0


def footprint(pid: int) -> tuple[float, float, int, float, float]:
    """(worker RSS, worker USS, kernels, kernels' RSS, kernels' USS), in MiB."""
    worker = psutil.Process(pid)
    own = worker.memory_full_info()
    kernels = []
    for child in worker.children(recursive=True):
        try:
            if "ipykernel_launcher" in " ".join(child.cmdline()):
                kernels.append(child.memory_full_info())
        except psutil.NoSuchProcess:
            pass
    return (
        own.rss / MIB,
        own.uss / MIB,
        len(kernels),
        sum(k.rss for k in kernels) / MIB,
        sum(k.uss for k in kernels) / MIB,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="runs before the second look (20)")
    add_modes_option(parser)
    args = parser.parse_args()
    load_before = load_average()
    rows = []
    with temp_home() as home:
        client = LocalClient()
        for mode in chosen_modes(args):
            pool = f"memory-{mode}"
            deployment = deploy_trivial(
                client, home, pool, base_job_template=process_template(mode)
            )
            with worker_process(home, pool, poll_interval=30) as worker:
                wait_for_worker(client, pool, worker)
                time.sleep(SETTLE)
                rows.append([PROCESS_MODES[mode], "idle", *footprint(worker.pid)])
                for _ in range(args.runs):
                    run = client.create_run(deployment, parameters={"n": 3})
                    wait_until_final(client, run.id, interval=0.01)
                time.sleep(SETTLE)
                rows.append(
                    [PROCESS_MODES[mode], f"after {args.runs} runs", *footprint(worker.pid)]
                )
    print(f"\nMemory of one process worker (MiB); load average before: {load_before}\n")
    print_table(
        ["mode", "when", "worker RSS", "worker USS", "kernels", "kernels RSS", "kernels USS"],
        rows,
    )
    print(f"\ngoal: the worker itself (its USS) at most {GOAL_MIB:.0f} MiB, idle")
    for mode, when, rss, uss, *_ in rows:
        if when == "idle":
            verdict = "met" if uss <= GOAL_MIB else "NOT met"
            print(f"  {mode}: USS {uss:.1f} MiB (RSS {rss:.1f}): {verdict}")


if __name__ == "__main__":
    main()

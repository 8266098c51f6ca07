"""Ten runs created at once for one worker with `--limit 4`: wall time from the first
`create_run` until all ten are COMPLETED, with the worker already up (its standby kernels
started), on this machine's cores. Per nborch mode (a process pool each: standby kernels,
a kernel started per run, `python -m papermill` per run); each burst is repeated (default 3
times) and the median, best and worst totals are shown, with the load average.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from common import (
    PROCESS_MODES,
    add_modes_option,
    chosen_modes,
    deploy_trivial,
    load_average,
    median,
    print_table,
    process_template,
    temp_home,
    wait_for_worker,
    worker_log,
    worker_process,
)

from nborch.client import LocalClient
from nborch.models import StateType

SETTLE = 8.0  # seconds for the worker to start its standby kernels (and between bursts)


def burst(client: LocalClient, home: Path, pool: str, deployment: str, runs: int) -> float:
    start = time.perf_counter()
    ids = [client.create_run(deployment, parameters={"n": i}).id for i in range(runs)]
    while True:
        found = [client.get_run(run_id) for run_id in ids]
        if all(run.state.is_final for run in found):
            break
        if time.perf_counter() - start > 300:
            raise TimeoutError(f"{pool}: runs not final after 300 s")
        time.sleep(0.01)
    total = time.perf_counter() - start
    bad = [run for run in found if run.state is not StateType.COMPLETED]
    if bad:
        raise RuntimeError(
            f"{pool}: {len(bad)} run(s) did not complete, e.g. {bad[0].state.value}: "
            f"{bad[0].state_message}\n{worker_log(home, pool)[-2000:]}"
        )
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="runs per burst (10)")
    parser.add_argument("--limit", type=int, default=4, help="the worker's --limit (4)")
    parser.add_argument("--repeat", type=int, default=3, help="bursts per mode (3)")
    add_modes_option(parser)
    args = parser.parse_args()
    load_before = load_average()
    rows = []
    with temp_home() as home:
        client = LocalClient()
        for mode in chosen_modes(args):
            pool = f"burst-{mode}"
            deployment = deploy_trivial(
                client, home, pool, base_job_template=process_template(mode)
            )
            totals = []
            with worker_process(home, pool, limit=args.limit, poll_interval=30) as worker:
                wait_for_worker(client, pool, worker)
                for _ in range(args.repeat):
                    time.sleep(SETTLE)
                    totals.append(burst(client, home, pool, deployment, args.runs))
            rows.append(
                [PROCESS_MODES[mode], median(totals), min(totals), max(totals),
                 args.runs / median(totals) * 60]
            )  # fmt: skip
    print(
        f"\n{args.runs} runs created at once, one worker --limit {args.limit}, "
        f"{args.repeat} bursts per mode (seconds)"
    )
    print(f"load average before: {load_before}; after: {load_average()}\n")
    print_table(["mode", "median s", "best s", "worst s", "runs/min"], rows)
    print("\ngoal: ten runs in at most 4 s with standby kernels")


if __name__ == "__main__":
    main()

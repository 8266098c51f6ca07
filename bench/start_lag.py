"""Start lag: from a run's scheduled time to its first cell starting, p50 and p99.

The trivial notebook is deployed, with no schedule, to a fresh process pool, and ONE
long-lived `nborch worker start --poll-interval 2 --limit 4` serves it. Once the worker
has registered, R runs (default 100) are created with `scheduled_time = now + lead +
k * spacing` for k = 1..R (spacing 1 s by default), so they come due one after another; the
lead (default: poll interval + prestart + 1 s) keeps the worker's sleep at the moment the
runs appear out of the first runs' lag. When all are final, for each COMPLETED run the
output notebook's first code cell gives `metadata.papermill.start_time` (UTC): first-cell
lag = that - scheduled time. Also shown: the lag to the claim (the PENDING entry in the
run's history) and to RUNNING (the run's start time), and the runs' duration.

Rows: the process pool (standby kernels, the default); the same with `--prestart 3` when
the worker has that option (asked of `nborch worker start --help`); the process pool
without standby kernels, a kernel started per run and `python -m papermill` per run
(`--no-old-modes` skips these two; `--no-process` all of them); and docker pools (their
runs due every --docker-spacing s, 3 by default: a container run takes longer) when a
Docker engine answers, the docker pool type exists and an image nborch/runtime:* is present
locally (job variables image=<it>, image_pull_policy=Never, auto_remove=true): with standby
containers (the default), with a container started per run (standby_containers 0), and
with standby containers and `--prestart`.
A row that cannot be measured says why.
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
import time
from contextlib import redirect_stdout
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from common import (
    deploy_trivial,
    docker_image,
    load_average,
    nborch_cli,
    percentile,
    print_table,
    process_template,
    remove_containers,
    temp_home,
    wait_for_worker,
    worker_log,
    worker_process,
)

from nborch.client import LocalClient
from nborch.models import FlowRun, StateType
from nborch.timeutil import utcnow


@dataclass
class Setup:
    label: str
    pool: str
    pool_type: str
    runs: int
    spacing: float  # seconds between the runs' scheduled times
    extra_args: tuple[str, ...] = ()
    job_variables: dict[str, Any] | None = None
    prestart: float = 0.0
    mode: str = "standby"  # a process pool's: see common.PROCESS_MODES


def first_cell_start(run: FlowRun) -> datetime | None:
    """When papermill started the output notebook's first code cell (aware UTC)."""
    if not run.output_path or not Path(run.output_path).exists():
        return None
    notebook = json.loads(Path(run.output_path).read_text())
    for cell in notebook.get("cells", []):
        if cell.get("cell_type") != "code":
            continue
        started = cell.get("metadata", {}).get("papermill", {}).get("start_time")
        if not started:
            return None
        moment = datetime.fromisoformat(started)
        if moment.tzinfo is None:  # papermill writes naive UTC (datetime.utcnow())
            moment = moment.replace(tzinfo=timezone.utc)
        return moment.astimezone(timezone.utc)
    return None


def claimed_at(run: FlowRun) -> datetime | None:
    return next((s.timestamp for s in run.history if s.type is StateType.PENDING), None)


def wait_all_final(
    client: LocalClient, ids: list[Any], deadline: float, worker: subprocess.Popen[bytes]
) -> dict[Any, FlowRun]:
    done: dict[Any, FlowRun] = {}
    while len(done) < len(ids):
        for run_id in ids:
            if run_id not in done:
                run = client.get_run(run_id)
                if run.state.is_final:
                    done[run_id] = run
        if len(done) == len(ids):
            break
        if worker.poll() is not None:
            raise RuntimeError(f"the worker exited with code {worker.returncode}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{len(ids) - len(done)} of {len(ids)} runs not final in time")
        time.sleep(0.5)
    return done


def measure(
    client: LocalClient, home: Path, setup: Setup, args: argparse.Namespace, notes: list[str]
) -> list[object]:
    """One row of the table (lags in seconds); what went wrong or is worth knowing goes
    to `notes`."""
    with redirect_stdout(io.StringIO()):  # deploy's summary table
        deployment = deploy_trivial(
            client,
            home,
            setup.pool,
            setup.pool_type,
            setup.job_variables,
            process_template(setup.mode) if setup.pool_type == "process" else None,
        )
    print(f"{setup.label}: {setup.runs} runs, one every {setup.spacing:g} s ...", flush=True)
    with worker_process(
        home,
        setup.pool,
        limit=args.limit,
        poll_interval=args.poll_interval,
        extra_args=setup.extra_args,
    ) as worker:
        wait_for_worker(client, setup.pool, worker)
        # The worker may have just begun a poll interval's sleep when the runs appear: the
        # first one comes due only after that (and the prestart), or its lag would show the
        # sleep. (A scheduler makes runs well ahead of their time anyway.)
        lead = args.poll_interval + setup.prestart + 1 if args.lead is None else args.lead
        base = utcnow() + timedelta(seconds=lead)
        ids, created_late = [], 0
        for k in range(1, setup.runs + 1):
            run = client.create_run(
                deployment, scheduled_time=base + timedelta(seconds=k * setup.spacing)
            )
            created_late += run.created > run.scheduled_time
            ids.append(run.id)
        deadline = time.monotonic() + setup.runs * setup.spacing + args.timeout
        try:
            runs = wait_all_final(client, ids, deadline, worker)
        except (RuntimeError, TimeoutError) as err:
            raise RuntimeError(f"{err}\n{worker_log(home, setup.pool)[-3000:]}") from err
        finally:
            if setup.pool_type == "docker":
                remove_containers(setup.pool)
    completed = [r for r in runs.values() if r.state is StateType.COMPLETED]
    if len(completed) < len(runs):
        failed = next(r for r in runs.values() if r.state is not StateType.COMPLETED)
        print(
            f"  warning: {len(runs) - len(completed)} run(s) did not complete, e.g. "
            f"{failed.state.value}: {failed.state_message}",
            file=sys.stderr,
        )
    if created_late:
        print(f"  warning: {created_late} run(s) were created after their scheduled time")

    def lags(moments: list[tuple[FlowRun, datetime | None]]) -> list[float]:
        return [(m - r.scheduled_time).total_seconds() for r, m in moments if m is not None]

    to_claim = lags([(r, claimed_at(r)) for r in completed])
    to_running = lags([(r, r.start_time) for r in completed])
    to_cell = lags([(r, first_cell_start(r)) for r in completed])
    if len(to_cell) < len(completed):
        print(f"  warning: {len(completed) - len(to_cell)} output notebook(s) without a time")
    durations = [r.duration_seconds or 0.0 for r in completed]
    # Did the worker keep up? Unless every slot is busy, it claims a run at its time (less
    # the prestart; it sleeps until the next run is due) or at the latest one poll later.
    slack = args.poll_interval + 0.5 - setup.prestart
    waited = sum(lag > slack for lag in to_claim)
    if waited:
        notes.append(
            f"{setup.label}: {waited} of {len(to_claim)} runs were claimed more than "
            f"{slack:g} s after their time: all {args.limit} slots were busy (a run takes "
            f"{percentile(durations, 50):.1f} s at p50 and one comes due every "
            f"{setup.spacing:g} s), so their lag includes queueing for a free slot"
        )
    return [
        setup.label, setup.runs, setup.spacing, len(completed),
        percentile(to_claim, 50), percentile(to_running, 50), percentile(to_running, 99),
        percentile(to_cell, 50), percentile(to_cell, 99), max(to_cell, default=float("nan")),
        percentile(durations, 50),
    ]  # fmt: skip


def process_setups(args: argparse.Namespace, worker_help: str, notes: list[str]) -> list[Setup]:
    """The process pool's rows."""
    setups = [Setup("process (standby kernels)", "bench-lag-process", "process", args.runs,
                    args.spacing)]  # fmt: skip
    if "--prestart" in worker_help:
        setups.append(
            Setup(
                f"process --prestart {args.prestart:g}",
                "bench-lag-prestart",
                "process",
                args.runs,
                args.spacing,
                ("--prestart", f"{args.prestart:g}"),
                prestart=args.prestart,
            )
        )
    else:
        notes.append("prestart: not available (`nborch worker start` has no --prestart)")
    if not args.no_old_modes:
        setups += [
            Setup("process, a kernel per run", "bench-lag-fresh", "process", args.runs,
                  args.spacing, mode="fresh-kernel"),
            Setup("process, papermill per run", "bench-lag-subprocess", "process",
                  args.runs, args.spacing, mode="subprocess"),
        ]  # fmt: skip
    return setups


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--runs", type=int, default=100, help="runs per row (100)")
    parser.add_argument(
        "--spacing", type=float, default=1.0, help="seconds between scheduled times (1.0)"
    )
    parser.add_argument(
        "--lead",
        type=float,
        default=None,
        help="seconds added to every scheduled time (default: poll interval + prestart + 1)",
    )
    parser.add_argument("--poll-interval", type=float, default=2.0, help="worker's (2)")
    parser.add_argument("--limit", type=int, default=4, help="the worker's --limit (4)")
    parser.add_argument("--prestart", type=float, default=3.0, help="for the prestart row (3)")
    parser.add_argument("--docker-runs", type=int, default=100, help="runs per docker row (100)")
    parser.add_argument(
        "--docker-spacing",
        type=float,
        default=3.0,
        help="seconds between the docker rows' scheduled times (3.0: a container run takes "
        "longer, and with runs due faster than --limit slots free up, lag is queueing)",
    )
    parser.add_argument("--no-process", action="store_true", help="skip the process rows")
    parser.add_argument("--no-docker", action="store_true", help="skip the docker row")
    parser.add_argument(
        "--no-old-modes",
        action="store_true",
        help="skip the process rows without standby kernels (a kernel per run, papermill)",
    )
    parser.add_argument(
        "--timeout", type=float, default=300, help="seconds allowed after the last run's time"
    )
    args = parser.parse_args()
    notes: list[str] = [f"load average at the start: {load_average()}"]
    with temp_home() as home:
        help_text = nborch_cli("worker", "start", "--help", home=home)
        if help_text.returncode:
            raise SystemExit(f"nborch worker start --help failed: {help_text.stderr}")
        setups = [] if args.no_process else process_setups(args, help_text.stdout, notes)
        if args.no_docker:
            notes.append("docker: skipped (--no-docker)")
        else:
            image, reason = docker_image(home)
            if image is None:
                notes.append(f"docker: skipped, {reason}")
            else:
                job = {"image": image, "image_pull_policy": "Never", "auto_remove": True}
                setups += [
                    Setup(f"docker ({image}), standby containers", "bench-lag-docker", "docker",
                          args.docker_runs, args.docker_spacing, job_variables=job),
                    Setup("docker, a container started per run", "bench-lag-docker-plain",
                          "docker", args.docker_runs, args.docker_spacing,
                          job_variables={**job, "standby_containers": 0}),
                ]  # fmt: skip
                if "--prestart" in help_text.stdout:
                    setups.append(
                        Setup(
                            f"docker --prestart {args.prestart:g}",
                            "bench-lag-docker-prestart",
                            "docker",
                            args.docker_runs,
                            args.docker_spacing,
                            ("--prestart", f"{args.prestart:g}"),
                            job,
                            args.prestart,
                        )
                    )
        client = LocalClient()
        rows = [measure(client, home, setup, args, notes) for setup in setups]
    print(
        f"\nStart lag (seconds after the scheduled time), one worker --limit {args.limit} "
        f"--poll-interval {args.poll_interval:g}, runs due one after another (every s)\n"
    )
    print_table(
        ["pool", "runs", "every s", "completed", "claim p50", "RUNNING p50", "RUNNING p99",
         "1st cell p50", "1st cell p99", "1st cell max", "run s p50"],
        rows,
    )  # fmt: skip
    for note in notes:
        print(f"\n{note}")


if __name__ == "__main__":
    main()

"""Schedules end to end in real time: a worker process alone (its scheduler inside) runs an
interval schedule's runs, each starting on time rather than at the next poll."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import nbformat
import pytest
from support.deployments import HELLO, deploy_hello
from support.processes import WorkerProcess, wait_for

from nborch.client import LocalClient
from nborch.models import StateType
from nborch.timeutil import utcnow

pytestmark = pytest.mark.slow
POLL_INTERVAL = 30.0  # far longer than any start lag below: a run must not wait for a poll


def test_worker_runs_an_every_two_seconds_schedule_on_time(
    sqlite_client: LocalClient, nborch_home: Path
) -> None:
    client = sqlite_client
    client.create_pool("local", "process")
    deployed = subprocess.run(
        [
            sys.executable,
            "-m",
            "nborch.cli.main",
            "deploy",
            str(HELLO),
            "--name",
            "ticker",
            "--pool",
            "local",
            "--interval",
            "2",
            "-p",
            "times=1",
        ],
        capture_output=True,
        text=True,
        env={**os.environ},
        timeout=60,
    )
    assert deployed.returncode == 0, deployed.stderr
    worker = WorkerProcess("--pool", "local", "--poll-interval", str(POLL_INTERVAL))
    try:
        worker.wait_started()
        done = wait_for(
            lambda: (
                (runs := client.list_runs(states=[StateType.COMPLETED])) and len(runs) >= 3 and runs
            ),
            90,
            lambda: worker.output,
        )
    finally:
        worker.stop()
    assert all(run.schedule_id and run.deployment_name == "hello/ticker" for run in done)
    slots = sorted(run.scheduled_time for run in done)
    assert len(set(slots)) == len(slots)
    for run in done:
        assert run.start_time is not None
        lag = (run.start_time - run.scheduled_time).total_seconds()
        assert 0 <= lag < POLL_INTERVAL / 3, (run.name, lag)


def test_prestart_readies_the_kernel_early_and_runs_the_first_cell_on_time(
    sqlite_client: LocalClient, nborch_home: Path
) -> None:
    client = sqlite_client
    client.create_pool("local", "process")
    deploy_hello(client, "local")
    worker = WorkerProcess("--pool", "local", "--poll-interval", "0.5", "--prestart", "15")
    try:
        worker.wait_started()
        due = utcnow() + timedelta(seconds=10)
        run = client.create_run("hello/demo", scheduled_time=due)
        done = wait_for(
            lambda: (r := client.get_run(run.id)).state.is_final and r, 60, lambda: worker.output
        )
    finally:
        worker.stop()
    assert done.state is StateType.COMPLETED, done.state_message
    running = next(h for h in done.history if h.type is StateType.RUNNING)
    assert running.timestamp < due  # taken and launched ahead of its time
    output = nbformat.read(done.output_path, as_version=4)
    first_cell = datetime.fromisoformat(output.cells[1].metadata.papermill.start_time)
    assert first_cell >= due  # ...but the notebook began at its time, not before
    logs = [line.message for line in client.read_logs(run.id)]
    assert any("Kernel ready; the first cell starts in" in line for line in logs)

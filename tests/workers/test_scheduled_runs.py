"""Schedules end to end in real time: a worker process alone (its scheduler inside) runs an
interval schedule's runs, each starting on time rather than at the next poll."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from support.deployments import HELLO
from support.processes import WorkerProcess, wait_for

from nborch.client import LocalClient
from nborch.models import StateType

pytestmark = pytest.mark.slow
POLL_INTERVAL = 30.0  # far longer than any start lag below: a run must not wait for a poll


def test_worker_runs_an_every_two_seconds_schedule_on_time(sqlite_client: LocalClient,
                                                           nborch_home: Path) -> None:
    client = sqlite_client
    client.create_pool("local", "process")
    deployed = subprocess.run(
        [sys.executable, "-m", "nborch.cli.main", "deploy", str(HELLO), "--name", "ticker",
         "--pool", "local", "--interval", "2", "-p", "times=1"],
        capture_output=True, text=True, env={**os.environ}, timeout=60,
    )
    assert deployed.returncode == 0, deployed.stderr
    worker = WorkerProcess("--pool", "local", "--poll-interval", str(POLL_INTERVAL))
    try:
        worker.wait_started()
        done = wait_for(
            lambda: (runs := client.list_runs(states=[StateType.COMPLETED])) and len(runs) >= 3
            and runs,
            90, lambda: worker.output,
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

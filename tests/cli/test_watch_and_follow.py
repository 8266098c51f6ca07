"""`deployment run --watch` and `flow-run logs --follow` against a live worker: the
notebook's output as it comes, then the final state; exit codes follow the state."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.deployments import HELLO
from support.notebooks import failing_notebook
from support.processes import WorkerProcess

pytestmark = pytest.mark.slow


def nborch(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "nborch.cli.main", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ},
    )


@pytest.fixture
def worker(nborch_home: Path) -> Iterator[WorkerProcess]:
    assert nborch("work-pool", "create", "local").returncode == 0
    worker = WorkerProcess("--pool", "local", "--poll-interval", "0.2")
    worker.wait_started()
    yield worker
    worker.stop()


def test_watch_streams_the_notebook_output_and_the_final_state(worker: WorkerProcess) -> None:
    assert nborch("deploy", HELLO, "--name", "demo", "--pool", "local").returncode == 0
    done = nborch(
        "deployment", "run", "hello/demo", "-p", "name=Watcher", "-p", "times=2", "--watch"
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert out.index("1: Hello, Watcher.") < out.index("2: Hello, Watcher.")
    assert "finished in state COMPLETED" in out
    assert "Output notebook:" in out
    run_id = json.loads(nborch("flow-run", "ls", "--json").stdout)[0]["id"]
    followed = nborch("flow-run", "logs", run_id, "--follow")
    assert followed.returncode == 0 and "2: Hello, Watcher." in followed.stdout
    assert "Claimed flow run" in worker.output


def test_watch_exits_non_zero_when_the_run_fails(worker: WorkerProcess, tmp_path: Path) -> None:
    notebook = failing_notebook(tmp_path / "fails.ipynb")
    assert nborch("deploy", notebook, "--name", "demo", "--pool", "local").returncode == 0
    done = nborch("deployment", "run", "fails/demo", "--watch")
    assert done.returncode == 1
    assert "before the failure" in done.stdout
    assert "finished in state FAILED" in done.stdout and "ZeroDivisionError" in done.stdout

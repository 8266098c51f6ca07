"""One kernel's failure costs one attempt of one run, never the worker: a kernel that cannot
start is replaced once, then the run ends CRASHED saying why; a worker told to stop stops,
whatever its launches are waiting for; a run whose kernel shows no sign of life is ended by
the watchdog. Real workers, real kernels; a stuck kernel loop is made by blocking the real
loop."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.deployments import deploy_notebook
from support.kernelspecs import busy_port_kernel, never_ready_kernel
from support.notebooks import make_notebook, sleeping_notebook
from support.processes import WorkerProcess, wait_for
from support.threads import blocked_in, thread_named
from support.workers import create_process_pool, final_run, logged, start_worker

from nborch.client import LocalClient
from nborch.models import StateType
from nborch.settings import reset_settings
from nborch.workers.process import ProcessWorker

pytestmark = pytest.mark.slow


@pytest.fixture
def jupyter_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where the test's own kernel specifications go (seen by the workers it starts)."""
    path = tmp_path / "jupyter"
    monkeypatch.setenv("JUPYTER_PATH", str(path))
    return path


@pytest.mark.parametrize("mode", ["standby", "fresh-kernel"])
def test_a_kernel_that_cannot_bind_its_port_costs_one_run_not_the_worker(
    sqlite_client: LocalClient,
    workers: list[WorkerProcess],
    jupyter_path: Path,
    tmp_path: Path,
    mode: str,
) -> None:
    client = sqlite_client
    create_process_pool(client, "local", mode)
    notebook = make_notebook(tmp_path / "nb.ipynb", "n: int = 0", "print('ran', n)")
    deploy_notebook(client, notebook, "local")
    with busy_port_kernel(jupyter_path) as busy:
        bad = client.create_run("nb/demo", job_variables={"kernel_name": busy})
        worker = start_worker(workers, "--pool", "local", "--limit", "1")
        done = final_run(client, bad)
        assert done.state is StateType.CRASHED, done.state_message
        assert "The kernel died while starting" in done.state_message
        assert "Address already in use" in done.state_message
        # Retried once on a fresh kernel, then given up.
        retries = [
            line.message
            for line in client.read_logs(bad.id)
            if "Starting the run on a fresh kernel" in line.message
        ]
        assert len(retries) == 1, retries
        # The same worker runs the next run.
        good = client.create_run("nb/demo", parameters={"n": 7})
        assert final_run(client, good).state is StateType.COMPLETED
        assert "ran 7" in logged(client, good, "ran 7")
    assert worker.alive


def test_a_worker_stopped_while_a_launch_waits_for_its_kernel_stops_within_its_grace(
    sqlite_client: LocalClient,
    workers: list[WorkerProcess],
    jupyter_path: Path,
    tmp_path: Path,
) -> None:
    client = sqlite_client
    create_process_pool(client, "local", "fresh-kernel")
    notebook = make_notebook(tmp_path / "nb.ipynb", None, "print('never')")
    deploy_notebook(client, notebook, "local")
    run = client.create_run(
        "nb/demo", job_variables={"kernel_name": never_ready_kernel(jupyter_path)}
    )
    worker = start_worker(workers, "--pool", "local", env={"NBORCH_STOP_GRACE_PERIOD": "1"})
    wait_for(lambda: client.get_run(run.id).state is StateType.RUNNING, 30)
    worker.process.send_signal(signal.SIGTERM)
    # The kernel would take 60 s to give up starting: the grace of 1 s decides.
    assert worker.process.wait(timeout=30) == 0, worker.output
    done = client.get_run(run.id)
    assert done.state is StateType.CRASHED and "was stopped" in done.state_message


@pytest.fixture
def in_process_worker(
    sqlite_client: LocalClient, fast_settings: None, monkeypatch: pytest.MonkeyPatch
) -> Iterator[ProcessWorker]:
    """A process worker on a thread of this process (so that the test can reach its kernel
    loop), with fresh kernels, a silent-run timeout of 1 s and a stop grace of 60 s."""
    monkeypatch.setenv("NBORCH_SILENT_RUN_TIMEOUT", "1")
    monkeypatch.setenv("NBORCH_STOP_GRACE_PERIOD", "60")
    reset_settings()
    create_process_pool(sqlite_client, "local", "fresh-kernel")
    worker = ProcessWorker(sqlite_client, "local", limit=1, poll_interval=0.2, echo=print)
    thread = threading.Thread(target=worker.start, daemon=True)
    thread.start()
    assert worker.started.wait(30)
    yield worker
    worker.request_stop(force=True)
    thread.join(60)


def block_kernel_loop(worker: ProcessWorker, seconds: float) -> None:
    """Block the worker's kernel loop (as a blocking zmq send once did)."""
    worker.kernel_runs.loop.call(time.sleep, seconds)


def test_a_second_signal_stops_at_once_though_a_launch_is_stuck(
    in_process_worker: ProcessWorker, sqlite_client: LocalClient, tmp_path: Path
) -> None:
    client, worker = sqlite_client, in_process_worker
    deploy_notebook(client, make_notebook(tmp_path / "nb.ipynb", None, "print(1)"), "local")
    block_kernel_loop(worker, 20)
    run = client.create_run("nb/demo")
    wait_for(lambda: client.get_run(run.id).state is StateType.RUNNING, 30)
    # Its launch now waits on the blocked loop.
    wait_for(lambda: blocked_in(thread_named(f"run-{run.id}"), "launch", "kernel_runs.py"), 30)
    stopping = threading.Thread(target=worker.request_stop, args=(True,), daemon=True)
    stopping.start()
    stopping.join(10)  # the loop stays blocked for 20 s
    assert not stopping.is_alive(), "the stop waited for the stuck launch"
    done = client.get_run(run.id)
    assert done.state is StateType.CRASHED and "was stopped" in done.state_message
    wait_for(lambda: worker.kernel_runs.loop.responds(1), 30)  # let it clean up


def test_the_watchdog_crashes_a_run_whose_kernel_shows_no_sign_of_life(
    in_process_worker: ProcessWorker, sqlite_client: LocalClient, tmp_path: Path
) -> None:
    client, worker = sqlite_client, in_process_worker
    deploy_notebook(client, sleeping_notebook(tmp_path / "sleeps.ipynb"), "local")
    run = client.create_run("sleeps/demo", parameters={"seconds": 60})
    logged(client, run, "started")
    block_kernel_loop(worker, 15)
    done = final_run(client, run, timeout=12)  # well before the loop or the cell ends
    assert done.state is StateType.CRASHED, done.state_message
    assert "No sign of life from the run for 1 s" in done.state_message
    assert "kernel loop has not answered" in done.state_message
    wait_for(lambda: worker.kernel_runs.loop.responds(1), 30)

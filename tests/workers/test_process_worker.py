"""The process worker end to end: real `nborch worker start` processes, real kernels, each
test in every way a process pool runs notebooks (`mode`): from the worker on standby
kernels, from the worker on a kernel started for the run, and `python -m papermill` in a
subprocess. Isolation, cancellation, crash detection, logs and the output notebook must not
depend on it."""

from __future__ import annotations

import os
import re
import signal
import uuid
from pathlib import Path

import nbformat
import psutil
import pytest
from support.deployments import deploy_hello, deploy_notebook
from support.notebooks import failing_notebook, make_notebook, sleeping_notebook
from support.processes import WorkerProcess, wait_for
from support.workers import (
    CRASH_DETECTION,
    PROCESS_MODES,
    create_process_pool,
    final_run,
    start_worker,
)

from nborch.client import LocalClient
from nborch.models import FlowRun, StateType

pytestmark = pytest.mark.slow


@pytest.fixture(params=PROCESS_MODES)
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


class Sleeper:
    """A `local` process pool with the sleeping notebook deployed as `sleeps/demo`."""

    def __init__(self, client: LocalClient, folder: Path, mode: str) -> None:
        self.client = client
        self.folder = folder
        self.notebook = sleeping_notebook(folder / "sleeps.ipynb")
        create_process_pool(client, "local", mode)

    def deploy(self, **options: object) -> Sleeper:
        deploy_notebook(self.client, self.notebook, "local", **options)
        return self

    def run(self, seconds: float, **parameters: object) -> tuple[FlowRun, Path]:
        pid_file = self.folder / f"kernel-{uuid.uuid4()}.pid"
        run = self.client.create_run(
            "sleeps/demo",
            parameters={"seconds": seconds, "pid_file": str(pid_file), **parameters},
        )
        return run, pid_file


def kernel_pid(pid_file: Path) -> int:
    """The pid the notebook's kernel wrote once it started running."""
    return int(wait_for(lambda: pid_file.exists() and pid_file.read_text(), 60))


@pytest.fixture
def sleeper(sqlite_client: LocalClient, tmp_path: Path, mode: str) -> Sleeper:
    return Sleeper(sqlite_client, tmp_path, mode)


def test_worker_runs_a_deployment_with_parameters(
    sqlite_client: LocalClient, workers: list[WorkerProcess], mode: str
) -> None:
    client = sqlite_client
    create_process_pool(client, "local", mode)
    deploy_hello(client, "local", parameters={"times": 3})
    run = client.create_run("hello/demo", parameters={"name": "Ada", "excited": True})
    worker = start_worker(workers, "--pool", "local")
    assert re.fullmatch(r"Worker 'ProcessWorker [0-9a-f-]{36}' started!", worker.lines[0])
    done = final_run(client, run)
    assert done.state is StateType.COMPLETED, done.state_message
    assert [h.type for h in done.history] == [
        StateType.SCHEDULED,
        StateType.PENDING,
        StateType.RUNNING,
        StateType.COMPLETED,
    ]
    assert done.worker_name and done.worker_name.startswith("ProcessWorker ")
    assert done.infrastructure_id and done.infrastructure_id.startswith("pid ")
    output = nbformat.read(done.output_path, as_version=4)
    injected = [c for c in output.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert injected and 'name = "Ada"' in injected[0].source and "times = 3" in injected[0].source
    logs = [line.message for line in client.read_logs(run.id)]
    assert "3: Hello, Ada!" in logs
    assert logs[0] == f"Input Notebook:  {done.input_path}"  # papermill's own lines, as always
    assert "Executing Cell 1---------------------------------------" in logs
    assert all(cell.metadata.papermill.end_time for cell in output.cells)  # saved per cell
    assert client.get_pool("local").status.value == "READY"


def test_a_run_knows_its_id_and_runs_in_its_folder_with_its_environment(
    sqlite_client: LocalClient, workers: list[WorkerProcess], tmp_path: Path, mode: str
) -> None:
    client = sqlite_client
    create_process_pool(client, "local", mode)
    folder = tmp_path / "where"
    notebook = make_notebook(
        folder / "where.ipynb",
        "x: int = 0",
        "import os\nprint('id', os.environ['NBORCH_FLOW_RUN_ID'])\n"
        "print('cwd', os.getcwd())\nprint('stage', os.environ.get('STAGE'))",
    )
    deploy_notebook(client, notebook, "local", job_variables={"env": {"STAGE": "test"}})
    runs = [client.create_run("where/demo", parameters={"x": i}) for i in range(2)]
    start_worker(workers, "--pool", "local")
    for run in runs:
        done = final_run(client, run)
        assert done.state is StateType.COMPLETED, done.state_message
        logs = [line.message for line in client.read_logs(run.id)]
        assert f"id {run.id}" in logs
        assert f"cwd {folder}" in logs
        assert "stage test" in logs


def test_a_cell_over_the_timeout_fails_the_run(
    sqlite_client: LocalClient, workers: list[WorkerProcess], tmp_path: Path, mode: str
) -> None:
    client = sqlite_client
    create_process_pool(client, "local", mode)
    notebook = make_notebook(
        tmp_path / "slow.ipynb", "seconds: float = 60", "import time", "time.sleep(seconds)"
    )
    deploy_notebook(client, notebook, "local", job_variables={"execution_timeout": 2})
    run = client.create_run("slow/demo")
    start_worker(workers, "--pool", "local")
    done = final_run(client, run, timeout=60)
    assert done.state is StateType.FAILED, (done.state, done.state_message)
    assert done.state_message.startswith("Cell execution timed out"), done.state_message


def test_failed_notebook_names_its_cell_and_keeps_partial_output(
    sqlite_client: LocalClient, workers: list[WorkerProcess], tmp_path: Path, mode: str
) -> None:
    client = sqlite_client
    create_process_pool(client, "local", mode)
    deploy_notebook(client, failing_notebook(tmp_path / "fails.ipynb"), "local")
    run = client.create_run("fails/demo")
    start_worker(workers, "--pool", "local")
    done = final_run(client, run)
    assert done.state is StateType.FAILED
    assert done.failure and done.failure.ename == "ZeroDivisionError"
    assert "10 / divisor" in done.failure.source
    assert "ZeroDivisionError" in done.state_message
    output = nbformat.read(done.output_path, as_version=4)
    printed = [o.get("text", "") for c in output.cells if c.cell_type == "code" for o in c.outputs]
    assert "before the failure\n" in printed
    assert not any("never printed" in text for text in printed)


def test_limit_caps_runs_at_once(sleeper: Sleeper, workers: list[WorkerProcess]) -> None:
    client = sleeper.deploy().client
    runs = [sleeper.run(2.0, marker=f"r{i}")[0] for i in range(4)]
    start_worker(workers, "--pool", "local", "--limit", "2")
    spans = []
    for run in runs:
        done = final_run(client, run, timeout=120)
        assert done.state is StateType.COMPLETED, done.state_message
        logs = [line.message.split() for line in client.read_logs(run.id)]
        began = next(float(w[2]) for w in logs if w[:1] == ["started"])
        ended = next(float(w[2]) for w in logs if w[:1] == ["finished"])
        spans.append((began, ended))
    most_at_once = max(sum(1 for b, e in spans if b <= t < e) for t, _ in spans)
    assert most_at_once == 2


def test_cancel_kills_papermill_and_the_kernel(
    sleeper: Sleeper, workers: list[WorkerProcess]
) -> None:
    client = sleeper.deploy().client
    run, pid_file = sleeper.run(120.0)
    start_worker(workers, "--pool", "local")
    kernel = kernel_pid(pid_file)
    assert psutil.pid_exists(kernel)
    assert client.cancel_run(run.id).state is StateType.CANCELLING
    done = final_run(client, run, timeout=15)
    assert done.state is StateType.CANCELLED
    wait_for(lambda: not _alive(kernel), 10, lambda: f"kernel {kernel} still alive")


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_killed_worker_crashes_its_run_which_another_worker_retries(
    sleeper: Sleeper, workers: list[WorkerProcess]
) -> None:
    client = sleeper.deploy(retries=1).client
    run, pid_file = sleeper.run(3.0)
    doomed = start_worker(workers, "--pool", "local")
    kernel_pid(pid_file)
    doomed.process.send_signal(signal.SIGKILL)
    doomed.process.wait()
    # Its scheduler notices the dead worker: no heartbeat for 3 s.
    start_worker(workers, "--pool", "local", env=CRASH_DETECTION)
    done = final_run(client, run, timeout=90)
    kinds = [h.type for h in done.history]
    assert StateType.CRASHED in kinds, kinds
    assert kinds[-1] is StateType.COMPLETED and done.run_count == 2
    crashed = next(h for h in done.history if h.type is StateType.CRASHED)
    assert "stopped heartbeating" in crashed.message


def test_sigterm_lets_the_run_finish_then_stops(
    sleeper: Sleeper, workers: list[WorkerProcess]
) -> None:
    client = sleeper.deploy().client
    run, pid_file = sleeper.run(2.0)
    waiting, _ = sleeper.run(0.0)
    worker = start_worker(workers, "--pool", "local", "--limit", "1")
    kernel_pid(pid_file)
    worker.process.send_signal(signal.SIGTERM)
    assert worker.process.wait(timeout=60) == 0
    assert client.get_run(run.id).state is StateType.COMPLETED
    assert client.get_run(waiting.id).state is StateType.SCHEDULED  # never claimed
    assert "stopped." in worker.output
    assert [w.status.value for w in client.list_workers("local")] == ["OFFLINE"]


def test_second_sigterm_stops_the_run_and_crashes_it(
    sleeper: Sleeper, workers: list[WorkerProcess]
) -> None:
    client = sleeper.deploy().client
    run, pid_file = sleeper.run(120.0)
    worker = start_worker(workers, "--pool", "local")
    kernel = kernel_pid(pid_file)
    worker.process.send_signal(signal.SIGTERM)
    wait_for(lambda: "waiting for 1 run" in worker.output, 10, lambda: worker.output)
    worker.process.send_signal(signal.SIGTERM)
    assert worker.process.wait(timeout=30) == 0
    done = client.get_run(run.id)
    assert done.state is StateType.CRASHED and "was stopped" in done.state_message
    wait_for(lambda: not _alive(kernel), 10)


def test_a_dying_kernel_crashes_the_run(
    sqlite_client: LocalClient, workers: list[WorkerProcess], tmp_path: Path, mode: str
) -> None:
    client = sqlite_client
    create_process_pool(client, "local", mode)
    notebook = make_notebook(tmp_path / "dies.ipynb", "code: int = 3", "import os\nos._exit(code)")
    deploy_notebook(client, notebook, "local")
    run = client.create_run("dies/demo")
    start_worker(workers, "--pool", "local")
    done = final_run(client, run)
    assert done.state is StateType.CRASHED, (done.state, done.state_message)
    assert "kernel died" in done.state_message


def test_run_once_takes_what_is_due_and_exits(
    sqlite_client: LocalClient, fast_settings: None, mode: str
) -> None:
    client = sqlite_client
    create_process_pool(client, "local", mode)
    deploy_hello(client, "local")
    runs = [client.create_run("hello/demo", parameters={"times": i}) for i in (1, 2)]
    worker = WorkerProcess("--pool", "local", "--run-once")
    assert worker.process.wait(timeout=120) == 0
    assert [client.get_run(r.id).state for r in runs] == [StateType.COMPLETED] * 2
    assert os.path.exists(client.get_run(runs[0].id).output_path or "")


def test_worker_for_an_unknown_pool_says_how_to_create_it(nborch_home: Path) -> None:
    worker = WorkerProcess("--pool", "ghost")
    assert worker.process.wait(timeout=60) == 1
    worker._reader.join(timeout=5)
    assert "Work pool 'ghost' not found" in worker.output
    assert "Traceback" not in worker.output

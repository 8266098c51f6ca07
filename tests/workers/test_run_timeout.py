"""A run's timeout, end to end: a real `nborch worker start` and real kernels, in every way a
process pool runs notebooks. A run past its timeout is stopped (its kernel ends), ends
FAILED saying in which cell it timed out, and keeps its output notebook so far, the cell
that was running marked as papermill marks a cell that raised."""

from __future__ import annotations

from pathlib import Path

import nbformat
import psutil
import pytest
from support.deployments import deploy_notebook
from support.notebooks import make_notebook
from support.processes import WorkerProcess, wait_for
from support.workers import PROCESS_MODES, create_process_pool, final_run, start_worker

from nborch.client import LocalClient
from nborch.execution.outcome import RUN_TIMEOUT
from nborch.models import StateType

pytestmark = pytest.mark.slow

# Long enough for a kernel to start on a busy machine (it counts from RUNNING, the kernel's
# start included), so that the sleeping cell is the one running when it passes.
TIMEOUT = 20


def slow_notebook(path: Path) -> Path:
    """Cell 3 prints; cell 4 writes its kernel's pid, then sleeps (papermill's numbering:
    the parameters and the injected parameters are cells 1 and 2)."""
    return make_notebook(
        path,
        'pid_file: str = ""',
        "print('the first cell ran', flush=True)",
        "import os, time\nopen(pid_file, 'w').write(str(os.getpid()))\ntime.sleep(300)",
    )


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@pytest.mark.parametrize("mode", PROCESS_MODES)
def test_a_run_past_its_timeout_is_stopped_and_fails_with_its_cell_marked(
    sqlite_client: LocalClient, workers: list[WorkerProcess], tmp_path: Path, mode: str
) -> None:
    client = sqlite_client
    create_process_pool(client, "local", mode)
    # Retried on failures only: a timeout is not one, so it ends here.
    notebook = slow_notebook(tmp_path / "slow.ipynb")
    deploy_notebook(client, notebook, "local", timeout=TIMEOUT, retries=1, retry_on="failed")
    pid_file = tmp_path / "kernel.pid"
    run = client.create_run("slow/demo", parameters={"pid_file": str(pid_file)})
    start_worker(workers, "--pool", "local")
    kernel = int(wait_for(lambda: pid_file.exists() and pid_file.read_text(), TIMEOUT))
    done = final_run(client, run, timeout=60)
    assert done.state is StateType.FAILED, done.state_message
    assert done.state_message.startswith("Timed out in cell 4 after "), done.state_message
    assert done.state_message.endswith(f"(the run's timeout is {TIMEOUT} s)")
    assert [h.type for h in done.history][-2:] == [StateType.RUNNING, StateType.FAILED]
    assert done.run_count == 1  # not retried: the store knew it for a timeout
    assert done.failure is not None and done.failure.ename == RUN_TIMEOUT
    wait_for(lambda: not _alive(kernel), 15, lambda: f"kernel {kernel} still alive")

    assert done.output_path
    output = nbformat.read(done.output_path, as_version=4)
    marked = [c for c in output.cells if c.metadata.get("papermill", {}).get("exception")]
    assert len(marked) == 1 and "time.sleep(300)" in marked[0].source
    assert marked[0].metadata.papermill.status == "failed"
    errors = [o for o in marked[0].outputs if o.output_type == "error"]
    assert [e.ename for e in errors] == [RUN_TIMEOUT]
    assert errors[0].evalue.startswith("The run timed out after ")
    printed = next(c for c in output.cells if "the first cell ran" in c.source)
    assert "the first cell ran" in printed.outputs[0].text  # what ran before is kept
    assert "papermill-error-cell-tag" in output.cells[0].metadata.get("tags", [])


def test_a_run_of_nborch_run_or_a_flow_cell_has_a_timeout_too(
    sqlite_client: LocalClient, fast_settings: None, tmp_path: Path
) -> None:
    """`nborch run --timeout` and `%%flow --timeout` run the notebook here, on a worker of
    their own (`run_notebook_here`): its watchdog stops the run all the same."""
    from nborch.workers.inline import run_notebook_here

    pid_file = tmp_path / "kernel.pid"
    notebook = slow_notebook(tmp_path / "slow.ipynb")
    done = run_notebook_here(
        sqlite_client, notebook, parameters={"pid_file": str(pid_file)}, timeout=TIMEOUT
    )
    assert done.state is StateType.FAILED, done.state_message
    assert done.state_message.startswith("Timed out in cell 4 after "), done.state_message
    assert done.timeout_seconds == TIMEOUT
    assert done.failure is not None and done.failure.ename == RUN_TIMEOUT
    assert not _alive(int(pid_file.read_text()))

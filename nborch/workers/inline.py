"""Running one notebook here and now, tracked like any run (`nborch run`)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nborch.client import NborchClient
from nborch.execution.notebooks import default_flow_name, load_notebook
from nborch.jobs import validate_job_variables
from nborch.models import FlowRun
from nborch.workers.process import ProcessWorker


def run_notebook_here(
    client: NborchClient,
    input_path: str | Path,
    output_path: str | Path | None = None,
    *,
    parameters: dict[str, Any] | None = None,
    flow_name: str | None = None,
    kernel_name: str | None = None,
    cwd: str | Path | None = None,
    execution_timeout: float | None = None,
    timeout: float | None = None,
    log_output: bool = True,
    tee: Callable[[str], None] | None = None,
) -> FlowRun:
    """Execute the notebook with papermill in a subprocess and return the finished run.

    The run is stored (state history, logs, output notebook) and this process heartbeats
    for it, so a run whose caller is killed is marked CRASHED like any other. Past `timeout`
    seconds (the whole run) it is stopped and ends FAILED, timed out.
    """
    notebook = Path(input_path).expanduser()
    load_notebook(notebook)  # a clear error for a missing or broken file, before anything
    notebook = notebook.resolve()
    worker = ProcessWorker(
        client, None, name=f"nborch run {uuid.uuid4()}", tee=tee, run_scheduler=False
    )
    job_variables = {
        "kernel_name": kernel_name,
        "execution_timeout": execution_timeout,
        "working_dir": str(Path(cwd).resolve()) if cwd else None,
        "stream_output": log_output,
    }
    validate_job_variables(worker.job_template, job_variables, owner="nborch run")
    with worker.online():
        run = client.create_adhoc_run(
            flow_name or default_flow_name(notebook),
            str(notebook),
            parameters=dict(parameters or {}),
            job_variables=job_variables,
            output_path=str(Path(output_path).resolve()) if output_path else None,
            cwd=str(notebook.parent),
            worker_id=worker.id,
            timeout_seconds=timeout,
        )
        return worker.execute(run)

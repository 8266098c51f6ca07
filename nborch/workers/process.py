"""The `process` pool's worker: each run is papermill in a subprocess of its own."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nborch.errors import NborchError
from nborch.execution.papermill_command import START_AT, papermill_argv, write_parameters_file
from nborch.models import FlowRun, PoolType
from nborch.settings import get_settings
from nborch.timeutil import utcnow
from nborch.workers.base import BaseWorker
from nborch.workers.logs import LogShipper
from nborch.workers.processes import terminate_process_tree

PAPERMILL = [sys.executable, "-m", "papermill"]
# For runs launched ahead of their time: papermill with nborch's engine, which holds the
# first cell until then.
TIMED_PAPERMILL = [sys.executable, "-m", "nborch.execution.timed_papermill"]


@dataclass
class ProcessHandle:
    process: subprocess.Popen[str]
    reader: threading.Thread


class ProcessWorker(BaseWorker):
    pool_type = PoolType.PROCESS
    holds_first_cell = True  # nborch's papermill engine waits after the kernel is ready

    def launch(self, run: FlowRun, job: dict[str, Any], log: LogShipper) -> ProcessHandle:
        assert run.output_path, "every run has an output path"
        output = Path(run.output_path)
        parameters_file = write_parameters_file(output.parent / "parameters.yaml", run.parameters)
        cwd = job.get("working_dir") or run.cwd or str(Path(run.input_path).parent)
        if not Path(cwd).is_dir():
            raise NborchError(
                f"Working directory '{cwd}' does not exist on this worker. Create it, or set "
                "the job variable working_dir to a folder that exists."
            )
        early = run.scheduled_time > utcnow()
        argv = papermill_argv(
            TIMED_PAPERMILL if early else PAPERMILL,
            run.input_path,
            str(output),
            parameters_file=str(parameters_file),
            cwd=cwd,
            kernel_name=job.get("kernel_name"),
            execution_timeout=job.get("execution_timeout"),
            log_output=job.get("stream_output", True),
            # Launched before its time (--prestart): the kernel starts now, cells on time.
            engine="nborch" if early else None,
        )
        env = {
            **os.environ,
            **(job.get("env") or {}),
            "NBORCH_FLOW_RUN_ID": str(run.id),
            "NBORCH_HOME": str(get_settings().home),
            "PYTHONUNBUFFERED": "1",
        }
        if early:
            env[START_AT] = str(run.scheduled_time.timestamp())
        process = subprocess.Popen(
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            text=True,
            bufsize=1,
            start_new_session=True,
            errors="replace",
        )
        reader = threading.Thread(target=_copy_lines, args=(process, log), daemon=True)
        reader.start()
        return ProcessHandle(process, reader)

    def wait(self, handle: ProcessHandle) -> int:
        exit_code = handle.process.wait()
        handle.reader.join()
        return exit_code

    def stop(self, handle: ProcessHandle) -> None:
        terminate_process_tree(handle.process.pid, get_settings().kill_grace_period)

    def infrastructure_id(self, handle: ProcessHandle) -> str:
        return f"pid {handle.process.pid}"


def _copy_lines(process: subprocess.Popen[str], log: LogShipper) -> None:
    assert process.stdout is not None
    for line in process.stdout:
        log.write(line.rstrip("\n"))

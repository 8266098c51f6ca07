"""The `process` pool's worker.

By default each run executes from the worker's own process on a kernel of its own, taken
from the worker's standby kernels when one fits (`kernel_runs`): no interpreter is started
for papermill. A run whose job says `in_process: false` is papermill's command line in a
subprocess of its own (with nborch's engine: see `execution.timed_papermill`), as before
standby kernels.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from nborch.errors import NborchError
from nborch.execution.papermill_command import START_AT, papermill_argv, write_parameters_file
from nborch.jobs.variables import ProcessJob
from nborch.models import FlowRun, PoolType
from nborch.settings import get_settings
from nborch.timeutil import utcnow
from nborch.workers.base import BaseWorker
from nborch.workers.logs import LogShipper
from nborch.workers.processes import terminate_process_tree
from nborch.workers.standby_recipes import learn_recent_recipes, standby_cap, working_directory

if TYPE_CHECKING:  # imported when a run first needs them: jupyter_client, papermill
    from nborch.workers.kernel_runs import KernelRunHandle, KernelRuns

# papermill's command line with nborch's engine: its kernel talks over IPC (no TCP port to
# race other kernels for), and a run launched ahead of its time holds its first cell until
# then.
TIMED_PAPERMILL = [sys.executable, "-m", "nborch.execution.timed_papermill"]


@dataclass
class ProcessHandle:
    process: subprocess.Popen[str]
    reader: threading.Thread


class ProcessWorker(BaseWorker[ProcessJob]):
    pool_type = PoolType.PROCESS
    job_type = ProcessJob
    holds_first_cell = True  # the kernel starts ahead; the first cell waits for the time

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._kernel_runs: KernelRuns | None = None
        self._kernel_runs_lock = threading.Lock()
        self._execution_loaded = False  # see run_coming

    # ---- the worker's kernels ----------------------------------------------------------------

    @contextmanager
    def online(self) -> Iterator[None]:
        """Online, with standby kernels when the pool wants them (shut down at the end)."""
        # None for a run here and now (`nborch run`) or a worker that exits once it has run
        # what is due (--run-once): nothing would take them.
        keeps_running = self.pool_name and not self.run_once
        cap = standby_cap(self.job_template, self.job_type) if keeps_running else 0
        if cap:
            from nborch.workers.kernel_runs import KernelRuns

            with self._kernel_runs_lock:
                self._kernel_runs = KernelRuns(
                    wanted=lambda: self.standby_wanted(cap),
                    on_error=lambda message: self.echo(f"nborch worker: {message}"),
                )
            self._in_background("standby-recipes", learn_recent_recipes, self)
        try:
            with super().online():
                yield
        finally:
            with self._kernel_runs_lock:
                kernel_runs, self._kernel_runs = self._kernel_runs, None
            if kernel_runs is not None:
                kernel_runs.close()

    @property
    def kernel_runs(self) -> KernelRuns:
        with self._kernel_runs_lock:
            if self._kernel_runs is None:  # no standby: made when a run first needs it
                from nborch.workers.kernel_runs import KernelRuns

                self._kernel_runs = KernelRuns()
            return self._kernel_runs

    def run_coming(self) -> None:
        """Load what executing a run needs (papermill, nbclient, nbformat) before the first
        scheduled run's time, not at it: an idle worker goes without them, but a run on
        its way would otherwise pay their import as start lag."""
        with self._kernel_runs_lock:
            if self._kernel_runs is None or self._execution_loaded:
                return
            self._execution_loaded = True
        self._in_background(
            "load-execution", importlib.import_module, "nborch.execution.in_process"
        )

    def standby_wanted(self, cap: int) -> int:
        """Standby kernels to keep: one per free slot (at least one, for the run that takes
        the next slot to free), at most `cap`."""
        free = self.limit - self.active_runs if self.limit else cap
        return min(cap, max(1, free))

    # ---- one run -----------------------------------------------------------------------------

    def launch(
        self, run: FlowRun, job: ProcessJob, log: LogShipper
    ) -> ProcessHandle | KernelRunHandle:
        assert run.output_path, "every run has an output path"
        output = Path(run.output_path)
        parameters_file = write_parameters_file(output.parent / "parameters.yaml", run.parameters)
        cwd = working_directory(run, job)
        if not Path(cwd).is_dir():
            raise NborchError(
                f"Working directory '{cwd}' does not exist on this worker. Create it, or set "
                "the job variable working_dir to a folder that exists."
            )
        if job.in_process:
            # The parameters as papermill reads them from its -f file.
            parameters = yaml.safe_load(parameters_file.read_text()) or {}
            return self.kernel_runs.launch(run, job, log, cwd=cwd, parameters=parameters)
        return self._launch_papermill(run, job, log, cwd, parameters_file)

    def _launch_papermill(
        self, run: FlowRun, job: ProcessJob, log: LogShipper, cwd: str, parameters_file: Path
    ) -> ProcessHandle:
        assert run.output_path
        early = run.scheduled_time > utcnow()
        argv = papermill_argv(
            TIMED_PAPERMILL,
            run.input_path,
            run.output_path,
            parameters_file=str(parameters_file),
            cwd=cwd,
            kernel_name=job.kernel_name,
            execution_timeout=job.execution_timeout,
            log_output=job.stream_output,
            engine="nborch",
        )
        env = {
            **os.environ,
            **job.env,
            "NBORCH_FLOW_RUN_ID": str(run.id),
            "NBORCH_HOME": str(get_settings().home),
            "PYTHONUNBUFFERED": "1",
        }
        if early:  # launched before its time (--prestart): the kernel starts now, cells on time
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

    def wait(self, handle: ProcessHandle | KernelRunHandle) -> int:
        if not isinstance(handle, ProcessHandle):
            return self.kernel_runs.wait(handle)
        exit_code = handle.process.wait()
        handle.reader.join()
        return exit_code

    def stop(self, handle: ProcessHandle | KernelRunHandle) -> None:
        if not isinstance(handle, ProcessHandle):
            self.kernel_runs.stop(handle)
        else:
            terminate_process_tree(handle.process.pid, get_settings().kill_grace_period)

    def silence(self, handle: ProcessHandle | KernelRunHandle) -> str | None:
        if not isinstance(handle, ProcessHandle):
            return self.kernel_runs.silence(handle)
        if handle.process.poll() is not None:
            return f"papermill (pid {handle.process.pid}) has ended"
        return None

    def infrastructure_id(self, handle: ProcessHandle | KernelRunHandle) -> str | None:
        if not isinstance(handle, ProcessHandle):
            return f"pid {handle.pid} (kernel)" if handle.pid else None
        return f"pid {handle.process.pid}"


def _copy_lines(process: subprocess.Popen[str], log: LogShipper) -> None:
    assert process.stdout is not None
    for line in process.stdout:
        log.write(line.rstrip("\n"))

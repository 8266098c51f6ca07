"""A papermill engine that starts the kernel, then waits for the run's scheduled time before
the first cell: workers launch a run a few seconds early (`--prestart`) and its notebook
still begins exactly on time. `timed_papermill` runs papermill with it as engine `nborch`.

The time comes in the environment as NBORCH_START_AT (seconds since the epoch). The kernel
talks over IPC rather than TCP: no port is chosen by papermill and bound later by the
kernel, the race in which kernels started at once take each other's ports.
"""

from __future__ import annotations

import os
import shutil
import time
from typing import Any

from papermill.clientwrap import PapermillNotebookClient
from papermill.engines import NBClientEngine
from papermill.log import logger
from papermill.utils import merge_kwargs, remove_args
from traitlets.config import Config

from nborch.execution.kernels import ipc_address, sockets_folder
from nborch.execution.papermill_command import START_AT


class _TimedNotebookClient(PapermillNotebookClient):  # type: ignore[misc]
    def papermill_execute_cells(self) -> None:
        start_at = os.environ.get(START_AT)
        delay = float(start_at) - time.time() if start_at else 0.0
        if delay > 0:
            self.log.info(f"Kernel ready; the first cell starts in {delay:.2f} s, on schedule")
            time.sleep(delay)
        super().papermill_execute_cells()


class TimedEngine(NBClientEngine):  # type: ignore[misc]
    """papermill's nbclient engine with the wait above and its kernel on IPC sockets in a
    folder of its own; otherwise the same."""

    @classmethod
    def execute_managed_notebook(
        cls,
        nb_man: Any,
        kernel_name: str,
        log_output: bool = False,
        stdout_file: Any = None,
        stderr_file: Any = None,
        start_timeout: int = 60,
        execution_timeout: int | None = None,
        **kwargs: Any,
    ) -> Any:
        kwargs = remove_args(["input_path"], **kwargs)
        safe_kwargs = remove_args(["timeout", "startup_timeout"], **kwargs)
        final_kwargs = merge_kwargs(
            safe_kwargs,
            timeout=execution_timeout if execution_timeout else kwargs.get("timeout"),
            startup_timeout=start_timeout,
            kernel_name=kernel_name,
            log=logger,
            log_output=log_output,
            stdout_file=stdout_file,
            stderr_file=stderr_file,
        )
        sockets = sockets_folder()
        ipc = Config({"KernelManager": {"transport": "ipc", "ip": ipc_address(sockets)}})
        try:
            return _TimedNotebookClient(nb_man, config=ipc, **final_kwargs).execute()
        finally:
            shutil.rmtree(sockets, ignore_errors=True)

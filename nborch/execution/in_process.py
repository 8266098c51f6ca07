"""Executing a notebook from the worker's own process on a kernel it started: what
`papermill IN OUT -f PARAMS --cwd DIR --log-output` does, step for step, without starting a
Python interpreter for the run and without a process-wide chdir.

The notebook is read and parameterised as papermill does it (`prepare_notebook`), then
executed on the kernel (`execute_on_kernel`): each cell's start and end recorded and the
notebook saved after every cell, the failing cell marked, a cell timeout honoured. The lines
papermill's command line would print go to the run's logger, and errors come out as the
same exceptions, so a run is judged exactly as a run of papermill in a subprocess.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from nbclient.exceptions import CellExecutionError
from nbformat import NotebookNode
from papermill.clientwrap import PapermillNotebookClient
from papermill.engines import NotebookExecutionManager
from papermill.execute import (
    prepare_notebook_metadata,
    raise_for_execution_errors,
    remove_error_markers,
)
from papermill.inspection import _infer_parameters
from papermill.iorw import load_notebook_node, write_ipynb
from papermill.parameterize import parameterize_notebook
from papermill.utils import nb_kernel_name

from nborch.execution.kernels import Kernel

# papermill's default: the notebook is saved at least this often during a long cell.
AUTOSAVE_EVERY = 30


def line_logger(name: str, write: Callable[[str], None]) -> logging.Logger:
    """A logger of its own (not registered with `logging`) that hands every message to
    `write` line by line, as papermill's command line prints them (format `%(message)s`)."""
    logger = logging.Logger(name, logging.INFO)
    logger.propagate = False
    logger.addHandler(_LineHandler(write))
    return logger


class _LineHandler(logging.Handler):
    def __init__(self, write: Callable[[str], None]) -> None:
        super().__init__(logging.INFO)
        self.write = write

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
        except Exception:
            text = str(record.msg)
        for line in text.split("\n"):
            self.write(line)


def prepare_notebook(
    input_path: str,
    output_path: str,
    parameters: Mapping[str, Any],
    *,
    kernel_name: str | None,
    cwd: str,
    log: logging.Logger,
) -> tuple[NotebookNode, str]:
    """The notebook with its parameters injected and papermill's metadata, and the kernel
    name it runs with (the job's, else the notebook's own)."""
    log.info(f"Input Notebook:  {input_path}")
    log.info(f"Output Notebook: {output_path}")
    log.info(f"Working directory: {cwd}")
    nb = load_notebook_node(input_path)
    if parameters:
        known = {p.name for p in _infer_parameters(nb, name=kernel_name)}
        for name in parameters:
            if name not in known:
                log.warning(f"Passed unknown parameter: {name}")
        nb = parameterize_notebook(nb, dict(parameters), False, kernel_name=kernel_name)
    nb = prepare_notebook_metadata(nb, input_path, output_path)
    nb = remove_error_markers(nb)
    return nb, nb_kernel_name(nb, kernel_name)


async def execute_on_kernel(
    nb: NotebookNode,
    kernel: Kernel,
    output_path: str,
    *,
    log: logging.Logger,
    log_output: bool = True,
    execution_timeout: float | None = None,
    start_at: float | None = None,
) -> NotebookNode:
    """Execute the prepared notebook on a ready kernel; the executed notebook is at
    `output_path`. Raises as papermill does: PapermillExecutionError for a cell that
    raised, CellTimeoutError, DeadKernelError. `start_at` (seconds since the epoch): the
    first cell waits until then (a run taken ahead of its time)."""
    manager = _ExecutionManager(nb, output_path, log if log_output else None)
    manager.notebook_start()
    client = _NotebookClient(
        manager,
        km=kernel.manager,
        kernel_name=kernel.recipe.kernel_name,
        timeout=int(execution_timeout) if execution_timeout else None,
        startup_timeout=60,
        log=log,
        log_output=log_output,
    )
    client.kc = kernel.client
    finished = False
    try:
        log.info(f"Executing notebook with kernel: {kernel.recipe.kernel_name}")
        delay = start_at - time.time() if start_at else 0.0
        if delay > 0:
            log.info(f"Kernel ready; the first cell starts in {delay:.2f} s, on schedule")
            await asyncio.sleep(delay)
        await client.execute_cells()
        info = await client.async_wait_for_reply(client.kc.kernel_info())
        if info is not None:
            client.nb.metadata["language_info"] = info["content"]["language_info"]
        client.set_widgets_metadata()
        finished = True
    except asyncio.CancelledError:  # stopped: the notebook stays as last saved
        raise
    except BaseException:
        finished = True
        raise
    finally:
        if finished:
            manager.notebook_complete()
    nb = manager.nb
    raise_for_execution_errors(nb, output_path)
    write_ipynb(nb, output_path)
    return nb


class _ExecutionManager(NotebookExecutionManager):  # type: ignore[misc]
    """papermill's bookkeeping (cell times and states, saving) with its cell markers written
    to the run's logger rather than papermill's global one."""

    def __init__(self, nb: NotebookNode, output_path: str, log: logging.Logger | None) -> None:
        super().__init__(
            nb,
            output_path=output_path,
            log_output=False,
            progress_bar=False,
            autosave_cell_every=AUTOSAVE_EVERY,
        )
        self.cell_log = log

    def cell_start(self, cell: NotebookNode, cell_index: int | None = None, **kwargs: Any) -> None:
        if self.cell_log is not None:
            number = cell_index + 1 if cell_index is not None else ""
            self.cell_log.info(f"Executing Cell {number:-<40}")
        super().cell_start(cell, cell_index, **kwargs)

    def cell_complete(
        self, cell: NotebookNode, cell_index: int | None = None, **kwargs: Any
    ) -> None:
        if self.cell_log is not None:
            number = cell_index + 1 if cell_index is not None else ""
            self.cell_log.info(f"Ending Cell {number:-<43}")
        super().cell_complete(cell, cell_index, **kwargs)


class _NotebookClient(PapermillNotebookClient):  # type: ignore[misc]
    async def execute_cells(self) -> None:
        """papermill's `papermill_execute_cells`, awaited on the kernel loop: a cell that
        raises stops the run and is marked; every cell's start and end are saved."""
        for index, cell in enumerate(self.nb.cells):
            try:
                self.nb_man.cell_start(cell, index)
                await self.async_execute_cell(cell, index)
            except CellExecutionError as ex:
                self.nb_man.cell_exception(self.nb.cells[index], cell_index=index, exception=ex)
                self.nb_man.cell_complete(self.nb.cells[index], cell_index=index)
                break
            except asyncio.CancelledError:
                raise
            except BaseException:
                self.nb_man.cell_complete(self.nb.cells[index], cell_index=index)
                raise
            self.nb_man.cell_complete(self.nb.cells[index], cell_index=index)

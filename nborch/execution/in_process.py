"""Executing a notebook from the worker's own process on a kernel it started: what
`papermill IN OUT -f PARAMS --cwd DIR --log-output` does, step for step, without starting a
Python interpreter for the run and without a process-wide chdir.

The notebook is read and parameterised as papermill does it (`prepare_notebook`), then
executed on the kernel (`execute_on_kernel`) by nborch's papermill engine (see
papermill_engine): each cell's start and end recorded and the notebook saved after every
cell, the failing cell marked, a cell timeout honoured. The lines
papermill's command line would print go to the run's logger, and errors come out as the
same exceptions, so a run is judged exactly as a run of papermill in a subprocess.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from nbformat import NotebookNode
from papermill.execute import (
    prepare_notebook_metadata,
    raise_for_execution_errors,
    remove_error_markers,
)
from papermill.iorw import load_notebook_node, write_ipynb
from papermill.parameterize import parameterize_notebook
from papermill.translators import papermill_translators
from papermill.utils import find_first_tagged_cell_index, nb_kernel_name, nb_language

from nborch.execution import papermill_engine
from nborch.execution.kernels import Kernel


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
        known = declared_parameters(nb, kernel_name)
        for name in parameters:
            if name not in known:
                log.warning(f"Passed unknown parameter: {name}")
        nb = parameterize_notebook(nb, dict(parameters), False, kernel_name=kernel_name)
    nb = prepare_notebook_metadata(nb, input_path, output_path)
    nb = remove_error_markers(nb)
    return nb, nb_kernel_name(nb, kernel_name)


def declared_parameters(nb: NotebookNode, kernel_name: str | None) -> set[str]:
    """The names the notebook's cell tagged `parameters` assigns, as papermill's translator
    for its language reads them (what papermill checks passed parameters against)."""
    index = find_first_tagged_cell_index(nb, "parameters")
    if index < 0:
        return set()
    translator = papermill_translators.find_translator(
        nb_kernel_name(nb, kernel_name), nb_language(nb)
    )
    try:
        return {parameter.name for parameter in translator.inspect(nb.cells[index])}
    except NotImplementedError:
        return set()


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
    """Execute the prepared notebook on a ready kernel with nborch's papermill engine; the
    executed notebook is at `output_path`. Raises as papermill does: PapermillExecutionError
    for a cell that raised, CellTimeoutError, DeadKernelError. `start_at` (seconds since the
    epoch): the first cell waits until then (a run taken ahead of its time)."""
    nb = await papermill_engine.execute_on_kernel(
        nb,
        output_path,
        manager=kernel.manager,
        client=kernel.client,
        kernel_name=kernel.recipe.kernel_name,
        log=log,
        log_output=log_output,
        execution_timeout=execution_timeout,
        start_at=start_at,
    )
    raise_for_execution_errors(nb, output_path)
    write_ipynb(nb, output_path)
    return nb

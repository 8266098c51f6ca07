"""nborch's papermill engine, `nborch`: papermill's nbclient engine (registered the way
papermill registers engines, through `papermill_engines` and the hook
`execute_managed_notebook`) with what a scheduled run needs besides:

- its first cell waits for the run's time (`start_at`, seconds since the epoch) once the
  kernel is ready: a run launched ahead of its time still begins exactly on time;
- it may run on a kernel started before the run was known (`kernel_ahead`), when that
  kernel is the one the run asks for, in the run's working directory, and alive; the run's
  own environment (`run_env`) is set in it first; it is shut down at the end, as papermill's
  own would be;
- from a coroutine, on a kernel the caller owns (`execute_on_kernel`): the same steps,
  awaited on the kernel's event loop, the cell markers written to the caller's logger.

Everything else — cell times and states, saving, error markers, the lines logged — is
papermill's, so a run's output notebook and logs are those of `papermill IN OUT`.

Three paths use it: the process worker's in-process runs (`nborch.execution.in_process`),
`python -m nborch.execution.timed_papermill` (a process pool's run in a subprocess), and
the standby container's waiter. The waiter runs in the run's image without nborch, so this
file imports nothing of nborch and only public names of papermill, nbclient and
jupyter_client: the waiter program is generated from this file and the waiter's own
(`nborch.containers.standby_handover.waiter_program`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from dataclasses import dataclass
from typing import Any, ClassVar, cast

from jupyter_core.utils import run_sync
from nbclient.exceptions import CellExecutionError
from nbformat import NotebookNode
from papermill.clientwrap import PapermillNotebookClient
from papermill.engines import NBClientEngine, NotebookExecutionManager, papermill_engines
from papermill.log import logger as papermill_logger
from papermill.utils import merge_kwargs, remove_args

ENGINE_NAME = "nborch"
# papermill's default: the notebook is saved at least this often during a long cell.
AUTOSAVE_EVERY = 30


@dataclass
class KernelAhead:
    """A kernel started before its run was known: its manager, a client connected to it,
    its name and the working directory it was started in."""

    manager: Any
    client: Any
    kernel_name: str
    cwd: str

    def fits(self, kernel_name: str) -> bool:
        """Whether the run may take it: the kernel it asks for, in the directory it runs in
        (papermill is in the run's --cwd by now), and still alive."""
        process = getattr(self.manager.provisioner, "process", None)
        return (
            kernel_name == self.kernel_name
            and os.getcwd() == self.cwd
            and self.manager.has_kernel
            and process is not None
            and process.poll() is None
        )


class RunNotebookClient(PapermillNotebookClient):  # type: ignore[misc]
    """papermill's notebook client, with the first cell on time and the run's environment
    set in a kernel started ahead (see the module's docstring)."""

    start_at: float | None = None
    run_env: dict[str, str] | None = None

    def execute(self, **kwargs: Any) -> NotebookNode:
        """papermill's `execute`: the kernel set up (started, or the one given), the run's
        steps, the kernel shut down when it is the run's own."""
        self.reset_execution_trackers()
        with self.setup_kernel(**kwargs):
            run_sync(self.async_execute_run)()
        return self.nb

    async def async_execute_run(self) -> NotebookNode:
        """The run's steps on a kernel that is set up: as papermill's `execute` does them,
        with the run's environment first and the first cell on time."""
        self.log.info(f"Executing notebook with kernel: {self.kernel_name}")
        if self.run_env:
            code = f"__import__('os').environ.update({json.dumps(self.run_env)})"
            await self.async_wait_for_reply(self.kc.execute(code, silent=True, store_history=False))
        delay = self.start_at - time.time() if self.start_at else 0.0
        if delay > 0:
            self.log.info(f"Kernel ready; the first cell starts in {delay:.2f} s, on schedule")
            await asyncio.sleep(delay)
        await self.async_papermill_execute_cells()
        info = await self.async_wait_for_reply(self.kc.kernel_info())
        if info is not None:
            self.nb.metadata["language_info"] = info["content"]["language_info"]
        self.set_widgets_metadata()
        return self.nb

    async def async_papermill_execute_cells(self) -> None:
        """papermill's `papermill_execute_cells`, awaited: a cell that raises stops the run
        and is marked; every cell's start and end are saved. Cancelled (a run stopped from
        its worker), the notebook stays as last saved."""
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

    def papermill_execute_cells(self) -> None:
        run_sync(self.async_papermill_execute_cells)()


class RunExecutionManager(NotebookExecutionManager):  # type: ignore[misc]
    """papermill's bookkeeping (cell times and states, saving), with its cell markers
    written to the given logger rather than papermill's global one."""

    def __init__(
        self,
        nb: NotebookNode,
        output_path: str,
        cell_log: logging.Logger | None,
        autosave_cell_every: int = AUTOSAVE_EVERY,
    ) -> None:
        super().__init__(
            nb,
            output_path=output_path,
            log_output=False,
            progress_bar=False,
            autosave_cell_every=autosave_cell_every,
        )
        self.cell_log = cell_log

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


class RunEngine(NBClientEngine):  # type: ignore[misc]
    """The engine `nborch`. Its options (`start_at`, `kernel_ahead`, `run_env`) come as
    papermill engine keyword arguments, or, for papermill's command line (which passes
    none), from `configured`."""

    options: ClassVar[dict[str, Any]] = {}

    @classmethod
    def configured(cls, **options: Any) -> type[RunEngine]:
        """This engine with these options, for `papermill_engines.register`."""
        return cast(
            "type[RunEngine]", type(cls.__name__, (cls,), {"options": {**cls.options, **options}})
        )

    @classmethod
    def register(cls, **options: Any) -> None:
        """Register this engine, with these options, as papermill's engine `nborch`."""
        papermill_engines.register(ENGINE_NAME, cls.configured(**options))

    @classmethod
    def execute_managed_notebook(cls, nb_man: Any, kernel_name: str, **kwargs: Any) -> Any:
        options = {**cls.options, **kwargs}
        ahead: KernelAhead | None = options.pop("kernel_ahead", None)
        if ahead is not None and ahead.fits(kernel_name):
            client = cls.notebook_client(nb_man, kernel_name, km=ahead.manager, **options)
            client.kc = ahead.client
            # The kernel is the run's alone: shut down at the end, as papermill's own.
            return client.execute(cleanup_kc=True)
        options.pop("run_env", None)  # a kernel started for the run has the run's environment
        return cls.notebook_client(nb_man, kernel_name, **options).execute()

    @classmethod
    def notebook_client(
        cls,
        nb_man: Any,
        kernel_name: str,
        *,
        log_output: bool = False,
        stdout_file: Any = None,
        stderr_file: Any = None,
        start_timeout: int = 60,
        execution_timeout: int | None = None,
        start_at: float | None = None,
        run_env: dict[str, str] | None = None,
        log: logging.Logger = papermill_logger,
        **kwargs: Any,
    ) -> RunNotebookClient:
        """The client papermill's nbclient engine makes of its arguments, with ours."""
        kwargs = remove_args(["input_path"], **kwargs)
        safe_kwargs = remove_args(["timeout", "startup_timeout"], **kwargs)
        final_kwargs = merge_kwargs(
            safe_kwargs,
            timeout=execution_timeout if execution_timeout else kwargs.get("timeout"),
            startup_timeout=start_timeout,
            kernel_name=kernel_name,
            log=log,
            log_output=log_output,
            stdout_file=stdout_file,
            stderr_file=stderr_file,
        )
        client = RunNotebookClient(nb_man, **final_kwargs)
        client.start_at = start_at
        client.run_env = run_env
        return client


async def execute_on_kernel(
    nb: NotebookNode,
    output_path: str,
    *,
    manager: Any,
    client: Any,
    kernel_name: str,
    log: logging.Logger,
    log_output: bool = True,
    execution_timeout: float | None = None,
    start_at: float | None = None,
) -> NotebookNode:
    """What `Engine.execute_notebook` does with this engine, from a coroutine on the loop of
    a started kernel the caller owns (and shuts down): the executed notebook, saved at
    `output_path` after every cell. Cancelled, the notebook stays as last saved."""
    nb_man = RunExecutionManager(nb, output_path, log if log_output else None)
    nb_man.notebook_start()
    run = RunEngine.notebook_client(
        nb_man,
        kernel_name,
        km=manager,
        log=log,
        log_output=log_output,
        execution_timeout=int(execution_timeout) if execution_timeout else None,
        start_at=start_at,
    )
    run.kc = client
    finished = False
    try:
        await run.async_execute_run()
        finished = True
    except asyncio.CancelledError:
        raise
    except BaseException:
        finished = True
        raise
    finally:
        if finished:
            nb_man.notebook_complete()
    return nb_man.nb

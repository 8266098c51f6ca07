"""The process pool's fast path: each run executes from the worker's own process, on a
kernel of its own — taken from standby when one with the run's recipe (kernel name,
working directory, environment) is ready, else started for it — which is shut down after.

Nothing is started per run but the kernel (and with standby, not even that): no Python
interpreter for papermill, no imports. Stopping a run (cancellation, shutdown) terminates
its kernel's process tree (SIGTERM, grace period, SIGKILL). What the run prints, how it
ends and the output notebook are as with `python -m papermill` in a subprocess: see
`nborch.execution.in_process`.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import zmq.asyncio

from nborch.execution.kernel_loop import KernelLoop
from nborch.execution.kernels import Kernel, KernelRecipe
from nborch.execution.standby import REPLACE_AFTER, StandbyKernels
from nborch.models import FlowRun
from nborch.secret_references import secret_names
from nborch.settings import get_settings
from nborch.sources import is_git_url
from nborch.timeutil import utcnow
from nborch.workers.logs import LogShipper
from nborch.workers.processes import terminate_process_tree

# The run's own environment, set in its kernel (at hand-over for a standby kernel).
RUN_ID_VARIABLE = "NBORCH_FLOW_RUN_ID"


@dataclass
class KernelRunHandle:
    run: FlowRun
    outcome: Future[int] = field(default_factory=Future)  # papermill's exit code
    kernel: Kernel | None = None
    from_standby: bool = False
    stopped: bool = False
    task: asyncio.Task[int] | None = None
    launched: threading.Event = field(default_factory=threading.Event)  # kernel spawned

    @property
    def pid(self) -> int | None:
        return self.kernel.pid if self.kernel else None


@dataclass(frozen=True)
class KernelJob:
    """What a run needs of its kernel: its recipe, its own environment, and whether it may
    take a standby kernel."""

    recipe: KernelRecipe
    run_env: dict[str, str]
    standby: bool


class KernelRuns:
    """The kernels of one worker: its `KernelLoop`, its standby kernels (when `wanted` is
    given) and the runs executing on them."""

    def __init__(
        self,
        *,
        wanted: Callable[[], int] | None = None,
        recycle_after: float | None = None,
        on_error: Callable[[str], None] = lambda _message: None,
    ) -> None:
        self.loop = KernelLoop()
        self.context = zmq.asyncio.Context()
        self._shutdowns: set[asyncio.Task[None]] = set()  # kernels of ended runs
        self.standby = (
            StandbyKernels(
                self.loop,
                self.context,
                wanted,
                recycle_after=(
                    recycle_after
                    if recycle_after is not None
                    else get_settings().standby_recycle_after
                ),
                on_error=on_error,
            )
            if wanted is not None
            else None
        )

    # ---- recipes -----------------------------------------------------------------------

    def kernel_job(
        self,
        job: Mapping[str, Any],
        *,
        cwd: str,
        kernel_name: str,
        job_variables: Mapping[str, Any],
        source: str | None,
        run_id: str = "",
    ) -> KernelJob:
        """The kernel a run needs (or a run like it: learned from a deployment)."""
        env = {
            **(job.get("env") or {}),
            "NBORCH_HOME": str(get_settings().home),
            "PYTHONUNBUFFERED": "1",
        }
        return KernelJob(
            KernelRecipe.of(kernel_name, cwd, env),
            {RUN_ID_VARIABLE: run_id},
            self.standby is not None
            and may_take_standby(job, kernel_name, job_variables=job_variables, source=source),
        )

    def learn(self, job: KernelJob) -> None:
        if self.standby is not None and job.standby:
            self.standby.learn(job.recipe)

    # ---- one run -----------------------------------------------------------------------

    def launch(
        self,
        run: FlowRun,
        job: Mapping[str, Any],
        log: LogShipper,
        *,
        cwd: str,
        parameters: Mapping[str, Any],
    ) -> KernelRunHandle:
        """Prepare the notebook here, then execute it on the loop; returns once the run's
        kernel is known (its pid), or the run has failed."""
        # papermill, nbclient and nbformat come with the first run: a worker that only keeps
        # kernels ready (jupyter_client) does not hold them, and later runs find them loaded.
        from nborch.execution.in_process import line_logger, prepare_notebook

        assert run.output_path, "every run has an output path"
        handle = KernelRunHandle(run)
        logger = line_logger(f"nborch.run.{run.id}", log.write)
        try:
            nb, kernel_name = prepare_notebook(
                run.input_path,
                run.output_path,
                parameters,
                kernel_name=job.get("kernel_name"),
                cwd=cwd,
                log=logger,
            )
            kernel_job = self.kernel_job(
                job,
                cwd=cwd,
                kernel_name=kernel_name,
                job_variables=run.job_variables,
                source=run.source,
                run_id=str(run.id),
            )
        except Exception as err:  # as papermill's command line would fail
            _log_error(log, err)
            handle.outcome.set_result(1)
            handle.launched.set()
            return handle
        self.learn(kernel_job)
        start_at = run.scheduled_time.timestamp() if run.scheduled_time > utcnow() else None
        running = self.loop.submit(
            self._execute(
                handle,
                nb,
                kernel_job,
                log,
                logger,
                log_output=bool(job.get("stream_output", True)),
                execution_timeout=job.get("execution_timeout"),
                start_at=start_at,
            )
        )
        running.add_done_callback(lambda done: _copy_outcome(done, handle))
        handle.launched.wait()
        return handle

    async def _execute(
        self,
        handle: KernelRunHandle,
        nb: Any,
        kernel_job: KernelJob,
        log: LogShipper,
        logger: Any,
        **options: Any,
    ) -> int:
        from nborch.execution.in_process import execute_on_kernel  # loaded by launch()

        handle.task = asyncio.current_task()  # type: ignore[assignment]
        kernel: Kernel | None = None
        try:
            if kernel_job.standby and self.standby is not None:
                kernel = await self.standby.take_on_loop(kernel_job.recipe)
            if kernel is not None:
                handle.from_standby = True
            else:
                kernel = await Kernel.spawn(
                    kernel_job.recipe, self.context, run_env=kernel_job.run_env
                )
            handle.kernel = kernel
            handle.launched.set()
            kernel.sink = log.write
            if handle.from_standby:
                kernel = await self._hand_over(handle, kernel, kernel_job)
            await kernel.ready
            assert handle.run.output_path
            await execute_on_kernel(nb, kernel, handle.run.output_path, log=logger, **options)
            return 0
        except asyncio.CancelledError:
            return -signal.SIGTERM
        except Exception as err:
            if handle.stopped:
                return -signal.SIGTERM
            _log_error(log, err)
            return 1
        finally:
            handle.launched.set()
            kernel = handle.kernel or kernel
            if kernel is not None:
                kernel.sink = None
                # In the background: the run's end is reported without waiting for it.
                shutdown = asyncio.ensure_future(kernel.shutdown(now=handle.stopped))
                self._shutdowns.add(shutdown)
                shutdown.add_done_callback(self._shutdowns.discard)
            if self.standby is not None:  # a slot is free again: maybe one more kernel
                self.standby.rebalance(REPLACE_AFTER)

    async def _hand_over(
        self, handle: KernelRunHandle, kernel: Kernel, kernel_job: KernelJob
    ) -> Kernel:
        """The standby kernel, ready and with the run's own environment; or, should it fail
        (it died, it did not start), a kernel started for the run after all."""
        try:
            await kernel.ready
            await kernel.set_env(kernel_job.run_env)
            return kernel
        except Exception:
            if handle.stopped:
                raise
        sink = kernel.sink
        kernel.sink = None
        await kernel.shutdown(now=True)
        fresh = await Kernel.spawn(kernel_job.recipe, self.context, run_env=kernel_job.run_env)
        fresh.sink = sink
        handle.kernel, handle.from_standby = fresh, False
        return fresh

    def wait(self, handle: KernelRunHandle) -> int:
        return handle.outcome.result()

    def stop(self, handle: KernelRunHandle) -> None:
        """Terminate the run's kernel and everything it started, and end the run."""
        handle.stopped = True
        if handle.pid is not None:
            terminate_process_tree(handle.pid, get_settings().kill_grace_period)
        task = handle.task
        if task is not None:
            self.loop.call(task.cancel)

    def close(self) -> None:
        """Shut the standby kernels down and stop the loop (after the runs have ended)."""

        async def _finish_shutdowns() -> None:
            await asyncio.gather(*self._shutdowns, return_exceptions=True)

        try:
            self.loop.run(_finish_shutdowns(), timeout=30)
            if self.standby is not None:
                self.standby.close()
        finally:
            self.loop.close()
            self.context.destroy(linger=0)


def may_take_standby(
    job: Mapping[str, Any],
    kernel_name: str,
    *,
    job_variables: Mapping[str, Any],
    source: str | None,
) -> bool:
    """May a run take a kernel started before it (and teach the worker its recipe)? Not
    when its job variables refer to secrets of the store (a kernel waiting with their values
    would keep them beyond the run), nor for a git checkout made for the run alone, nor for
    kernels other than Python's (the run's own variables are set in the running kernel
    with Python), nor when the run asks for a kernel of its own (standby_kernels 0)."""
    if job.get("standby_kernels") == 0:
        return False
    if secret_names(job_variables):
        return False
    if source and is_git_url(source):
        return False
    return kernel_language(kernel_name) == "python"


@lru_cache(maxsize=32)
def kernel_language(kernel_name: str) -> str | None:
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        return str(KernelSpecManager().get_kernel_spec(kernel_name).language).lower()
    except NoSuchKernel:
        return None


def _log_error(log: LogShipper, err: BaseException) -> None:
    """The error as papermill's command line ends with it: `module.Type: message`."""
    kind = type(err)
    name = (
        kind.__qualname__
        if kind.__module__ == "builtins"
        else f"{kind.__module__}.{kind.__qualname__}"
    )
    for line in f"{name}: {err}".split("\n"):
        log.write(line)


def _copy_outcome(done: Future[int], handle: KernelRunHandle) -> None:
    handle.launched.set()
    outcome = handle.outcome
    if outcome.done():
        return
    if done.cancelled():
        outcome.set_result(-signal.SIGTERM)
    elif done.exception() is not None:
        outcome.set_exception(done.exception())  # type: ignore[arg-type]
    else:
        outcome.set_result(done.result())

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
from concurrent.futures import Future, InvalidStateError
from concurrent.futures import wait as wait_for_futures
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from nborch.errors import InfrastructureError
from nborch.execution.kernel_loop import KernelLoop
from nborch.execution.kernels import Kernel, KernelHost, KernelRecipe
from nborch.execution.standby import REPLACE_AFTER, StandbyKernels
from nborch.jobs.variables import ProcessJob
from nborch.models import FlowRun
from nborch.secret_references import secret_names
from nborch.settings import get_settings
from nborch.sources import is_git_url
from nborch.timeutil import utcnow
from nborch.workers.logs import LogShipper
from nborch.workers.processes import process_is_alive, terminate_process_tree

# The run's own environment, set in its kernel (at hand-over for a standby kernel).
RUN_ID_VARIABLE = "NBORCH_FLOW_RUN_ID"
# Kernels started for one run when the first dies before the notebook's first cell.
FRESH_KERNEL_STARTS = 2
# A loop that has not run a callback within this many seconds is stuck.
LOOP_ANSWER_TIMEOUT = 1.0
# A kernel process is launched (not yet ready) within this many seconds, or never will be.
LAUNCH_TIMEOUT = 120.0
# A stopped run's task ends within this many seconds, or the stop reports it all the same.
STOP_SETTLE_TIMEOUT = 5.0
# At shutdown, a loop that does not answer within this many seconds is left to die with us.
CLOSE_ANSWER_TIMEOUT = 5.0


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
        self.host = KernelHost.create()
        self._shutdowns: set[asyncio.Task[None]] = set()  # kernels of ended runs
        self.standby = (
            StandbyKernels(
                self.loop,
                self.host,
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
        job: ProcessJob,
        *,
        cwd: str,
        kernel_name: str,
        job_variables: Mapping[str, Any],
        source: str | None,
        run_id: str = "",
    ) -> KernelJob:
        """The kernel a run needs (or a run like it: learned from a deployment)."""
        env = {
            **job.env,
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
        job: ProcessJob,
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
                kernel_name=job.kernel_name,
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
                log_output=job.stream_output,
                execution_timeout=job.execution_timeout,
                start_at=start_at,
            )
        )
        running.add_done_callback(lambda done: _copy_outcome(done, handle))
        if not handle.launched.wait(LAUNCH_TIMEOUT):  # the loop is stuck: the run cannot start
            self.stop(handle)
            raise InfrastructureError(
                f"The worker's kernel loop did not start a kernel for flow run "
                f"'{run.name}' within {LAUNCH_TIMEOUT:g} s."
            )
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
        try:
            kernel = await self._ready_kernel(handle, kernel_job, log)
            assert handle.run.output_path
            await kernel.unless_it_dies(
                execute_on_kernel(nb, kernel, handle.run.output_path, log=logger, **options),
                "running the notebook",
            )
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
            if handle.kernel is not None:
                self._retire(handle.kernel, now=handle.stopped)
            if self.standby is not None:  # a slot is free again: maybe one more kernel
                self.standby.rebalance(REPLACE_AFTER)

    async def _ready_kernel(
        self, handle: KernelRunHandle, kernel_job: KernelJob, log: LogShipper
    ) -> Kernel:
        """The run's kernel, ready and with the run's own environment: a standby kernel
        when one fits, else one started for the run. A kernel that dies (or fails) before
        the first cell is replaced by a fresh one: a standby kernel's death costs the run
        nothing, and a fresh kernel may die once — nothing of the notebook has run yet."""
        kernel: Kernel | None = None
        if kernel_job.standby and self.standby is not None:
            kernel = await self.standby.take_on_loop(kernel_job.recipe)
        fresh_starts = FRESH_KERNEL_STARTS
        while True:
            from_standby = kernel is not None
            if kernel is None:
                fresh_starts -= 1
                kernel = await Kernel.spawn(
                    kernel_job.recipe, self.host, run_env=kernel_job.run_env
                )
            handle.kernel, handle.from_standby = kernel, from_standby
            handle.launched.set()
            kernel.sink = log.write
            try:
                await kernel.ready
                if from_standby:
                    await kernel.unless_it_dies(kernel.set_env(kernel_job.run_env), "starting")
                return kernel
            except Exception as err:
                if handle.stopped or fresh_starts <= 0:
                    raise
                log.write(f"nborch: {str(err).rstrip('.')}. Starting the run on a fresh kernel.")
                kernel.sink = None
                handle.kernel = None
                await kernel.shutdown(now=True)
                kernel = None

    def _retire(self, kernel: Kernel, *, now: bool) -> None:
        """Shut a run's kernel down in the background: the run's end is reported without
        waiting for it."""
        kernel.sink = None
        shutdown = asyncio.ensure_future(kernel.shutdown(now=now))
        self._shutdowns.add(shutdown)
        shutdown.add_done_callback(self._shutdowns.discard)

    def wait(self, handle: KernelRunHandle) -> int:
        return handle.outcome.result()

    def stop(self, handle: KernelRunHandle) -> None:
        """Terminate the run's kernel and everything it started, and end the run — at once,
        even should the loop not answer: `wait` returns."""
        handle.stopped = True
        if handle.pid is not None:
            terminate_process_tree(handle.pid, get_settings().kill_grace_period)
        task = handle.task
        if task is not None:
            self.loop.call(task.cancel)
            # Its last save of the output notebook comes first (a run timed out has its
            # running cell marked after), unless the loop does not answer.
            wait_for_futures([handle.outcome], timeout=STOP_SETTLE_TIMEOUT)
        _settle(handle.outcome, -signal.SIGTERM)

    def silence(self, handle: KernelRunHandle) -> str | None:
        """Why the run's kernel shows no sign of life (its process is gone, or the loop
        that talks to it does not answer), or None while it does."""
        kernel = handle.kernel
        if kernel is None or handle.outcome.done():
            return None
        if kernel.pid is not None and not process_is_alive(kernel.pid):
            return f"{kernel.describe()} is gone"
        waiting = self.loop.unanswered_for()
        if waiting > LOOP_ANSWER_TIMEOUT:
            return f"the worker's kernel loop has not answered for {waiting:.0f} s"
        return None

    def close(self) -> None:
        """Shut the standby kernels down and stop the loop (after the runs have ended)."""

        async def _finish_shutdowns() -> None:
            await asyncio.gather(*self._shutdowns, return_exceptions=True)

        if not self.loop.responds(CLOSE_ANSWER_TIMEOUT):
            return  # stuck: its kernels end with the worker (each watches its parent)
        try:
            self.loop.run(_finish_shutdowns(), timeout=30)
            if self.standby is not None:
                self.standby.close()
        finally:
            self.loop.close()
            self.host.close()


def may_take_standby(
    job: ProcessJob,
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
    if job.standby_kernels == 0:
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
    if done.cancelled():
        _settle(handle.outcome, -signal.SIGTERM)
    elif done.exception() is not None:
        _settle(handle.outcome, error=done.exception())
    else:
        _settle(handle.outcome, done.result())


def _settle(
    outcome: Future[int], exit_code: int = 0, *, error: BaseException | None = None
) -> None:
    """Set the run's outcome unless it is set already (the run's end and a stop race)."""
    try:
        if error is not None:
            outcome.set_exception(error)
        else:
            outcome.set_result(exit_code)
    except InvalidStateError:
        pass

"""The `dask` push pool's worker: each run is a task submitted to a Dask distributed scheduler
(the job variable `scheduler_address`), which runs papermill on one of its workers (within
the job variables `resources` and `workers`).

The task (`dask_task.run_notebook`) gets the input notebook and the parameters with it,
sends its output lines back as Dask events (they become the run's logs), and returns the
exit code and the output notebook, which is kept as the run's output. Cancelling sets the
run's cancel event (a `distributed.Event`): the task stops papermill (SIGTERM, grace period,
SIGKILL). A Dask worker lost mid-run (its process killed, its machine gone) ends the run
CRASHED, naming the worker; the deployment's retries then apply (Dask does not run it again
behind nborch's back: the task is cancelled on the scheduler).
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import CancelledError
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cloudpickle
import yaml

from nborch.errors import InfrastructureError, NborchError
from nborch.execution.papermill_command import papermill_argv
from nborch.home_files import private_folder
from nborch.jobs.dask_template import DaskJob
from nborch.models import FlowRun, PoolType
from nborch.settings import get_settings
from nborch.workers import dask_task
from nborch.workers.base import BaseWorker
from nborch.workers.logs import LogShipper

# Dask workers need papermill and a kernel, not nborch: the task's module travels by value.
cloudpickle.register_pickle_by_value(dask_task)

_LOSS_CHECK_INTERVAL = 1.0


@dataclass
class DaskHandle:
    key: str
    run: FlowRun
    log: LogShipper
    address: str
    client: Any  # distributed.Client
    cancel: Any  # distributed.Event
    future: Any = None
    workers: list[str] = field(default_factory=list)  # where the task started, in order
    misses: int = 0  # checks in a row that did not find its worker on the scheduler
    stopped: threading.Event = field(default_factory=threading.Event)


class DaskWorker(BaseWorker[DaskJob]):
    """Submits each flow run of a dask pool to its Dask scheduler."""

    pool_type = PoolType.DASK
    job_type = DaskJob

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[str, Any] = {}
        self._clients_lock = threading.Lock()
        self._handles: dict[str, DaskHandle] = {}

    def start(self) -> None:
        """Refuses to start, with the reason, when the pool's scheduler does not answer."""
        if self.pool_name:
            template = self.client.get_pool(self.pool_name).base_job_template
            defaults = DaskJob.from_template(template, owner=f"work pool '{self.pool_name}'")
            self._scheduler(defaults.scheduler_address, defaults.connect_timeout)
        try:
            super().start()
        finally:
            with self._clients_lock:
                clients, self._clients = list(self._clients.values()), {}
            for client in clients:
                client.close()

    def _scheduler(self, address: str, timeout: float) -> Any:
        """A client of the scheduler at `address` (one per address, shared by the runs)."""
        from distributed import Client

        with self._clients_lock:
            client = self._clients.get(address)
            if client is not None and client.status == "running":
                return client
            try:
                client = Client(address, timeout=timeout, set_as_default=False)
            except (OSError, TimeoutError) as err:
                raise InfrastructureError(
                    f"Cannot reach the Dask scheduler at {address}: {err}. Start one (dask "
                    "scheduler, then dask worker ADDRESS on each machine) or set the job "
                    "variable scheduler_address."
                ) from None
            client.subscribe_topic(dask_task.TOPIC, self._on_event)
            self._clients[address] = client
            return client

    def _on_event(self, event: Any) -> None:
        """A message from a task (on the Dask client's thread): output lines, or where the
        task started."""
        _, message = event
        handle = self._handles.get(str(message.get("key")))
        if handle is None:
            return
        if message.get("kind") == "started":
            handle.workers.append(str(message.get("worker")))
            handle.log.write(f"nborch: running on Dask worker {message.get('worker')}")
        for line in message.get("lines") or []:
            handle.log.write(line)

    # ---- one run ---------------------------------------------------------------------------

    def launch(self, run: FlowRun, job: DaskJob, log: LogShipper) -> DaskHandle:
        from distributed import Event

        address = job.scheduler_address
        client = self._scheduler(address, job.connect_timeout)
        notebook = Path(run.input_path)
        if not notebook.is_file():
            raise NborchError(
                f"Notebook '{notebook}' of flow run '{run.name}' is not on this machine: nborch "
                "sends it to the Dask worker from here. Deploy from a folder this machine has."
            )
        attempt = run.run_count + 1  # the base made it RUNNING, which counted this attempt
        key = f"nborch-{run.id}-{attempt}"
        handle = DaskHandle(
            key=key,
            run=run,
            log=log,
            address=address,
            client=client,
            cancel=Event(f"{key}-cancel", client=client),
        )
        self._handles[key] = handle
        spec = {
            "key": key,
            "cancel_event": f"{key}-cancel",
            "notebook": notebook.read_bytes(),
            "parameters": yaml.safe_dump(dict(run.parameters), allow_unicode=True),
            "command": job.command,
            "arguments": papermill_argv(
                [],
                "input.ipynb",
                "output.ipynb",
                parameters_file="parameters.yaml",
                cwd=job.working_dir or "{run_folder}",
                kernel_name=job.kernel_name,
                execution_timeout=job.execution_timeout,
                log_output=job.stream_output,
            ),
            "env": {
                **job.env,
                "NBORCH_FLOW_RUN_ID": str(run.id),
                "PYTHONUNBUFFERED": "1",
            },
            "grace_period": get_settings().kill_grace_period,
        }
        handle.future = client.submit(
            dask_task.run_notebook,
            spec,
            key=key,
            pure=False,
            resources=job.resources or None,
            workers=job.workers or None,
        )
        log.write(f"nborch: submitted to the Dask scheduler at {address} as task {key}")
        return handle

    def wait(self, handle: DaskHandle) -> int:
        from distributed import KilledWorker

        next_check = time.monotonic() + _LOSS_CHECK_INTERVAL
        try:
            while True:
                try:
                    result = handle.future.result(timeout=0.5)
                    break
                except TimeoutError:
                    if time.monotonic() >= next_check:
                        self._check_worker_alive(handle)
                        next_check = time.monotonic() + _LOSS_CHECK_INTERVAL
                except CancelledError:
                    if handle.stopped.is_set():
                        return 143
                    raise InfrastructureError(
                        f"The Dask task of flow run '{handle.run.name}' was cancelled on the "
                        f"scheduler at {handle.address}, not by nborch."
                    ) from None
                except KilledWorker as err:
                    raise InfrastructureError(
                        f"Dask workers died running flow run '{handle.run.name}' ({err}): the "
                        "scheduler gave up on the task."
                    ) from None
                except (OSError, InfrastructureError):
                    raise
                except Exception as err:  # the task itself raised (not papermill)
                    raise InfrastructureError(
                        f"The Dask task of flow run '{handle.run.name}' failed: "
                        f"{type(err).__name__}: {err}"
                    ) from None
            if result.get("output") is not None and handle.run.output_path:
                output = Path(handle.run.output_path)
                private_folder(output.parent)
                output.write_bytes(result["output"])
            return int(result["exit_code"])
        finally:
            self._handles.pop(handle.key, None)
            handle.future.release()

    def _check_worker_alive(self, handle: DaskHandle) -> None:
        """A task that started again on another worker, or whose worker the scheduler has
        not listed twice in a row, lost its worker: cancel it and say so."""
        if not handle.workers:
            return
        first = handle.workers[0]
        restarted = len(set(handle.workers)) > 1
        if not restarted:
            try:
                alive = set(handle.client.scheduler_info(n_workers=-1).get("workers", {}))
            except Exception:
                return  # the scheduler is busy: look again later
            handle.misses = 0 if first in alive else handle.misses + 1
            if handle.misses < 2:
                return
        handle.cancel.set()
        handle.client.cancel(handle.future, force=True)
        raise InfrastructureError(
            f"Dask worker {first} was lost while it ran flow run '{handle.run.name}' (its "
            f"process died or it left the cluster at {handle.address}"
            + (
                f"; the scheduler started the task again on {handle.workers[-1]}"
                if restarted
                else ""
            )
            + "). The run is retried when its deployment has retries left."
        )

    def stop(self, handle: DaskHandle) -> None:
        """Set the run's cancel event: the task stops papermill; a task not started yet is
        cancelled on the scheduler."""
        handle.stopped.set()
        handle.cancel.set()
        if not handle.workers and handle.future is not None:
            handle.client.cancel(handle.future, force=True)

    def infrastructure_id(self, handle: DaskHandle) -> str:
        return f"dask task {handle.key}"

"""The dispatcher: the worker of every managed and push pool, inside a long-running nborch
process (`nborch server start`, the Jupyter server extension, `nborch dispatcher start`).

Every `interval` seconds it lists the store's pools and keeps one worker running for each
pool of a dispatched type (`PoolType.is_dispatched`: `nborch:managed`, `docker-swarm`,
`dask`), on a thread of this process: the pool type's own worker class, with the base
worker's claims, heartbeats, cancellation, secrets and reporting. A pool that appears gets a
worker; one that goes away has its worker stopped. A worker that cannot start (no swarm, no
Dask scheduler) is reported once, and tried again `retry_after` seconds later; meanwhile the
pool is NOT_READY, as a pull pool without a worker is.

Several dispatchers may serve one store (a server and a Jupyter): claims hand each run to
exactly one of them.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from nborch.client.base import NborchClient
from nborch.models import PoolType
from nborch.scheduler_loop import SchedulerLoop
from nborch.workers.base import BaseWorker
from nborch.workers.registry import worker_class_for


@dataclass
class _Served:
    """One pool's worker, on a thread of its own."""

    pool_type: PoolType
    worker: BaseWorker | None = None
    thread: threading.Thread | None = None
    error: str | None = None
    retry_at: float = 0.0
    reported: set[str] = field(default_factory=set)

    @property
    def running(self) -> bool:
        return self.thread is not None and self.thread.is_alive()


class Dispatcher:
    """Keeps a worker running in this process for every managed and push pool."""

    def __init__(
        self,
        client: NborchClient,
        *,
        interval: float = 5.0,
        retry_after: float = 30.0,
        limit: int | None = None,
        poll_interval: float | None = None,
        run_scheduler: bool = False,
        echo: Callable[[str], None] = print,
        holder: str | None = None,
    ) -> None:
        self.client = client
        self.interval = interval
        self.retry_after = retry_after
        self.limit = limit  # most runs per pool at once (the pool's own limit applies too)
        self.poll_interval = poll_interval
        self.echo = echo
        self.holder = holder or f"dispatcher {socket.gethostname()} ({os.getpid()})"
        self.scheduler = (
            SchedulerLoop(
                client, self.holder, on_error=self._scheduler_error, on_runs_created=self._wake_all
            )
            if run_scheduler
            else None
        )
        self._served: dict[str, _Served] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._swept = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="nborch-dispatcher", daemon=True)

    # ---- lifecycle -------------------------------------------------------------------------

    def start(self) -> Dispatcher:
        if self.scheduler:
            self.scheduler.start()
        self._thread.start()
        return self

    def wait_swept(self, timeout: float = 30) -> bool:
        """Has the dispatcher looked at the pools at least once?"""
        return self._swept.wait(timeout)

    def stop(self, grace: float = 10.0) -> None:
        """Stop claiming; give the runs in hand `grace` seconds, then stop them."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        if self.scheduler:
            self.scheduler.stop()
        with self._lock:
            served = list(self._served.values())
            self._served.clear()
        for entry in served:
            if entry.worker:
                entry.worker.request_stop()
        deadline = time.monotonic() + grace
        for entry in served:
            if entry.thread:
                entry.thread.join(max(0.0, deadline - time.monotonic()))
            if entry.running and entry.worker:
                entry.worker.request_stop(force=True)
                entry.thread.join(30)  # type: ignore[union-attr]

    def serve_forever(self) -> None:
        """Block until SIGTERM / SIGINT (`nborch dispatcher start`)."""
        import signal

        stopped = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stopped.set())
        self.start()
        while not stopped.wait(0.5):
            pass
        self.echo("Stopping the dispatcher: waiting for the runs in hand...")
        self.stop(grace=60.0)

    # ---- what it serves --------------------------------------------------------------------

    def served_pools(self) -> dict[str, str | None]:
        """Pool name -> None while its worker runs, else why it does not."""
        with self._lock:
            return {
                name: None if entry.running else (entry.error or "starting")
                for name, entry in self._served.items()
            }

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.sweep()
            except Exception as err:  # a busy or unreachable store: try again next time
                self.echo(f"nborch dispatcher: {type(err).__name__}: {err}")
            self._swept.set()
            self._stop.wait(self.interval)

    def sweep(self) -> None:
        """Start workers for new dispatched pools, stop those of pools gone."""
        wanted = {p.name: p.type for p in self.client.list_pools() if p.type.is_dispatched}
        with self._lock:
            for name in [n for n, e in self._served.items() if wanted.get(n) != e.pool_type]:
                entry = self._served.pop(name)
                if entry.worker:
                    entry.worker.request_stop()
            for name, pool_type in wanted.items():
                entry = self._served.setdefault(name, _Served(pool_type))
                if not entry.running and time.monotonic() >= entry.retry_at:
                    self._start_worker(name, entry)

    def _start_worker(self, pool_name: str, entry: _Served) -> None:
        try:
            worker_class = worker_class_for(entry.pool_type)
        except Exception as err:
            self._report(pool_name, entry, str(err))
            entry.retry_at = float("inf")
            return
        worker: BaseWorker = worker_class(
            self.client,
            pool_name,
            name=f"{entry.pool_type.value} dispatcher {socket.gethostname()} ({os.getpid()})",
            limit=self.limit,
            poll_interval=self.poll_interval,
            run_scheduler=False,
            echo=self.echo,
        )
        entry.worker = worker
        entry.retry_at = time.monotonic() + self.retry_after

        def run() -> None:
            try:
                worker.start()
            except Exception as err:
                entry.error = f"{type(err).__name__}: {err}"
                self._report(pool_name, entry, entry.error)

        entry.thread = threading.Thread(target=run, name=f"dispatch-{pool_name}", daemon=True)
        entry.thread.start()

    def _report(self, pool_name: str, entry: _Served, why: str) -> None:
        entry.error = why
        if why not in entry.reported:  # once per reason, not every retry
            entry.reported.add(why)
            self.echo(
                f"nborch dispatcher: cannot serve work pool '{pool_name}' "
                f"({entry.pool_type.value}): {why} (trying again every {self.retry_after:g} s)"
            )

    def _wake_all(self) -> None:
        with self._lock:
            workers = [e.worker for e in self._served.values() if e.worker]
        for worker in workers:
            worker.wake()

    def _scheduler_error(self, err: Exception) -> None:
        self.echo(f"nborch scheduler: {err}")

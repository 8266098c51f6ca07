"""A worker on a thread of this process: for notebooks (`%worker start`, `%serve`) and
`serve(background=True)`. It can be stopped, and says whether it is still running."""

from __future__ import annotations

import threading

from nborch.workers.base import BaseWorker


class BackgroundWorker:
    def __init__(self, worker: BaseWorker) -> None:
        self.worker = worker
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=worker.name, daemon=True)
        self._started = threading.Event()

    def _run(self) -> None:
        try:
            self.worker.start()
        except BaseException as err:  # kept for `running`/`stop` to report
            self.error = err
            self._started.set()

    def start(self, timeout: float = 30) -> BackgroundWorker:
        """Start it and wait until it is registered (or failed to start)."""
        self._thread.start()
        self.worker.started.wait(timeout)
        if self.error is not None:
            raise self.error
        return self

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def stop(self, *, force: bool = False, timeout: float | None = 60) -> None:
        """Stop claiming; wait for the runs in hand (or stop them with `force`)."""
        self.worker.request_stop(force=force)
        self._thread.join(timeout)

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<{self.worker.name} on pool '{self.worker.pool_name}': {state}>"

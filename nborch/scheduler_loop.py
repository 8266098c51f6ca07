"""The scheduler in the background of a long-running process (a worker, `serve()`, the
server): it ticks whenever this process holds the scheduler's lease, so the embedded
default needs no separate step, and only one process ticks at a time."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable

from nborch.client.base import NborchClient
from nborch.models import TickResult
from nborch.settings import get_settings

# After a tick that left due schedules for later (it stopped at its batch), the next tick
# comes this soon: long enough for workers waiting on the store's write lock to take it.
BETWEEN_BATCHES = 0.1


class SchedulerLoop:
    def __init__(
        self,
        client: NborchClient,
        holder: str | None = None,
        *,
        interval: float | None = None,
        on_error: Callable[[Exception], None] = lambda _err: None,
        on_runs_created: Callable[[], None] = lambda: None,
        orphan_grace: float | None = None,
    ) -> None:
        self.client = client
        self.holder = holder or f"scheduler {uuid.uuid4()}"
        self.interval = interval if interval is not None else get_settings().scheduler_interval
        self.on_error = on_error
        self.on_runs_created = on_runs_created  # e.g. wake a worker of this process
        # Its ticks mark runs CRASHED for their workers' silence only once it has ticked
        # (held the lease, reached the store) without a break for this long, a worker's
        # timeout by default: a store or scheduler that was away could not take the workers'
        # heartbeats, and they need a moment to reach it again.
        self.orphan_grace = (
            orphan_grace if orphan_grace is not None else get_settings().worker_timeout
        )
        self._ticking_since: float | None = None
        self.last: TickResult | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="scheduler", daemon=True)

    def start(self) -> SchedulerLoop:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _loop(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            since = self._ticking_since if self._ticking_since is not None else started
            try:
                crash_orphans = started - since >= self.orphan_grace
                result = self.client.scheduler_tick(self.holder, crash_orphans=crash_orphans)
            except Exception as err:  # a busy or unreachable store: try again next time
                self._ticking_since = None
                self.on_error(err)
            else:
                # Watching without a break since `since`, unless another process ticks or
                # the store was so slow that the workers' heartbeats may have waited too.
                slow = time.monotonic() - started > get_settings().heartbeat_interval
                self._ticking_since = since if result is not None and not slow else None
                if result is not None:
                    self.last = result
                    if result.created:
                        self.on_runs_created()
                    if result.more:
                        self._stop.wait(BETWEEN_BATCHES)
                        continue
            self._stop.wait(self.interval)


def tick_until_done(client: NborchClient, holder: str) -> None:
    """Tick, and again while a tick leaves due schedules for later (a worker run from cron
    makes every due run before it claims)."""
    while (result := client.scheduler_tick(holder)) is not None and result.more:
        pass

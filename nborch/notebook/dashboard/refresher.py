"""Refreshing the dashboard from a background thread, so that the kernel stays free.

ipykernel sends widget updates made from another thread, so the thread updates the widgets
itself. It sleeps between refreshes on an event: `poke()` wakes it for a refresh now (after
a button did something), `stop()` ends it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable


class Refresher:
    """Calls `refresh` every `interval` seconds in a daemon thread until `stop()` (or until
    `alive()` says no). A refresh that raises is handed to `on_error` and the next one comes
    as usual; `paused()` skips refreshes (e.g. while the dashboard is on no screen)."""

    def __init__(
        self,
        refresh: Callable[[], None],
        interval: float,
        *,
        on_error: Callable[[Exception], None],
        alive: Callable[[], bool] = lambda: True,
        paused: Callable[[], bool] = lambda: False,
    ) -> None:
        if interval <= 0:
            raise ValueError(f"A refresh interval must be positive, got {interval}.")
        self.refresh = refresh
        self.interval = interval
        self.on_error = on_error
        self.alive = alive
        self.paused = paused
        self.refreshes = 0  # how many refreshes the thread made (for people and tests)
        self._wake = threading.Event()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="nborch-dashboard", daemon=True)

    def start(self) -> Refresher:
        self._thread.start()
        return self

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def poke(self) -> None:
        """Refresh now rather than at the end of the current wait."""
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop refreshing; waits for a refresh in progress (unless called from it)."""
        self._stopped.set()
        self._wake.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout)

    def _loop(self) -> None:
        while True:
            self._wake.wait(self.interval)
            self._wake.clear()
            if self._stopped.is_set() or not self.alive():
                return
            if self.paused():
                continue
            try:
                self.refresh()
                self.refreshes += 1
            except Exception as err:  # the dashboard shows it; the next refresh may work
                self.on_error(err)

"""Shipping a run's log lines to the store in small batches, off the run's own thread,
with the run's secret values masked as a reader of the logs would see them (a value
written in pieces is masked in each: `nborch.execution.masking.LineMasker`). Each batch
carries the run's attempt: once the run is lost to it, the store refuses them, and the
shipper drops what comes after."""

from __future__ import annotations

import threading
import uuid
from collections import deque
from collections.abc import Callable, Iterable

from nborch.client.base import NborchClient
from nborch.errors import RunLostError
from nborch.execution.masking import LineMasker

# Lines that say nothing to the user: noise from jupyter_client and ipykernel (which logs
# the interrupt jupyter_client sends to every kernel it shuts down).
_NOISE = (
    "Kernel is running over TCP without encryption",
    "[IPKernelApp] ERROR | KeyboardInterrupt caught in kernel.",
)


def is_noise(line: str) -> bool:
    """A line the shipper drops."""
    return any(noise in line for noise in _NOISE)


class LogShipper:
    """Collects lines as they come and appends them to the run's logs every `interval` s."""

    def __init__(
        self,
        client: NborchClient,
        run_id: uuid.UUID,
        interval: float = 0.5,
        tee: Callable[[str], None] | None = None,
        *,
        attempt: int | None = None,
    ) -> None:
        self.client = client
        self.tee = tee
        self.run_id = run_id
        self.attempt = attempt
        self.lost = False  # the store refused a batch: the run is no longer this attempt's
        self.interval = interval
        self.tail: deque[str] = deque(maxlen=20)
        self._masker = LineMasker()
        self._pending: list[str] = []
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"logs-{run_id}", daemon=True)
        self._thread.start()

    def mask(self, secrets: Iterable[str]) -> None:
        """Never let these values through: they are replaced by MASK in every line, also
        when one is written across lines."""
        with self._lock:
            self._masker.add(secrets)

    def write(self, line: str) -> None:
        if is_noise(line):
            return
        with self._lock:
            self._ship(self._masker.feed([line]))

    def _ship(self, lines: list[str]) -> None:
        """Lines the masker let out: to the store at the next flush, the tail, the tee."""
        self._pending.extend(lines)
        self.tail.extend(lines)
        if self.tee:
            for line in lines:
                self.tee(line)

    def flush(self) -> None:
        with self._lock:
            lines, self._pending = self._pending, []
        if lines and not self.lost:
            try:
                self.client.append_logs(self.run_id, lines, attempt=self.attempt)
            except RunLostError:
                self.lost = True
            except Exception:  # the store is busy or gone: keep the lines for the next try
                with self._lock:
                    self._pending[:0] = lines

    def _loop(self) -> None:
        while not self._closed.wait(self.interval):
            self.flush()

    def close(self) -> None:
        self._closed.set()
        self._thread.join()
        with self._lock:  # lines held back in case a value went on: none will come now
            self._ship(self._masker.finish())
        self.flush()

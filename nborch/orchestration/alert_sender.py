"""The thread that sends alerts, beside the scheduler: each tick of the process that holds
the scheduler's lease calls `kick` (`scheduler.tick_if_leader`), and while kicks keep
coming its thread sends the outbox (`alert_outbox.send_due`) every POLL seconds. A slow
receiver holds up this thread only, never a tick; a process that stops holding the lease
stops sending within a lease's time to live, and its thread ends."""

from __future__ import annotations

import logging
import threading
import time

from nborch.settings import get_settings
from nborch.store.engine import Store

POLL = 0.2  # seconds between looks at the outbox: alerts leave this soon after the change
log = logging.getLogger(__name__)


class AlertSender:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.kicked = time.monotonic()
        self.thread = threading.Thread(target=self._loop, name="alert sender", daemon=True)

    def _leading(self) -> bool:
        return time.monotonic() - self.kicked < 3 * get_settings().scheduler_interval

    def _loop(self) -> None:
        from nborch.orchestration.alert_outbox import send_due

        while self._leading():
            try:
                while send_due(self.store) and self._leading():
                    pass
            except Exception as err:  # a store away for a moment: the messages wait in it
                log.warning(
                    "Could not send alerts (%s: %.200s); trying again", type(err).__name__, err
                )
            time.sleep(POLL)
        with _lock:
            if _senders.get(id(self.store)) is self:
                del _senders[id(self.store)]


_senders: dict[int, AlertSender] = {}
_lock = threading.Lock()


def kick(store: Store) -> None:
    """This process holds the scheduler's lease: send alerts from it (for a while)."""
    with _lock:
        sender = _senders.get(id(store))
        if sender is not None and sender.store is store:
            sender.kicked = time.monotonic()
            return
        sender = _senders[id(store)] = AlertSender(store)
    sender.thread.start()

"""Waking whoever waits for a pool's work (idle workers, long-polling claims) the moment the
pool gets some: a run created, rescheduled or released, a schedule's runs made, a pool,
queue or deployment resumed. Polling stays as the fallback; this only makes it unneeded.

Writers call `wake_pool(session, pool_id)` inside their transaction; the wake-up goes out
when it commits (and never when it rolls back). Listeners call `store.wakeups.watch(pool_id,
callback)`; the callback runs on a thread of the store's and must be quick (set an event).

- PostgreSQL: NOTIFY on a channel per pool, sent by the database at commit; one LISTEN
  connection per process and store.
- SQLite: a named pipe (FIFO) per watcher, in a folder per pool beside the database file
  (`.nborch.db-wake/POOL_ID/`);
  after commit the writer writes a byte into each. A FIFO nobody reads any more belongs to
  a watcher that died: the writer removes it. Watchers on other machines (a store on a
  network share) are not reached: they poll.
- Anything else (a store in memory): nothing; workers poll.
"""

from __future__ import annotations

import errno
import os
import selectors
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from nborch.home_files import private_folder
from nborch.models import Watch

if TYPE_CHECKING:
    from nborch.store.engine import Store

_PENDING = "nborch_wake_pools"  # session.info key: pools to wake once the session commits
LISTEN_POLL = 0.2  # seconds between a PostgreSQL listener's checks for new subscriptions


def wake_pool(session: Session, pool_id: str | None) -> None:
    """Wake the pool's watchers once this session's transaction commits."""
    if not pool_id:
        return
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_notify(:channel, '')"), {"channel": channel(pool_id)})
    else:
        session.info.setdefault(_PENDING, set()).add(str(pool_id))


def pools_to_wake(session: Session) -> set[str]:
    """The pools `wake_pool` named in this session (cleared)."""
    return session.info.pop(_PENDING, set())


def channel(pool_id: str) -> str:
    return "nborch_pool_" + str(pool_id).replace("-", "")


class Wakeups:
    """No wake-ups: watchers are never called (they poll)."""

    def ping(self, pool_ids: Iterable[str]) -> None:
        """Wake the watchers of these pools now (after a commit)."""

    def watch(self, pool_id: str, callback: Callable[[], None]) -> Watch:
        return Watch(lambda: None)

    def close(self) -> None:
        pass


def wakeups_for(store: Store) -> Wakeups:
    dialect = store.engine.dialect.name
    if dialect == "postgresql":
        return PostgresWakeups(store)
    if dialect == "sqlite":
        database = make_url(store.url).database
        if database and database != ":memory:" and not database.startswith("file:"):
            path = Path(database)
            return FifoWakeups(path.with_name(f".{path.name}-wake"))
    return Wakeups()


# ---- SQLite: named pipes ---------------------------------------------------------------------


class FifoWakeups(Wakeups):
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._lock = threading.Lock()
        self._selector: selectors.BaseSelector | None = None
        self._thread: threading.Thread | None = None
        self._control_r, self._control_w = -1, -1
        self._closed = False

    def ping(self, pool_ids: Iterable[str]) -> None:
        for pool_id in pool_ids:
            folder = self.folder / pool_id
            try:
                names = os.listdir(folder)
            except FileNotFoundError:
                continue
            for name in names:
                _poke(folder / name)

    def watch(self, pool_id: str, callback: Callable[[], None]) -> Watch:
        folder = private_folder(self.folder / pool_id)
        path = folder / f"{os.getpid()}-{uuid.uuid4().hex[:12]}"
        os.mkfifo(path, 0o600)
        reader = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        keeper = os.open(path, os.O_WRONLY | os.O_NONBLOCK)  # no end-of-file while we read
        with self._lock:
            selector = self._ensure_thread()
            selector.register(reader, selectors.EVENT_READ, callback)
        self._nudge()

        def close() -> None:
            with self._lock:
                if self._selector is not None:
                    try:
                        self._selector.unregister(reader)
                    except (KeyError, ValueError):
                        pass
            self._nudge()
            for fd in (reader, keeper):
                try:
                    os.close(fd)
                except OSError:
                    pass
            path.unlink(missing_ok=True)

        return Watch(close)

    def _ensure_thread(self) -> selectors.BaseSelector:
        if self._selector is None:
            self._selector = selectors.DefaultSelector()
            self._control_r, self._control_w = os.pipe()
            os.set_blocking(self._control_r, False)
            os.set_blocking(self._control_w, False)
            self._selector.register(self._control_r, selectors.EVENT_READ, None)
            self._thread = threading.Thread(target=self._loop, name="nborch-wakeups", daemon=True)
            self._thread.start()
        return self._selector

    def _nudge(self) -> None:
        """Let the selector thread see a change of its file descriptors."""
        if self._control_w >= 0:
            try:
                os.write(self._control_w, b"x")
            except OSError:
                pass

    def _loop(self) -> None:
        while not self._closed:
            with self._lock:
                selector = self._selector
            if selector is None:
                return
            try:
                events = selector.select(timeout=1.0)
            except (OSError, ValueError):  # a descriptor closed under us: look again
                time.sleep(0.01)
                continue
            for key, _mask in events:
                _drain(key.fd)
                if key.data is not None:
                    try:
                        key.data()
                    except Exception:
                        pass

    def close(self) -> None:
        self._closed = True
        self._nudge()
        if self._thread is not None:
            self._thread.join(timeout=5)
        with self._lock:
            if self._selector is not None:
                self._selector.close()
                self._selector = None
        for fd in (self._control_r, self._control_w):
            if fd >= 0:
                try:
                    os.close(fd)
                except OSError:
                    pass


def _poke(path: Path) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
    except FileNotFoundError:
        return
    except OSError as err:
        if err.errno == errno.ENXIO:  # nobody reads it: its watcher died
            path.unlink(missing_ok=True)
        return
    try:
        os.write(fd, b"!")
    except OSError:  # full: it has unread wake-ups already
        pass
    finally:
        os.close(fd)


def _drain(fd: int) -> None:
    try:
        while os.read(fd, 4096):
            pass
    except OSError:
        pass


# ---- PostgreSQL: LISTEN/NOTIFY -------------------------------------------------------------


class PostgresWakeups(Wakeups):
    def __init__(self, store: Store) -> None:
        self.store = store
        self._lock = threading.Lock()
        self._callbacks: dict[str, list[Callable[[], None]]] = defaultdict(list)
        self._pending: list[tuple[str, str, threading.Event]] = []  # (LISTEN/UNLISTEN, channel)
        self._thread: threading.Thread | None = None
        self._closed = False

    def ping(self, pool_ids: Iterable[str]) -> None:
        pass  # NOTIFY was sent inside the transaction: the database delivers it at commit

    def watch(self, pool_id: str, callback: Callable[[], None]) -> Watch:
        name = channel(pool_id)
        done = threading.Event()
        with self._lock:
            self._callbacks[name].append(callback)
            self._pending.append(("LISTEN", name, done))
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._loop, name="nborch-listen", daemon=True
                )
                self._thread.start()
        done.wait(timeout=10)  # listening before the caller looks for work: nothing missed

        def close() -> None:
            with self._lock:
                callbacks = self._callbacks.get(name, [])
                if callback in callbacks:
                    callbacks.remove(callback)
                if not callbacks:
                    self._callbacks.pop(name, None)
                    self._pending.append(("UNLISTEN", name, threading.Event()))

        return Watch(close)

    def _connect(self) -> Any:
        import psycopg

        url = self.store.engine.url.set(drivername="postgresql")
        return psycopg.connect(url.render_as_string(hide_password=False), autocommit=True)

    def _loop(self) -> None:
        connection: Any = None
        reconnecting = False
        while not self._closed:
            try:
                if connection is None:
                    connection = self._connect()
                    with self._lock:  # (re)subscribe to everything watched
                        names = list(self._callbacks)
                        pending, self._pending = self._pending, []
                    for name in names:
                        connection.execute(f'LISTEN "{name}"')
                    for _, _, done in pending:
                        done.set()
                    if reconnecting:
                        self._call(names)  # something may have come while we were away
                with self._lock:
                    pending, self._pending = self._pending, []
                for command, name, done in pending:
                    connection.execute(f'{command} "{name}"')
                    done.set()
                for notify in connection.notifies(timeout=LISTEN_POLL):
                    self._call([notify.channel])
            except Exception:  # the connection broke: connect again after a pause
                if connection is not None:
                    try:
                        connection.close()
                    except Exception:
                        pass
                connection = None
                reconnecting = True
                time.sleep(1.0)
        if connection is not None:
            connection.close()

    def _call(self, names: Iterable[str]) -> None:
        with self._lock:
            callbacks = [cb for name in names for cb in self._callbacks.get(name, [])]
        for callback in callbacks:
            try:
                callback()
            except Exception:
                pass

    def close(self) -> None:
        self._closed = True
        if self._thread is not None:
            self._thread.join(timeout=5)

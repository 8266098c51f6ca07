"""Opening the store: one SQLAlchemy engine per URL, migrated to the newest schema on open.

SQLite is made safe for several worker processes: WAL (readers never block the writer),
a busy timeout (writers wait their turn instead of failing) and ``BEGIN IMMEDIATE`` for
write transactions (a reader that turns writer would otherwise fail at once with
SQLITE_BUSY rather than wait).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from nborch.errors import StoreError
from nborch.home_files import private_file
from nborch.store.wakeups import Wakeups, pools_to_wake, wakeups_for

SQLITE_BUSY_TIMEOUT_MS = 30_000


class Store:
    """The database behind nborch: sessions for reading and for writing."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = _create_engine(url)
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        self._read = sessionmaker(self.engine, expire_on_commit=False)
        self._write = sessionmaker(
            self.engine.execution_options(sqlite_immediate=True), expire_on_commit=False
        )
        self._wakeups: Wakeups | None = None
        self._wakeups_lock = threading.Lock()

    @property
    def wakeups(self) -> Wakeups:
        """Who waits for a pool's work is woken through these (see `wakeups`)."""
        with self._wakeups_lock:
            if self._wakeups is None:
                self._wakeups = wakeups_for(self)
            return self._wakeups

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A short session for reading; its objects stay readable after it closes."""
        with self._read() as session:
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        """One transaction: committed when the block ends, rolled back if it raises; then
        the pools it gave work to (`wakeups.wake_pool`) wake their watchers."""
        with self._write() as session:
            with session.begin():
                yield session
            woken = pools_to_wake(session)
        if woken:
            self.wakeups.ping(woken)

    def dispose(self) -> None:
        with self._wakeups_lock:
            wakeups, self._wakeups = self._wakeups, None
        if wakeups is not None:
            wakeups.close()
        self.engine.dispose()


def _create_engine(url: str) -> Engine:
    try:
        parsed = make_url(url)
    except ArgumentError as err:
        raise StoreError(
            f"Database URL {url!r} is not a valid URL ({err}). "
            "Set NBORCH_DATABASE_URL to e.g. postgresql+psycopg://user:pw@host/db"
        ) from err
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            _make_store_file(parsed.database)
        engine = create_engine(
            url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False}
        )
        _make_sqlite_safe_for_many_processes(engine)
        _explain_sqlite_errors(engine, parsed.database or ":memory:")
        return engine
    if parsed.drivername == "postgresql":
        url = str(parsed.set(drivername="postgresql+psycopg"))
    try:
        return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)
    except ModuleNotFoundError as err:
        raise StoreError(
            f"The driver for {parsed.drivername!r} is not installed ({err.name}). "
            "Install it with: pip install 'nborch[postgres]'"
        ) from err


def _make_store_file(path: str) -> None:
    """The SQLite file, made 0600 if missing: SQLite gives its -wal and -shm files its mode."""
    try:
        private_file(path)
    except OSError as err:
        raise StoreError(
            f"Cannot make the store {path}: {err.strerror}. Make its folder writable, or set "
            "NBORCH_HOME (or NBORCH_DATABASE_URL) to a place you may write."
        ) from None


def _make_sqlite_safe_for_many_processes(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event, not pysqlite, decide how transactions start.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        _switch_to_wal(cursor)
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(connection: Any) -> None:
        immediate = connection.get_execution_options().get("sqlite_immediate", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _explain_sqlite_errors(engine: Engine, path: str) -> None:
    """A damaged or locked SQLite file, wherever it is met (opening, reading, writing),
    becomes one StoreError that names the file and the fix, instead of a traceback."""

    @event.listens_for(engine, "handle_error")
    def on_error(context: Any) -> None:
        error = context.original_exception
        if isinstance(error, sqlite3.DatabaseError):
            explained = explain_sqlite_error(error, path)
            if explained is not None:
                raise explained from context.sqlalchemy_exception


def explain_sqlite_error(
    error: sqlite3.DatabaseError, path: str, waited_ms: int = SQLITE_BUSY_TIMEOUT_MS
) -> StoreError | None:
    """The StoreError for a damaged or locked SQLite store at `path` (its lock waited for
    `waited_ms`); None for other errors (a bug, a constraint), which keep their traceback."""
    reason = str(error)
    if any(sign in reason for sign in _DAMAGED):
        return StoreError(
            f"The store {path} is damaged ({reason}). Restore it from a backup, or move it "
            f"aside to start with an empty store: mv {path} {path}.damaged"
        )
    if any(sign in reason for sign in _LOCKED):
        return StoreError(
            f"The store {path} is locked by another process ({reason}; waited "
            f"{waited_ms / 1000:g} s). Stop the process that holds it "
            f"(find it with: fuser {path}) and try again."
        )
    return None


# What SQLite says of a file that is not (or no longer) a database, and of a lock it waited
# for in vain.
_DAMAGED = ("file is not a database", "malformed", "file is encrypted", "disk I/O error")
_LOCKED = ("database is locked", "database table is locked")


def _switch_to_wal(cursor: Any) -> None:
    """WAL mode, waiting for other openers: SQLite answers SQLITE_BUSY at once, without its
    busy handler, when several processes switch a new file to WAL at the same moment."""
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as err:
            if "locked" not in str(err) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


_stores: dict[str, Store] = {}
_stores_lock = threading.Lock()


def open_store(url: str) -> Store:
    """The store at `url`, created or upgraded to the newest schema if needed."""
    from nborch.store.migrate import ensure_schema_is_current

    with _stores_lock:
        store = _stores.get(url)
        if store is None:
            store = Store(url)
            try:
                ensure_schema_is_current(store)
            except OperationalError as err:
                store.dispose()
                raise StoreError(
                    f"Cannot open the store at {url!r}: {err.orig}. "
                    "Check NBORCH_DATABASE_URL / NBORCH_HOME and that the database is running."
                ) from err
            _stores[url] = store
        return store


def close_stores() -> None:
    """Dispose of every open engine (tests, and processes that fork)."""
    with _stores_lock:
        for store in _stores.values():
            store.dispose()
        _stores.clear()

"""Schema migrations with Alembic, run on open only when the store is behind.

The check reads one row (`alembic_version`) and compares it with `HEAD_REVISION`, so opening
a current store costs no Alembic import. Concurrent openers are serialised by a file lock
(SQLite) or an advisory lock (PostgreSQL), so eight workers starting at once migrate once.
"""

from __future__ import annotations

import fcntl
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from urllib.parse import quote

from sqlalchemy import Connection, inspect, text
from sqlalchemy.exc import OperationalError

from nborch.errors import StoreError
from nborch.home_files import private_file
from nborch.store.engine import Store, explain_sqlite_error

HEAD_REVISION = "0012_alerts"
MIGRATIONS_DIR = Path(__file__).parent / "migrations"
_PG_LOCK_KEY = 0x6E62_6F72  # "nbor"


def current_revision(connection: Connection) -> str | None:
    if not inspect(connection).has_table("alembic_version"):
        return None
    return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


# How long a look at the store (`read_schema_revision`) waits for a SQLite lock.
PROBE_WAIT_MS = 2000


def read_schema_revision(store: Store) -> str | None:
    """The store's schema revision as it is now, or a StoreError that names the store and
    the fix. A SQLite file is read read-only on a connection of its own, waiting for a lock
    PROBE_WAIT_MS at most: a pooled connection reads from its page cache, which can outlive
    a file damaged behind its back."""
    path = store.engine.url.database if store.is_sqlite else None
    if path and path != ":memory:":
        return _sqlite_revision(path)
    try:
        with store.engine.connect() as connection:
            return current_revision(connection)
    except OperationalError as err:
        reason = str(err.orig).strip().splitlines()[0] if err.orig else "no answer"
        raise StoreError(
            f"The store's database cannot be reached ({reason}). Check that it is running "
            "and that NBORCH_DATABASE_URL names it."
        ) from None


def _sqlite_revision(path: str) -> str | None:
    uri = f"file:{quote(path)}?mode=ro"
    try:
        with closing(sqlite3.connect(uri, uri=True, timeout=PROBE_WAIT_MS / 1000)) as db:
            tables = db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            if ("alembic_version",) not in tables.fetchall():
                return None
            row = db.execute("SELECT version_num FROM alembic_version").fetchone()
            return str(row[0]) if row else None
    except sqlite3.DatabaseError as err:
        raise explain_sqlite_error(err, path, PROBE_WAIT_MS) or StoreError(
            f"The store {path} cannot be read ({err}). Check that the file exists and that "
            "nborch's user may read it (NBORCH_HOME or NBORCH_DATABASE_URL name it)."
        ) from None


def ensure_schema_is_current(store: Store) -> None:
    with store.engine.connect() as connection:
        if current_revision(connection) == HEAD_REVISION:
            return
    with _migration_lock(store):
        upgrade(store, HEAD_REVISION)


def upgrade(store: Store, revision: str = "head") -> None:
    """Bring the store's schema to `revision` (Alembic), keeping every row."""
    from alembic import command

    # Immediate: on SQLite the migration holds the write lock from its first statement.
    with store.engine.execution_options(sqlite_immediate=True).begin() as connection:
        command.upgrade(_alembic_config(connection), revision)


def _alembic_config(connection: Connection):  # type: ignore[no-untyped-def]
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


@contextmanager
def _migration_lock(store: Store) -> Iterator[None]:
    if store.is_sqlite:
        db_path = store.engine.url.database
        lock_path = Path(f"{db_path}.migrate.lock") if db_path else None
        if lock_path is None or db_path == ":memory:":
            yield
            return
        with open(private_file(lock_path), "w") as lock_file:
            fcntl.flock(lock_file, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock_file, fcntl.LOCK_UN)
    else:
        with store.engine.connect() as connection:
            connection.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _PG_LOCK_KEY})
            try:
                yield
            finally:
                connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _PG_LOCK_KEY})
                connection.commit()

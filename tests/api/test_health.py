"""`/health` says whether the server can read its store and whether the store's schema is
the one this nborch needs: 200 "ok", or 503 "error" with one line naming the store and the
fix (a damaged, truncated, locked or outdated SQLite file), never a traceback. It stays
public, and a healthy answer names no path."""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import httpx
from support.api import Server

from nborch.store.migrate import HEAD_REVISION


def _health(server: Server) -> httpx.Response:
    return httpx.get(server.url + "/api/v1/health", timeout=30)


def _store_file(server: Server) -> Path:
    database = server.local.store.engine.url.database
    assert database is not None
    return Path(database)


@contextmanager
def _replaced(path: Path, content: bytes) -> Iterator[None]:
    """The file's bytes replaced in place (the server keeps it open), then put back; the
    write-ahead log is checkpointed first, so that the file holds every page."""
    with closing(sqlite3.connect(path)) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    before = path.read_bytes()
    try:
        with open(path, "r+b") as file:
            file.write(content)
            file.truncate()
        yield
    finally:
        path.write_bytes(before)


def _unhealthy(server: Server, *words: str) -> str:
    answer = _health(server)
    assert answer.status_code == 503, answer.text
    body = answer.json()
    assert body["status"] == "error" and body["store"]["expected"] == HEAD_REVISION
    error = body["store"]["error"]
    assert "\n" not in error and "Traceback" not in answer.text
    for word in words:
        assert word in error, (word, error)
    return str(error)


def test_a_healthy_store_is_ok_and_names_no_path(sqlite_server: Server) -> None:
    answer = _health(sqlite_server)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["status"] == "ok"
    assert body["store"] == {
        "reachable": True,
        "revision": HEAD_REVISION,
        "expected": HEAD_REVISION,
        "error": None,
    }
    assert str(_store_file(sqlite_server).parent) not in answer.text


def test_a_damaged_store_is_503_in_one_line(sqlite_server: Server) -> None:
    path = _store_file(sqlite_server)
    assert _health(sqlite_server).status_code == 200  # the pool's connections are open
    with _replaced(path, os.urandom(path.stat().st_size)):
        _unhealthy(sqlite_server, str(path), "damaged", "Restore it from a backup")
    header = path.read_bytes()[:100]
    with _replaced(path, header):  # truncated
        _unhealthy(sqlite_server, str(path), "Restore it from a backup")
    assert _health(sqlite_server).status_code == 200


def _lock_exclusively(server: Server, path: Path) -> sqlite3.Connection:
    """A connection holding the store's exclusive lock. The lock wants no one else in: the
    server's pooled connections are closed first, and a fresh connection tries again when
    the server's sign of life (a write every few seconds) came between."""
    errors: list[str] = []
    for _ in range(100):
        server.local.store.engine.dispose()
        holder = sqlite3.connect(path, isolation_level=None, timeout=0.2)
        try:
            holder.execute("PRAGMA locking_mode = EXCLUSIVE")
            holder.execute("BEGIN EXCLUSIVE")
            holder.execute("UPDATE alembic_version SET version_num = version_num")
            return holder
        except sqlite3.OperationalError as err:
            errors.append(str(err))
            holder.close()  # with whatever lock it got: the next try starts clean
            time.sleep(0.05)
    raise AssertionError(f"could not lock the store for the test: {set(errors)}")


def test_a_locked_store_is_503_within_seconds(sqlite_server: Server) -> None:
    path = _store_file(sqlite_server)
    with closing(_lock_exclusively(sqlite_server, path)) as holder:
        _unhealthy(sqlite_server, str(path), "locked by another process", "fuser")
        holder.execute("ROLLBACK")
    assert _health(sqlite_server).status_code == 200


def test_a_schema_that_is_not_the_head_is_503(sqlite_server: Server) -> None:
    path = _store_file(sqlite_server)
    with closing(sqlite3.connect(path, isolation_level=None)) as db:
        db.execute("UPDATE alembic_version SET version_num = '0007_older'")
        try:
            _unhealthy(sqlite_server, "0007_older", HEAD_REVISION, "Restart nborch")
        finally:
            db.execute("UPDATE alembic_version SET version_num = ?", (HEAD_REVISION,))
    assert _health(sqlite_server).status_code == 200

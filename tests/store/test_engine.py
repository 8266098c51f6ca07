"""The SQLite store is set up for many processes; bad URLs get a clear error."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from nborch.errors import StoreError
from nborch.store.engine import SQLITE_BUSY_TIMEOUT_MS, open_store


def test_sqlite_uses_wal_and_a_busy_timeout(nborch_home: Path) -> None:
    store = open_store(f"sqlite:///{nborch_home / 'x.db'}")
    with store.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == SQLITE_BUSY_TIMEOUT_MS
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    assert (nborch_home / "x.db").exists()


def test_write_rolls_back_on_error(nborch_home: Path) -> None:
    store = open_store(f"sqlite:///{nborch_home / 'x.db'}")
    with pytest.raises(RuntimeError):
        with store.write() as session:
            session.execute(
                sa.text("INSERT INTO flows (id, name, created) VALUES ('1', 'f', '2024-01-01')")
            )
            raise RuntimeError("abort")
    with store.read() as session:
        assert session.execute(sa.text("SELECT count(*) FROM flows")).scalar() == 0


def test_bad_urls_are_explained(nborch_home: Path) -> None:
    with pytest.raises(StoreError, match="not a valid URL"):
        open_store("not a url")
    with pytest.raises(StoreError, match="Cannot open the store"):
        open_store("postgresql+psycopg://nobody@127.0.0.1:1/none")


def test_a_store_that_cannot_be_made_is_explained(nborch_home: Path, tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("")
    with pytest.raises(StoreError, match="Cannot make the store .*a-file/nborch.db: Not a dir"):
        open_store(f"sqlite:///{tmp_path / 'a-file' / 'nborch.db'}")

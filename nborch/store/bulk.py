"""Writing many rows at once, the fast way on each back end.

The scheduler makes thousands of runs in one tick. One statement, written once over a
table of rows `{rows}` (alias `v`), handles all of them: the rows travel as one bound JSON
array that the database makes a table (`json_to_recordset` on PostgreSQL, `json_each` on
SQLite), so there is one short statement to parse and run however many rows there are,
and no driver work per value. Rows carry only what the database cannot find itself (ids,
times); the statement copies the rest from the tables it joins, JSON columns included,
without Python decoding and encoding them.
"""

from __future__ import annotations

import functools
import json
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import CursorResult, text
from sqlalchemy.orm import Session

from nborch.store.tables import UTCDateTime

TIMESTAMP = "timestamp"  # the type of a column of (aware) datetimes in `for_each_row`
_ROWS = "nborch_rows"  # the bound value that carries the rows


def is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def time_ordered_id() -> str:
    """A UUID (version 7) that starts with the time in milliseconds: rows made together
    sort together, so an index on their ids grows at its end instead of everywhere."""
    stamp = f"{time.time_ns() // 1_000_000:012x}"
    rand = os.urandom(10).hex()
    variant = "89ab"[int(rand[3], 16) & 3]
    return f"{stamp[:8]}-{stamp[8:]}-7{rand[:3]}-{variant}{rand[4:7]}-{rand[7:19]}"


def for_each_row(
    session: Session,
    statement: str,
    columns: Mapping[str, str],
    rows: Iterable[Sequence[Any]],
    **params: Any,
) -> CursorResult[Any]:
    """Run `statement` once for all `rows`; returns its result.

    `statement` reads the rows as the table `{rows}` (alias `v`) with `columns`, each a
    name and its PostgreSQL type (`TIMESTAMP`: aware datetimes; `json`: dicts and lists);
    `params` are bound by name, datetimes stored as `UTCDateTime` stores them.
    """
    if is_postgres(session):
        fields = ", ".join(f"{name} {type_}" for name, type_ in columns.items())
        table = f"json_to_recordset(CAST(:{_ROWS} AS json)) AS v({fields})"
    else:
        fields = ", ".join(f"json_extract(value, '$.{name}') AS {name}" for name in columns)
        table = f"(SELECT {fields} FROM json_each(:{_ROWS})) AS v"
    to_store = _stored_time(session)
    bound = {k: to_store(v) if isinstance(v, datetime) else v for k, v in params.items()}
    return session.connection().execute(
        text(statement.format(rows=table)), {**bound, _ROWS: _json_rows(columns, rows)}
    )


def _json_rows(columns: Mapping[str, str], rows: Iterable[Sequence[Any]]) -> str:
    """The rows as a JSON array of objects. Each row is written out at once: thousands of
    dicts kept alive together would make Python run a full garbage collection."""
    names = list(columns)
    times = [i for i, type_ in enumerate(columns.values()) if type_ == TIMESTAMP]

    def write(row: Sequence[Any]) -> str:
        values = list(row)
        for i in times:
            values[i] = _time_text(values[i])
        return json.dumps(dict(zip(names, values, strict=True)))

    return "[" + ",".join(map(write, rows)) + "]"


@functools.lru_cache(maxsize=256)  # a tick's rows share a few times
def _time_text(value: datetime | None) -> str | None:
    """UTC, written as SQLAlchemy writes datetimes into SQLite (and PostgreSQL reads)."""
    if value is None:
        return None
    return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")


def _stored_time(session: Session) -> Callable[[datetime | None], Any]:
    """Aware datetimes as the store keeps them: naive UTC (PostgreSQL), its text (SQLite)."""
    dialect = session.get_bind().dialect
    convert = UTCDateTime().dialect_impl(dialect).bind_processor(dialect)
    assert convert is not None  # a TypeDecorator always has one
    return convert

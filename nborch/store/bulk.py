"""Writing many rows at once, the fast way on each back end.

The scheduler makes thousands of runs in one tick. On PostgreSQL a batched INSERT with
thousands of bound values costs more to parse (psycopg rewrites every long statement) than to
run, so rows travel by COPY into a temporary table and one INSERT ... SELECT moves them; lists
of ids travel as one array. SQLite, in-process, takes one prepared INSERT for all rows
(sqlite3's executemany, past SQLAlchemy's per-row work) and chunked IN lists.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ColumnElement, String, Table, any_, bindparam, select, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

_CHUNK = 500  # ids per IN (...) on SQLite: well under its limit on bound variables


def is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def ids_in(session: Session, column: Any, ids: Sequence[str]) -> Iterator[ColumnElement[bool]]:
    """WHERE clauses that together match `column IN ids`: one array on PostgreSQL, chunks of
    IN (...) elsewhere."""
    if not ids:
        return
    if is_postgres(session):
        yield column == any_(bindparam("ids", list(ids), type_=postgresql.ARRAY(String())))
        return
    for start in range(0, len(ids), _CHUNK):
        yield column.in_(ids[start : start + _CHUNK])


def insert_ignoring_conflicts(
    session: Session, table: Table, rows: list[dict[str, Any]], conflict: Sequence[str]
) -> list[str]:
    """Insert `rows` (dicts with the same keys) except those that clash on the unique
    `conflict` columns; returns the `id`s of the rows inserted."""
    if not rows:
        return []
    if is_postgres(session):
        return _copy_then_insert(session, table, rows, conflict)
    return _executemany_sqlite(session, table, rows, conflict)


def _executemany_sqlite(
    session: Session, table: Table, rows: list[dict[str, Any]], conflict: Sequence[str]
) -> list[str]:
    """One prepared INSERT run for every row by sqlite3 itself; values converted by the
    columns' own SQLAlchemy types, so they are stored exactly as the ORM stores them."""
    columns = list(rows[0])
    dialect = session.get_bind().dialect
    converters = [table.c[c].type.dialect_impl(dialect).bind_processor(dialect) for c in columns]
    values = [
        tuple(
            convert(row[c]) if convert else row[c]
            for c, convert in zip(columns, converters, strict=True)
        )
        for row in rows
    ]
    names = ", ".join(f'"{c}"' for c in columns)
    marks = ", ".join("?" for _ in columns)
    targets = ", ".join(f'"{c}"' for c in conflict)
    driver: Any = session.connection().connection.driver_connection
    cursor = driver.cursor()
    cursor.executemany(
        f'INSERT INTO "{table.name}" ({names}) VALUES ({marks}) ON CONFLICT ({targets}) DO NOTHING',
        values,
    )
    ids = [row["id"] for row in rows]
    if cursor.rowcount == len(rows):
        return ids
    inserted: set[str] = set()  # some slots had their runs already: which ids went in?
    for matching in ids_in(session, table.c.id, ids):
        inserted.update(session.connection().execute(select(table.c.id).where(matching)).scalars())
    return [i for i in ids if i in inserted]


def _copy_then_insert(
    session: Session, table: Table, rows: list[dict[str, Any]], conflict: Sequence[str]
) -> list[str]:
    columns = list(rows[0])
    json_columns = {c.name for c in table.columns if isinstance(c.type, JSON)}
    names = ", ".join(f'"{c}"' for c in columns)
    staging = f"_nborch_new_{table.name}"
    connection = session.connection()
    connection.execute(
        text(
            f'CREATE TEMPORARY TABLE IF NOT EXISTS "{staging}" (LIKE "{table.name}") ON COMMIT DELETE ROWS'
        )
    )
    driver: Any = connection.connection.driver_connection  # psycopg's own, for COPY
    cursor = driver.cursor()
    with cursor.copy(f'COPY "{staging}" ({names}) FROM STDIN') as copy:
        for row in rows:
            copy.write_row([_copy_value(row[c], c in json_columns) for c in columns])
    targets = ", ".join(f'"{c}"' for c in conflict)
    inserted = connection.execute(
        text(
            f'INSERT INTO "{table.name}" ({names}) SELECT {names} FROM "{staging}" '
            f"ON CONFLICT ({targets}) DO NOTHING RETURNING id"
        )
    )
    return list(inserted.scalars())


def _copy_value(value: Any, is_json: bool) -> Any:
    if is_json:
        return json.dumps(value)
    if isinstance(value, datetime):
        return value.replace(tzinfo=None)  # the store keeps naive UTC (see UTCDateTime)
    return value

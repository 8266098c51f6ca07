"""Everything a store holds, as bytes, and a secret's forms to look for in them: what the
secret tests scan to show that a value never reaches the store in clear.

- SQLite: the database's files as they are on disk (pages, free pages, the WAL), and the
  SQL text of `iterdump` (a value cut across two pages is whole there).
- PostgreSQL: `pg_dump` of the database, in UTF-8, with INSERT statements (a text value
  written as it is, `'` doubled; bytea as hex). Its data files would not do: TOAST
  compresses long values.

A value may be stored as it is (UTF-8), escaped as JSON does by default (`é` as `\\u00e9`)
or with `ensure_ascii` off, as papermill or Python write it, or as the hex of its bytes (a
binary column in a dump). Each of those is searched, and so is a unique part of the value
alone, which any copy of it contains whatever the escaping around it."""

from __future__ import annotations

import json
import sqlite3
import subprocess
from pathlib import Path

from sqlalchemy.engine import make_url

from nborch.execution.masking import masked_forms
from support.postgres import find_bin_dir


def stored_bytes(database_url: str) -> bytes:
    """Every byte of the store at `database_url` (SQLite: close its engine first)."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        assert url.database, database_url
        path = Path(url.database)
        files = b"".join(p.read_bytes() for p in sorted(path.parent.glob(path.name + "*")))
        with sqlite3.connect(path) as connection:
            dump = "\n".join(connection.iterdump())
        return files + dump.encode("utf-8")
    bin_dir = find_bin_dir()
    pg_dump = str(bin_dir / "pg_dump") if bin_dir else "pg_dump"
    plain = url.set(drivername="postgresql").render_as_string(hide_password=False)
    done = subprocess.run(
        [pg_dump, "--inserts", "--encoding=UTF8", "--no-owner", "--dbname", plain],
        capture_output=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    return done.stdout


def stored_forms(value: str, unique_part: str) -> list[bytes]:
    """The byte strings a copy of `value` would show in `stored_bytes`."""
    assert unique_part in value
    texts = {*masked_forms([value]), json.dumps(value)[1:-1], unique_part}
    texts |= {text.replace("\\", "\\\\") for text in texts}  # an escaping dump or column
    found: set[bytes] = set()
    for text in texts:
        raw = text.encode("utf-8")
        found |= {raw, raw.hex().encode(), raw.hex().upper().encode()}
    return sorted(found, key=len, reverse=True)


def leaks(stored: bytes, forms: list[bytes]) -> list[bytes]:
    """The forms found in `stored`: none, for a secret that stayed secret."""
    return [form for form in forms if form in stored]

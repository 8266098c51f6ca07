"""A running nborch server in tests, with its admin key and its own store."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from nborch.client import LocalClient
from nborch.client.http import HttpClient
from nborch.store.tables import Base


@dataclass
class Server:
    url: str
    admin_key: str
    local: LocalClient  # the server's own store, to check what the API did (or did not)

    def client(self, key: str | None = None, *, retry_for: float = 0.0) -> HttpClient:
        return HttpClient(self.url, self.admin_key if key is None else key, retry_for=retry_for)


def store_snapshot(server: Server) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table (but when keys were last used: reading touches that; nor
    the servers' signs of life, which they give every moment)."""
    snapshot = {}
    with server.local.store.read() as session:
        for table in Base.metadata.sorted_tables:
            if table.name == "servers":
                continue
            columns = [c for c in table.columns if c.name != "last_used"]
            rows = session.execute(select(*columns)).all()
            snapshot[table.name] = sorted(tuple(map(str, row)) for row in rows)
    return snapshot

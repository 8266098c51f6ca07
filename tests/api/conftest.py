"""A real nborch server on loopback (in this process, on a thread) over the test's store,
and clients of it with an admin key and with a worker key."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from support.api import Server

from nborch.api.server import BackgroundServer
from nborch.client import LocalClient


@pytest.fixture
def server(client: LocalClient) -> Iterator[Server]:
    """On each back end (SQLite, PostgreSQL), like the `client` fixture."""
    admin = client.create_api_key("test-admin", "admin").key
    with BackgroundServer(run_scheduler=False, echo=lambda _line: None) as running:
        yield Server(running.url, admin, client)


@pytest.fixture
def sqlite_server(sqlite_client: LocalClient) -> Iterator[Server]:
    admin = sqlite_client.create_api_key("test-admin", "admin").key
    with BackgroundServer(run_scheduler=False, echo=lambda _line: None) as running:
        yield Server(running.url, admin, sqlite_client)

"""A server whose store (PostgreSQL) is down or restarting says so with 503, which nborch's
clients retry, never 500: a call made during the outage is carried out once the store is
back (a worker's final state, a trigger), and the caller without a key is told the same."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from support.ci import unavailable
from support.postgres import PostgresServer, create_database, start_local_postgres

from nborch.api.server import BackgroundServer
from nborch.client import LocalClient
from nborch.client.http import HttpClient
from nborch.client.routes import API_PREFIX
from nborch.settings import reset_settings
from nborch.store.engine import close_stores, open_store

pytestmark = pytest.mark.postgres


@pytest.fixture
def postgres(nborch_home: Path) -> Iterator[PostgresServer]:
    """A PostgreSQL of this test's own, which it may stop and start again."""
    server = start_local_postgres()
    if isinstance(server, str):
        unavailable("PostgreSQL", server)
    try:
        yield server
    finally:
        close_stores()
        server.halt()


def test_a_store_outage_is_a_503_and_clients_wait_it_out(
    postgres: PostgresServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = create_database(postgres, "outage")
    monkeypatch.setenv("NBORCH_DATABASE_URL", url)
    reset_settings()
    local = LocalClient(open_store(url))
    key = local.create_api_key("admin", "admin").key
    local.create_pool("etl", "process")
    with BackgroundServer(run_scheduler=False, echo=lambda _line: None) as running:
        headers = {"Authorization": f"Bearer {key}"}
        postgres.halt()
        resumed = threading.Timer(3.0, postgres.resume)
        try:
            for call in (
                lambda: httpx.get(f"{running.url}{API_PREFIX}/work-pools", headers=headers),
                lambda: httpx.post(
                    f"{running.url}{API_PREFIX}/work-pools",
                    headers={**headers, "Idempotency-Key": "k1"},
                    json={"name": "new", "type": "process"},
                ),
            ):
                answer = call()
                assert answer.status_code == 503, answer.text
                assert "store cannot be reached" in answer.json()["error"]["message"]
            resumed.start()
            patient = HttpClient(running.url, key, retry_for=60)
            assert [p.name for p in patient.list_pools()] == ["etl"]  # once it is back
            patient.create_pool("after", "process")
            patient.close()
        finally:
            resumed.join()
    assert sorted(p.name for p in local.list_pools()) == ["after", "etl"]

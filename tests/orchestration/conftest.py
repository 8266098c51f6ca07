from __future__ import annotations

import uuid

import pytest

from nborch.client import LocalClient


@pytest.fixture
def pool(client: LocalClient) -> str:
    client.create_pool("pool-a", "process")
    return "pool-a"


@pytest.fixture
def worker_id(client: LocalClient, pool: str) -> uuid.UUID:
    return client.register_worker("test-worker", pool).id

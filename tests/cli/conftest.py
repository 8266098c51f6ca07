from __future__ import annotations

import pytest
from support.cli import Invoke, invoker, ok
from support.deployments import HELLO

from nborch.client import LocalClient


@pytest.fixture
def nborch(sqlite_client: LocalClient) -> Invoke:
    """Runs `nborch ARGS...` against the fresh store under the test's NBORCH_HOME."""
    return invoker()


@pytest.fixture
def pool(nborch: Invoke) -> str:
    ok(nborch("work-pool", "create", "P"))
    return "P"


@pytest.fixture
def deployed(nborch: Invoke, pool: str) -> str:
    ok(nborch("deploy", str(HELLO), "--name", "demo", "--pool", pool))
    return "hello/demo"

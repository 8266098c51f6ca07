"""A worker or a dashboard that only knows a server's URL loads neither SQLAlchemy nor
nborch's orchestration and store: each check runs in a fresh interpreter and reads
`sys.modules`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

BELOW = ("sqlalchemy", "alembic", "nborch.orchestration", "nborch.store")


def loaded_after(code: str, **env: str) -> list[str]:
    script = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))\n"
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **env},
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def below(modules: list[str]) -> list[str]:
    return [name for name in modules if name.startswith(BELOW)]


def test_the_http_client_loads_nothing_below_the_client() -> None:
    loaded = loaded_after(
        "from nborch.client.http import HttpClient\n"
        "client = HttpClient('http://127.0.0.1:9', retry_for=0)\n"
        "client.close()\n"
    )
    assert "httpx" in loaded
    assert below(loaded) == []


def test_get_client_with_a_server_url_loads_nothing_below_the_client() -> None:
    loaded = loaded_after(
        "from nborch.client import get_client, Client\n"
        "from nborch.client.http import HttpClient\n"
        "client = get_client(retry_for=0)\n"
        "assert isinstance(client, HttpClient) and client.is_remote\n"
        "assert client.watch_pool('etl', lambda: None) is None\n",
        NBORCH_API_URL="http://127.0.0.1:9",
    )
    assert below(loaded) == []


def test_only_the_in_process_transport_loads_the_store(tmp_path: Path) -> None:
    # The other side of the same seam: importing the client loads nothing below it, making
    # a local client (and calling an operation) loads the store and the orchestration.
    assert below(loaded_after("import nborch.client\n")) == []
    loaded = loaded_after(
        "from nborch.client import LocalClient\nLocalClient().list_pools()\n",
        NBORCH_HOME=str(tmp_path),
    )
    assert {"sqlalchemy", "nborch.store.engine", "nborch.orchestration.pools"} <= set(loaded)


def test_a_worker_of_a_server_loads_nothing_below_the_client() -> None:
    # What `nborch worker start` loads before its first run, for each pool type a user's
    # worker serves, when NBORCH_API_URL names a server.
    loaded = loaded_after(
        "import click\n"
        "from nborch.cli.main import cli\n"
        "cli.get_command(click.Context(cli), 'worker')\n"
        "from nborch.client import get_client\n"
        "from nborch.models import PoolType\n"
        "from nborch.workers import worker_class_for\n"
        "worker_class_for(PoolType.PROCESS), worker_class_for(PoolType.DOCKER)\n"
        "assert get_client(retry_for=0).is_remote\n",
        NBORCH_API_URL="http://127.0.0.1:9",
    )
    assert "nborch.workers.process" in loaded and "nborch.containers.docker_worker" in loaded
    assert below(loaded) == []

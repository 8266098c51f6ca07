"""Fixtures: a fresh NBORCH_HOME per test, and stores on SQLite and on a real PostgreSQL."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from support.api import Server
from support.ci import (  # noqa: F401 (the hooks: under CI, a skip fails the run)
    pytest_runtest_logreport,
    pytest_sessionfinish,
    pytest_terminal_summary,
    unavailable,
)
from support.docker import engine_or_reason, remove_test_images
from support.postgres import PostgresServer, create_database, drop_database, start_postgres
from support.processes import WorkerProcess
from support.workers import FAST

from nborch.api.server import BackgroundServer
from nborch.client import LocalClient
from nborch.settings import reset_settings
from nborch.store.engine import close_stores, open_store

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = REPO / "notebooks"


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    server = start_postgres()
    if isinstance(server, str):
        unavailable("PostgreSQL", server)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def docker_engine() -> docker.DockerClient:
    """The machine's real Docker engine; the docker tests are skipped (failed in CI) without."""
    engine = engine_or_reason()
    if isinstance(engine, str):
        unavailable("a Docker engine", engine)
    return engine


@pytest.fixture(scope="session")
def runtime_image(docker_engine: docker.DockerClient) -> Iterator[str]:
    """`nborch image build-runtime`'s image, built once (and then only when its recipe
    changes: a machine that has it already pays nothing). The images the tests build on it
    are removed at the end."""
    from nborch.containers.runtime_image import build_runtime_image
    from nborch.errors import InfrastructureError

    try:
        tag = build_runtime_image(echo=lambda line: print(f"[runtime image] {line}")).tag
    except InfrastructureError as err:  # e.g. not root, so no debootstrap
        unavailable("the runtime image", f"no runtime image: {err}")
    yield tag
    remove_test_images(docker_engine)


@pytest.fixture
def nborch_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    home = tmp_path / "nborch-home"
    monkeypatch.setenv("NBORCH_HOME", str(home))
    monkeypatch.delenv("NBORCH_DATABASE_URL", raising=False)
    monkeypatch.delenv("NBORCH_API_URL", raising=False)
    monkeypatch.delenv("NBORCH_API_KEY", raising=False)
    reset_settings()
    yield home
    close_stores()
    reset_settings()


@pytest.fixture
def fast_settings(monkeypatch: pytest.MonkeyPatch, nborch_home: Path) -> None:
    """Short heartbeats, polls and ticks (support.workers.FAST), for this process and the
    workers it starts."""
    for key, value in FAST.items():
        monkeypatch.setenv(key, value)
    reset_settings()


@pytest.fixture
def workers(fast_settings: None) -> Iterator[list[WorkerProcess]]:
    """Real `nborch worker start` processes a test starts (support.workers.start_worker),
    with fast settings; stopped at the end."""
    started: list[WorkerProcess] = []
    yield started
    for worker in started:
        worker.stop()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(
    request: pytest.FixtureRequest, nborch_home: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """The store's URL, on each back end; also exported as NBORCH_DATABASE_URL."""
    if request.param == "sqlite":
        url = f"sqlite:///{nborch_home / 'nborch.db'}"
        monkeypatch.setenv("NBORCH_DATABASE_URL", url)
        reset_settings()
        yield url
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    name = f"nborch_test_{uuid.uuid4().hex[:12]}"
    url = create_database(server, name)
    monkeypatch.setenv("NBORCH_DATABASE_URL", url)
    reset_settings()
    yield url
    close_stores()
    drop_database(server, name)


@pytest.fixture
def client(database_url: str) -> LocalClient:
    return LocalClient(open_store(database_url))


@pytest.fixture
def sqlite_client(nborch_home: Path) -> LocalClient:
    """For tests whose subject is not the store: the embedded default only."""
    return LocalClient()


# A real nborch server on loopback (in this process, on a thread) over the test's store.
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

"""A store with a work pool and deployments for the dashboard's tests, and the dashboard
itself (refreshed by hand unless a test asks for its thread), closed at the end."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from support.deployments import deploy_hello, deploy_notebook
from support.notebooks import make_notebook

from nborch.client import LocalClient
from nborch.models import Deployment
from nborch.notebook.dashboard import Dashboard

# Every kind of editor the parameter form has.
FORM_PARAMETERS = """\
name: str = "world"
times: int = 2
ratio: float = 0.5
excited: bool = False
day: str = "2024-01-31"
labels: list = ["a", "b"]
sizes: list = [1, 2]
columns: list = []
options: dict = {"a": 1}
limit: int = None
anything = None"""


@pytest.fixture
def pool(sqlite_client: LocalClient) -> str:
    sqlite_client.create_pool("dash-pool", "process", concurrency_limit=4)
    return "dash-pool"


@pytest.fixture
def hello(sqlite_client: LocalClient, pool: str) -> Deployment:
    return deploy_hello(sqlite_client, pool, "demo", quiet=True)


@pytest.fixture
def form_deployment(sqlite_client: LocalClient, pool: str, tmp_path: Path) -> Deployment:
    notebook = make_notebook(tmp_path / "form.ipynb", FORM_PARAMETERS, "print(name, times)")
    return deploy_notebook(sqlite_client, notebook, pool, "every-type", quiet=True)


@pytest.fixture
def open_dashboard(sqlite_client: LocalClient) -> Iterator[Callable[..., Dashboard]]:
    opened: list[Dashboard] = []

    def open_it(refresh_interval: float | None = None, tab: int | None = None) -> Dashboard:
        board = Dashboard(sqlite_client, refresh_interval=refresh_interval)
        opened.append(board)
        if tab is not None:
            board.tabs.selected_index = tab  # as a click on the tab: refreshes it at once
        return board

    yield open_it
    for board in opened:
        board.close()

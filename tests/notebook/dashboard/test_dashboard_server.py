"""The same dashboard against an nborch server: everything goes through the HTTP client
(the dashboard knows only the client interface), on a real server over the test's store."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from support.api import Server
from support.widgets import shown

from nborch.models import Deployment
from nborch.notebook.dashboard import Dashboard
from nborch.notebook.dashboard.app import RUNS


@pytest.fixture
def remote_dashboard(sqlite_server: Server) -> Iterator[Dashboard]:
    board = Dashboard(sqlite_server.client(), refresh_interval=None)
    yield board
    board.close()


def test_the_dashboard_over_http_shows_and_runs(
    sqlite_server: Server, pool: str, form_deployment: Deployment, remote_dashboard: Dashboard
) -> None:
    board = remote_dashboard
    assert board.client.is_remote and board.last_error == ""
    assert 'data-status="NOT_READY"' in board.pools.rows.rows[pool].status.value
    assert "form/every-type" in board.deployments.rows.rows

    form = board.deployments.open_form("form/every-type")
    form.fields["limit"].editor.value = "many"
    form.submit_button.click()
    assert "must be int, got 'many'" in shown(form.fields["limit"].error)
    form.fields["limit"].editor.value = "7"
    form.job_variables.value = '{"colour": "red"}'  # refused by the server
    form.submit_button.click()
    assert "Job variable 'colour' is not offered" in shown(form.job_variables_error)
    assert sqlite_server.local.list_runs() == []

    form.job_variables.value = ""
    form.fields["times"].editor.value = 4
    form.submit_button.click()
    [run] = sqlite_server.local.list_runs()
    assert run.parameters == {"limit": 7, "times": 4}
    assert board.tabs.selected_index == RUNS and run.id in board.runs.rows.rows

    board.pools.rows.rows[pool].toggle.click()
    assert sqlite_server.local.get_pool(pool).paused
    assert 'data-status="PAUSED"' in board.pools.rows.rows[pool].status.value

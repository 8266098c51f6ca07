"""The dashboard following real runs of a real worker process: a run made with the form goes
to COMPLETED on the dashboard's own refreshes, with its per-cell progress, logs and output
notebook; a running run shows which cell runs and is cancelled from the dashboard; two runs
are compared."""

from __future__ import annotations

import getpass
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest
from support.deployments import deploy_notebook
from support.notebooks import sleeping_notebook
from support.processes import WorkerProcess, wait_for
from support.widgets import shown
from support.workers import final_run, start_worker

from nborch.client import LocalClient
from nborch.models import Deployment, FlowRun, StateType
from nborch.notebook.dashboard import Dashboard
from nborch.notebook.dashboard.app import COMPARE, RUNS
from nborch.notebook.dashboard.runs_tab import RunRow

pytestmark = pytest.mark.slow

OpenDashboard = Callable[..., Dashboard]
T = TypeVar("T")
RUN_TIMEOUT = 120


def row_of(board: Dashboard, run: FlowRun) -> RunRow | None:
    return board.runs.rows.rows.get(run.id)


def shows_state(board: Dashboard, run: FlowRun, state: StateType) -> bool:
    row = row_of(board, run)
    return row is not None and f'data-state="{state.value}"' in row.state.value


def between_refreshes(board: Dashboard, check: Callable[[], T]) -> Callable[[], T]:
    """`check`, read under the dashboard's lock: its refresh thread updates one widget after
    another, so a read without it may see the title of one refresh and the rest of the last."""

    def locked() -> T:
        with board.lock:
            return check()

    return locked


def test_a_run_made_with_the_form_goes_to_completed_on_screen(
    sqlite_client: LocalClient,
    pool: str,
    hello: Deployment,
    workers: list[WorkerProcess],
    open_dashboard: OpenDashboard,
) -> None:
    start_worker(workers, "--pool", pool)
    board = open_dashboard(refresh_interval=0.3)
    wait_for(
        between_refreshes(board, lambda: shown(board.pools.rows.rows[pool].workers) == "1"), 30
    )
    assert 'data-status="READY"' in board.pools.rows.rows[pool].status.value

    form = board.deployments.open_form("hello/demo")
    form.fields["name"].editor.value = "Dashboard"
    form.fields["times"].editor.value = 3
    form.submit_button.click()
    [run] = sqlite_client.list_runs()
    assert run.parameters == {"name": "Dashboard", "times": 3}

    wait_for(
        between_refreshes(board, lambda: shows_state(board, run, StateType.COMPLETED)),
        RUN_TIMEOUT,
        lambda: (
            f"the dashboard shows {shown(row_of(board, run).state)}; "  # type: ignore[union-attr]
            f"the run is {sqlite_client.get_run(run.id).state}; worker: {workers[0].output}"
        ),
    )
    row = row_of(board, run)
    assert row is not None and shown(row.worker).startswith("ProcessWorker")
    assert shown(row.duration).endswith(" s")
    assert row.cancel.disabled and not row.retry.disabled

    detail = board.runs.detail  # the form showed the new run in full

    def detail_done() -> bool:
        return (
            "3: Hello, Dashboard." in shown(detail.logs)
            and "COMPLETED" in shown(detail.title)
            and "5/5 cells" in shown(detail.progress_bar)
        )

    wait_for(
        between_refreshes(board, detail_done),
        30,
        lambda: f"{shown(detail.title)} | {shown(detail.progress_bar)} | {shown(detail.logs)}",
    )
    with board.lock:
        progress = detail.progress
        assert progress is not None and progress.total == 5  # 4 cells and papermill's parameters
        assert progress.done == 5 and progress.failed is None and progress.running is None
        assert detail.progress_bar.value.count('data-status="completed"') == 5
        assert f"local:{getpass.getuser()}" in detail.facts.value  # who made the run
        detail.sections.selected_index = 2  # the output notebook, as HTML
        frame = detail.notebook.value
    assert frame.startswith("<iframe") and 'sandbox=""' in frame
    assert "3: Hello, Dashboard." in frame and "injected-parameters" in frame


def test_a_running_run_shows_its_cell_and_is_cancelled_from_the_dashboard(
    sqlite_client: LocalClient,
    pool: str,
    tmp_path: Path,
    workers: list[WorkerProcess],
    open_dashboard: OpenDashboard,
) -> None:
    deploy_notebook(sqlite_client, sleeping_notebook(tmp_path / "sleeps.ipynb"), pool, "long")
    start_worker(workers, "--pool", pool)
    run = sqlite_client.create_run("sleeps/long", parameters={"seconds": 600.0})
    board = open_dashboard(refresh_interval=0.3, tab=RUNS)

    def sleeping_cell_runs() -> str:
        # The parameters cell and papermill's run first, briefly: a refresh may catch them.
        row = row_of(board, run)
        said = shown(row.progress) if row else ""
        return said if "cell 3 running" in said else ""

    said = wait_for(
        between_refreshes(board, sleeping_cell_runs), RUN_TIMEOUT, lambda: workers[0].output
    )
    assert "2/3 cells · cell 3 running for" in said  # parameters, papermill's, then the sleep
    with board.lock:
        assert board.pools.rows.rows[pool].concurrency.value == "1 / 4"
        assert shown(board.workers.rows.rows[next(iter(board.workers.rows.rows))].runs) == "1"

    row = row_of(board, run)
    assert row is not None
    row.cancel.click()
    assert sqlite_client.get_run(run.id).state in (StateType.CANCELLING, StateType.CANCELLED)
    assert final_run(sqlite_client, run).state is StateType.CANCELLED
    wait_for(between_refreshes(board, lambda: shows_state(board, run, StateType.CANCELLED)), 30)
    assert row.cancel.disabled


def test_two_runs_compared_side_by_side(
    sqlite_client: LocalClient,
    pool: str,
    hello: Deployment,
    workers: list[WorkerProcess],
    open_dashboard: OpenDashboard,
) -> None:
    start_worker(workers, "--pool", pool)
    ada = sqlite_client.create_run("hello/demo", parameters={"name": "Ada"})
    grace = sqlite_client.create_run("hello/demo", parameters={"name": "Grace"})
    again = sqlite_client.create_run("hello/demo", parameters={"name": "Grace"})
    for run in (ada, grace, again):
        assert final_run(sqlite_client, run, RUN_TIMEOUT).state is StateType.COMPLETED

    board = open_dashboard(tab=RUNS)
    board.runs.rows.rows[grace.id].details.click()
    board.runs.detail.compare_button.click()  # with the run before it: ada
    assert board.tabs.selected_index == COMPARE
    compare = board.compare
    assert (compare.run_a.value, compare.run_b.value) == (str(grace.id), str(ada.id))
    comparison = compare.comparison
    assert comparison is not None
    assert [(p.name, p.a, p.b) for p in comparison.differing_parameters] == [
        ("name", "Grace", "Ada")
    ]
    assert [c.first_line for c in comparison.cells] == [
        'greeting = f"Hello, {name}" + ("!" if excited else ".")',
        'result = {"name": name, "greetings": times}',
    ]
    assert comparison.cells[0].a == "1: Hello, Grace.\n2: Hello, Grace."
    assert comparison.cells[0].b == "1: Hello, Ada.\n2: Hello, Ada."
    assert "1 parameter and 2 cells differ." in shown(compare.message)
    assert "Hello, Grace." in compare.result.value and "Hello, Ada." in compare.result.value

    compare.run_b.value = str(again.id)
    compare.compare_button.click()
    assert compare.comparison is not None
    assert compare.comparison.differing_parameters == () and compare.comparison.cells == ()
    assert "0 parameters and 0 cells differ." in shown(compare.message)
    assert "the 4 cells show the same outputs" in shown(compare.result)

"""The dashboard's widget tree and its buttons, on a real store (no worker: the runs stay
SCHEDULED unless a test moves them)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ipywidgets as widgets
from IPython.core.interactiveshell import InteractiveShell
from support.processes import wait_for
from support.widgets import shown

import nborch
from nborch.client import LocalClient
from nborch.models import Deployment, ScheduleSpec, StateType
from nborch.notebook.dashboard import Dashboard
from nborch.notebook.dashboard.app import RUNS, TITLES
from nborch.store.tables import ScheduleRow

OpenDashboard = Callable[..., Dashboard]


def test_tabs_show_pools_workers_deployments_and_runs(
    sqlite_client: LocalClient, pool: str, hello: Deployment, open_dashboard: OpenDashboard
) -> None:
    sqlite_client.create_pool("idle-pool", "process")
    sqlite_client.create_pool("resting", "docker", paused=True)
    sqlite_client.register_worker("worker-one", pool)
    sqlite_client.create_schedule("hello/demo", ScheduleSpec(cron="0 1 * * *"))
    assert sqlite_client.scheduler_tick("test") is not None  # makes the next scheduled run
    run = sqlite_client.create_run("hello/demo", parameters={"times": 3}, tags=["by-hand"])

    board = open_dashboard()
    assert board.tabs.titles == TITLES
    assert [child for child in board.tabs.children] == [
        board.pools.widget,
        board.workers.widget,
        board.deployments.widget,
        board.runs.widget,
        board.compare.widget,
    ]

    pools = board.pools.rows.rows
    assert list(pools) == ["dash-pool", "idle-pool", "resting"]
    assert 'data-status="READY"' in pools["dash-pool"].status.value
    assert "#16a34a" in pools["dash-pool"].status.value  # green
    assert 'data-status="NOT_READY"' in pools["idle-pool"].status.value
    assert "#dc2626" in pools["idle-pool"].status.value  # red
    assert 'data-status="PAUSED"' in pools["resting"].status.value
    assert "#9ca3af" in pools["resting"].status.value  # grey
    assert pools["dash-pool"].concurrency.value == "0 / 4"
    assert pools["idle-pool"].concurrency.value == "0 / ∞"
    assert pools["dash-pool"].workers.value == "1"
    assert pools["dash-pool"].type.value == "process"
    assert pools["resting"].toggle.description == "Resume"
    assert pools["dash-pool"].toggle.description == "Pause"

    [worker] = board.workers.rows.rows.values()
    assert shown(worker.name) == "worker-one"
    assert shown(worker.pool) == "dash-pool"
    assert worker.heartbeat.value.endswith(" s ago")
    assert worker.runs.value == "0"

    deployment = board.deployments.rows.rows["hello/demo"]
    assert deployment.pool.value == "dash-pool"
    assert "cron '0 1 * * *' (UTC) →" in shown(deployment.schedules)
    assert "in " in deployment.schedules.value  # when the next run comes
    assert "no" in deployment.paused_cell.value

    # Runs are read once their tab shows.
    assert board.runs.rows.rows == {}
    board.tabs.selected_index = RUNS
    assert len(board.runs.rows.rows) == 2  # with the one the scheduler made
    row = board.runs.rows.rows[run.id]
    assert 'data-state="SCHEDULED"' in row.state.value
    assert shown(row.name) == run.name
    assert shown(row.deployment) == "hello/demo"
    assert shown(row.parameters) == '{"times": 3}'
    assert shown(row.worker) == "-"
    assert not row.cancel.disabled and not row.retry.disabled


def test_pause_resume_and_create_pools(
    sqlite_client: LocalClient, pool: str, open_dashboard: OpenDashboard
) -> None:
    board = open_dashboard()
    row = board.pools.rows.rows[pool]
    row.toggle.click()
    assert sqlite_client.get_pool(pool).paused
    assert 'data-status="PAUSED"' in row.status.value and row.toggle.description == "Resume"
    assert "paused" in board.pools.message.value
    row.toggle.click()
    assert not sqlite_client.get_pool(pool).paused
    assert row.toggle.description == "Pause"

    tab = board.pools
    tab.new_name.value, tab.new_type.value, tab.new_limit.value = "fresh", "docker", "many"
    tab.create.click()
    assert "Concurrency must be a whole number" in tab.create_message.value
    assert [p.name for p in sqlite_client.list_pools()] == [pool]

    tab.new_limit.value = "2"
    tab.create.click()
    created = sqlite_client.get_pool("fresh")
    assert (created.type.value, created.concurrency_limit) == ("docker", 2)
    assert "Created work pool 'fresh'" in shown(tab.create_message)
    assert "fresh" in tab.rows.rows and tab.rows.rows["fresh"].concurrency.value == "0 / 2"

    tab.new_name.value = pool
    tab.create.click()
    assert pool in tab.create_message.value and "#dc2626" in tab.create_message.value
    assert len(sqlite_client.list_pools()) == 2


def test_the_run_form_has_an_editor_per_type_with_the_defaults(
    form_deployment: Deployment, open_dashboard: OpenDashboard
) -> None:
    board = open_dashboard()
    board.deployments.rows.rows["form/every-type"].run_button.click()
    form = board.deployments.form
    assert form is not None and form.deployment.full_name == "form/every-type"
    assert form.widget in board.deployments.form_area.children
    editors = {name: field.editor for name, field in form.fields.items()}
    expected: dict[str, tuple[type, Any]] = {
        "name": (widgets.Text, "world"),
        "times": (widgets.IntText, 2),
        "ratio": (widgets.FloatText, 0.5),
        "excited": (widgets.Checkbox, False),
        "day": (widgets.DatePicker, dt.date(2024, 1, 31)),
        "labels": (widgets.TagsInput, ["a", "b"]),
        "sizes": (widgets.IntsInput, [1, 2]),
        "columns": (widgets.Textarea, "[]"),
        "options": (widgets.Textarea, '{"a": 1}'),
        "limit": (widgets.Text, ""),
        "anything": (widgets.Text, ""),
    }
    assert {name: (type(e), e.value) for name, e in editors.items()} == expected
    # Untouched, the form sends nothing: the run gets the notebook's defaults.
    assert form.values() == ({}, {})


def test_clicking_run_creates_a_run_with_the_forms_values(
    sqlite_client: LocalClient, form_deployment: Deployment, open_dashboard: OpenDashboard
) -> None:
    board = open_dashboard()
    form = board.deployments.open_form("form/every-type")
    fields = form.fields
    fields["name"].editor.value = "007"  # a str stays a str
    fields["times"].editor.value = 5
    fields["ratio"].editor.value = 1.25
    fields["excited"].editor.value = True
    fields["day"].editor.value = dt.date(2025, 3, 1)
    fields["labels"].editor.value = ["x", "y", "z"]
    fields["sizes"].editor.value = [3]
    fields["columns"].editor.value = "[region, total]"  # YAML, as -p takes it
    fields["options"].editor.value = '{"a": 2, "b": [1]}'
    fields["limit"].editor.value = "10"
    fields["anything"].editor.value = "{x: 1}"
    form.job_variables.value = '{"env": {"STAGE": "test"}}'
    form.submit_button.click()

    [run] = sqlite_client.list_runs()
    assert run.parameters == {
        "name": "007",
        "times": 5,
        "ratio": 1.25,
        "excited": True,
        "day": "2025-03-01",
        "labels": ["x", "y", "z"],
        "sizes": [3],
        "columns": ["region", "total"],
        "options": {"a": 2, "b": [1]},
        "limit": 10,
        "anything": {"x": 1},
    }
    assert run.job_variables["env"] == {"STAGE": "test"}
    assert f"Created flow run '{run.name}'" in shown(form.message)
    # The dashboard shows the new run in the runs tab, in full.
    assert board.tabs.selected_index == RUNS
    assert board.runs.detail.run_id == run.id
    assert run.id in board.runs.rows.rows
    assert all(not field.error.value for field in fields.values())


def test_a_bad_value_is_shown_beside_its_field_and_creates_nothing(
    sqlite_client: LocalClient, form_deployment: Deployment, open_dashboard: OpenDashboard
) -> None:
    board = open_dashboard()
    form = board.deployments.open_form("form/every-type")
    fields = form.fields

    fields["columns"].editor.value = "[1, 2"
    fields["limit"].editor.value = "many"
    form.submit_button.click()
    assert sqlite_client.list_runs() == []
    assert "Parameter 'columns'" in shown(fields["columns"].error)
    assert "must be list" in fields["columns"].error.value
    assert "must be int, got 'many'" in shown(fields["limit"].error)
    assert "no run was created" in form.message.value
    assert not fields["name"].error.value and not form.job_variables_error.value

    fields["columns"].editor.value = "[1, 2]"
    fields["limit"].editor.value = "3"
    fields["day"].editor.value = None
    form.submit_button.click()
    assert sqlite_client.list_runs() == []
    assert "needs a date" in fields["day"].error.value
    assert not fields["columns"].error.value and not fields["limit"].error.value

    fields["day"].editor.value = dt.date(2024, 2, 29)
    form.job_variables.value = "[1, 2]"
    form.submit_button.click()
    assert sqlite_client.list_runs() == []
    assert "Job variables must be an object" in form.job_variables_error.value

    # Refused by the store (the pool's base job template), shown beside the job variables.
    form.job_variables.value = '{"colour": "red"}'
    form.submit_button.click()
    assert sqlite_client.list_runs() == []
    assert "Job variable 'colour' is not offered" in shown(form.job_variables_error)

    form.job_variables.value = ""
    form.submit_button.click()
    [run] = sqlite_client.list_runs()
    assert run.parameters == {"columns": [1, 2], "limit": 3, "day": "2024-02-29"}


def test_cancel_and_retry(
    sqlite_client: LocalClient, hello: Deployment, open_dashboard: OpenDashboard
) -> None:
    first = sqlite_client.create_run(
        "hello/demo", parameters={"name": "Ada"}, job_variables={"env": {"K": "v"}}
    )
    board = open_dashboard(tab=RUNS)
    row = board.runs.rows.rows[first.id]
    row.retry.click()
    retried = next(r for r in sqlite_client.list_runs() if r.id != first.id)
    assert (retried.parameters, retried.job_variables) == (first.parameters, first.job_variables)
    assert retried.deployment_name == "hello/demo"
    assert f"as '{retried.name}'" in shown(board.runs.message)
    assert board.runs.detail.run_id == retried.id  # the new run is shown in full

    row.cancel.click()
    assert sqlite_client.get_run(first.id).state is StateType.CANCELLED
    assert 'data-state="CANCELLED"' in row.state.value and row.cancel.disabled
    row.cancel.click()  # disabled in the browser; here it says why nothing happened
    assert "already CANCELLED" in board.runs.message.value

    board.runs.detail.cancel_button.click()
    assert sqlite_client.get_run(retried.id).state is StateType.CANCELLED
    assert board.runs.detail.cancel_button.disabled


def test_an_ad_hoc_run_cannot_be_retried(
    sqlite_client: LocalClient, pool: str, tmp_path: Path, open_dashboard: OpenDashboard
) -> None:
    worker = sqlite_client.register_worker("here", None)
    adhoc = sqlite_client.create_adhoc_run(
        "scratch",
        str(tmp_path / "scratch.ipynb"),
        parameters={},
        job_variables={},
        output_path=None,
        cwd=None,
        worker_id=worker.id,
    )
    board = open_dashboard(tab=RUNS)
    row = board.runs.rows.rows[adhoc.id]
    assert row.retry.disabled and shown(row.deployment) == "scratch"
    board.runs.retry(sqlite_client.get_run(adhoc.id))
    assert "belongs to no deployment" in board.runs.message.value
    assert len(sqlite_client.list_runs()) == 1


def test_a_refresh_changes_values_in_place_and_children_only_when_rows_change(
    sqlite_client: LocalClient, hello: Deployment, open_dashboard: OpenDashboard
) -> None:
    first = sqlite_client.create_run("hello/demo")
    board = open_dashboard(tab=RUNS)
    tables = {
        "pools": board.pools.table,
        "workers": board.workers.table,
        "deployments": board.deployments.table,
        "runs": board.runs.table,
    }
    changed: list[str] = []
    for name, table in tables.items():
        table.observe(lambda _c, name=name: changed.append(name), names="children")
    row = board.runs.rows.rows[first.id]
    badge = row.state
    sent: list[Any] = []
    badge.observe(lambda change: sent.append(change["new"]), names="value")

    board.refresh()
    board.refresh()
    assert changed == [] and sent == []  # nothing changed: nothing sent, nothing rebuilt

    sqlite_client.cancel_run(first.id)
    board.refresh()
    assert changed == [] and board.runs.rows.rows[first.id] is row and row.state is badge
    assert len(sent) == 1 and 'data-state="CANCELLED"' in sent[0]

    second = sqlite_client.create_run("hello/demo")
    board.refresh()
    assert changed == ["runs"]
    assert board.runs.rows.rows[first.id] is row
    assert board.runs.table.children[1:] == (
        board.runs.rows.rows[second.id].widget,
        row.widget,
    )  # newest first, under the header


def test_the_runs_tab_filters_by_deployment_and_state(
    sqlite_client: LocalClient,
    hello: Deployment,
    form_deployment: Deployment,
    open_dashboard: OpenDashboard,
) -> None:
    a = sqlite_client.create_run("hello/demo")
    b = sqlite_client.create_run("form/every-type")
    sqlite_client.cancel_run(b.id)
    board = open_dashboard(tab=RUNS)
    assert set(board.runs.rows.rows) == {a.id, b.id}
    assert board.runs.deployment_filter.options == ("(all)", "form/every-type", "hello/demo")
    board.runs.deployment_filter.value = "hello/demo"
    assert set(board.runs.rows.rows) == {a.id}
    board.runs.deployment_filter.value = "(all)"
    board.runs.state_filter.value = "CANCELLED"
    assert set(board.runs.rows.rows) == {b.id}


def test_the_refresher_thread_updates_the_widgets_and_stops_when_closed(
    sqlite_client: LocalClient, pool: str, open_dashboard: OpenDashboard
) -> None:
    board = open_dashboard(refresh_interval=0.2)
    assert board.refresher is not None and board.refresher.running
    assert "every 0.2 s" in board.status.value
    sqlite_client.create_pool("made-meanwhile", "process")
    wait_for(lambda: "made-meanwhile" in board.pools.rows.rows, 30)

    # Shown in a browser, then no longer shown (cell cleared): it rests until shown again.
    board.widget._view_count = 1
    assert not board._off_screen()
    board.widget._view_count = 0
    assert board._off_screen()
    board.widget._view_count = 1
    sqlite_client.create_pool("made-later", "process")
    wait_for(lambda: "made-later" in board.pools.rows.rows, 30)

    board.close()
    assert board.closed and not board.refresher.running
    assert board.widget.comm is None  # the widgets are closed too
    board.refresh()  # does nothing, raises nothing


def test_the_magic_and_nborch_dashboard(sqlite_client: LocalClient, pool: str) -> None:
    board = nborch.dashboard(refresh_interval=None)
    try:
        assert isinstance(board, Dashboard) and board.refresher is None
        assert pool in board.pools.rows.rows
        bundle = board._repr_mimebundle_()
        assert "application/vnd.jupyter.widget-view+json" in bundle
    finally:
        board.close()

    shell = InteractiveShell.instance()
    try:
        shell.run_line_magic("load_ext", "nborch")
        from_magic = shell.run_line_magic("nborch_dashboard", "--refresh 0.5")
        assert isinstance(from_magic, Dashboard)
        assert from_magic.refresher is not None and from_magic.refresher.interval == 0.5
        from_magic.close()
        by_hand = shell.run_line_magic("nborch_dashboard", "--refresh 0")
        assert by_hand.refresher is None
        by_hand.close()
    finally:
        InteractiveShell.clear_instance()


def test_a_schedule_in_error_says_why_in_the_deployments_tab(
    sqlite_client: LocalClient, pool: str, hello: Deployment, open_dashboard: OpenDashboard
) -> None:
    made = sqlite_client.create_schedule("hello/demo", ScheduleSpec(interval_seconds=3600))
    with sqlite_client.store.write() as session:  # an old store's schedule, past the checks
        row = session.get(ScheduleRow, str(made.id))
        assert row is not None
        row.interval_seconds = 1e12
    assert sqlite_client.scheduler_tick("test") is not None
    deployment = open_dashboard().deployments.rows.rows["hello/demo"]
    assert "in error: The scheduler cannot compute" in shown(deployment.schedules)
    assert "OverflowError" in shown(deployment.schedules)


def test_the_run_form_gives_the_run_its_own_timeout(
    sqlite_client: LocalClient, form_deployment: Deployment, open_dashboard: OpenDashboard
) -> None:
    board = open_dashboard()
    form = board.deployments.open_form("form/every-type")
    assert form.timeout.placeholder == "deployment's: none"
    form.timeout.value = "soon"
    form.submit_button.click()
    assert sqlite_client.list_runs() == []
    assert "Timeout 'soon' is not a duration" in shown(form.message)
    form.timeout.value = "8d"  # the store's bound, shown in the form
    form.submit_button.click()
    assert sqlite_client.list_runs() == []
    assert "at most 7 d" in shown(form.message)
    form.timeout.value = "1h30m"
    form.submit_button.click()
    [run] = sqlite_client.list_runs()
    assert run.timeout_seconds == 5400

"""The flow runs tab: the newest runs with their state badge, parameters, worker, start,
duration and (while running) a per-cell progress bar; cancel and retry on each, and the
chosen run in full below (logs, output notebook)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime

import ipywidgets as widgets

from nborch.client import NborchClient
from nborch.errors import ValidationError
from nborch.models import FlowRun, StateType
from nborch.notebook.dashboard.actions import Actions
from nborch.notebook.dashboard.formatting import (
    clipped,
    clock,
    compact,
    duration,
    state_badge,
    text,
)
from nborch.notebook.dashboard.progress import RunProgress, progress_bar_html, progress_of
from nborch.notebook.dashboard.rows import KeyedRows, button, cell, grid, header
from nborch.notebook.dashboard.run_detail import RunDetail, run_duration
from nborch.timeutil import utcnow

COLUMNS = (
    "110px minmax(150px, 2fr) minmax(120px, 2fr) minmax(120px, 2fr) minmax(90px, 1fr) "
    "150px 80px minmax(110px, 2fr) 230px"
)
TITLES = (
    "State",
    "Flow run",
    "Deployment",
    "Parameters",
    "Worker",
    "Started",
    "Duration",
    "Progress",
    "",
)
ALL = "(all)"
SHOWN = 50
WATCHED = frozenset({StateType.RUNNING, StateType.CANCELLING})  # their progress is read


def retry_run(client: NborchClient, run: FlowRun) -> FlowRun:
    """A new run of the same deployment with the same parameters and job variables."""
    if run.deployment_name is None:
        raise ValidationError(
            f"Flow run '{run.name}' belongs to no deployment (it ran {run.input_path} "
            "directly), so it cannot be retried from here: run the notebook again."
        )
    return client.create_run(
        run.deployment_name, parameters=run.parameters, job_variables=run.job_variables
    )


class RunRow:
    def __init__(self, run_id: uuid.UUID, tab: RunsTab) -> None:
        self.run: FlowRun | None = None
        self.state = cell()
        self.name = cell()
        self.deployment = cell()
        self.parameters = cell()
        self.worker = cell()
        self.started = cell()
        self.duration = cell()
        self.progress = cell()
        self.details = button("Details", "Show this run's logs and output notebook below")
        self.cancel = button("Cancel", "Cancel this run")
        self.retry = button("Retry", "A new run with the same parameters and job variables")
        self.widget = grid(
            COLUMNS,
            [
                self.state,
                self.name,
                self.deployment,
                self.parameters,
                self.worker,
                self.started,
                self.duration,
                self.progress,
                widgets.HBox([self.details, self.cancel, self.retry]),
            ],
        )
        self.details.on_click(lambda _b: tab.select(run_id))
        self.cancel.on_click(lambda _b: self.run and tab.cancel(self.run))
        self.retry.on_click(lambda _b: self.run and tab.retry(self.run))

    def update(self, item: tuple[FlowRun, datetime, RunProgress | None]) -> None:
        run, now, progress = item
        self.run = run
        self.state.value = state_badge(run.state)
        self.name.value = clipped(run.name)
        self.deployment.value = clipped(run.deployment_name or run.flow_name)
        self.parameters.value = clipped(compact(run.parameters, 200))
        self.worker.value = clipped(run.worker_name or "-")
        self.started.value = text(clock(run.start_time))
        self.duration.value = text(duration(run_duration(run, now)))
        self.progress.value = progress_bar_html(progress, now) if progress else ""
        self.cancel.disabled = run.state.is_final or run.state is StateType.CANCELLING
        self.retry.disabled = run.deployment_name is None


class RunsTab:
    """The newest runs (of one deployment, in one state, if chosen), and one run in full."""

    def __init__(
        self,
        client: NborchClient,
        actions: Actions,
        *,
        compare: Callable[[FlowRun], None] = lambda run: None,
    ) -> None:
        self.client = client
        self.actions = actions
        self.message = widgets.HTML()
        self.deployment_filter = widgets.Dropdown(
            options=[ALL], value=ALL, description="Deployment"
        )
        self.state_filter = widgets.Dropdown(
            options=[ALL, *(s.value for s in StateType)], value=ALL, description="State"
        )
        for chooser in (self.deployment_filter, self.state_filter):
            chooser.observe(lambda _change: self._filter_changed(), names="value")
        self.table = widgets.VBox()
        self.table.add_class("nborch-runs")
        self.rows: KeyedRows[uuid.UUID, RunRow] = KeyedRows(
            self.table,
            lambda run_id: RunRow(run_id, self),
            head=header(COLUMNS, TITLES),
            empty="No flow runs yet: run a deployment from the Deployments tab.",
        )
        self.detail = RunDetail(
            client, actions, cancel=self.cancel, retry=self.retry, compare=compare
        )
        self._watched: set[uuid.UUID] = set()  # runs seen going: their bar stays at the end
        self._final: dict[uuid.UUID, RunProgress | None] = {}
        self._updating = False
        self._now: datetime | None = None
        self.widget = widgets.VBox(
            [
                widgets.HBox([self.deployment_filter, self.state_filter]),
                self.message,
                self.table,
                self.detail.widget,
            ]
        )

    def update(self, deployment_names: list[str], now: datetime) -> None:
        """Read the runs (and the progress of the running ones) and show them."""
        self._now = now
        options = (ALL, *deployment_names)
        if tuple(self.deployment_filter.options) != options:
            chosen = self.deployment_filter.value
            self._updating = True
            try:
                self.deployment_filter.options = options
                self.deployment_filter.value = chosen if chosen in options else ALL
            finally:
                self._updating = False
        chosen_deployment = self.deployment_filter.value
        chosen_state = self.state_filter.value
        runs = self.client.list_runs(
            deployment=None if chosen_deployment == ALL else chosen_deployment,
            states=[] if chosen_state == ALL else [StateType(chosen_state)],
            limit=SHOWN,
        )
        self.rows.show([(run.id, (run, now, self._progress(run))) for run in runs])
        listed = {run.id for run in runs}
        self._watched &= listed
        self._final = {key: value for key, value in self._final.items() if key in listed}
        self.detail.update(now)

    def _progress(self, run: FlowRun) -> RunProgress | None:
        """Read while the run goes, and once more when a run seen going has ended."""
        if run.state in WATCHED:
            self._watched.add(run.id)
            return self._read_progress(run)
        if run.state.is_final and run.id in self._watched:
            if run.id not in self._final:
                self._final[run.id] = self._read_progress(run)
            return self._final[run.id]
        return None

    def _read_progress(self, run: FlowRun) -> RunProgress | None:
        notebook = self.client.read_output_notebook(run.id)
        return progress_of(notebook) if notebook else None

    def _filter_changed(self) -> None:
        if self._now is not None and not self._updating:
            self.actions.run(lambda: "", self.message)

    def select(self, run_id: uuid.UUID) -> None:
        """Show this run in full below the table."""

        def show() -> None:
            self.detail.show(run_id, self._now or utcnow())

        self.actions.run(show, self.message)

    def cancel(self, run: FlowRun) -> None:
        def cancel_it() -> str:
            cancelled = self.client.cancel_run(run.id)
            return f"Flow run '{run.name}' is {cancelled.state.value}."

        self.actions.run(cancel_it, self.message)

    def retry(self, run: FlowRun) -> None:
        def retry_it() -> str:
            new = retry_run(self.client, run)
            self.detail.show(new.id, self._now or utcnow())
            return f"Retrying flow run '{run.name}' as '{new.name}'."

        self.actions.run(retry_it, self.message)

"""The deployments tab: each deployment's pool, schedules and next run, paused or not;
"Run…" opens the parameter form, "Pause"/"Resume" pause it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import ipywidgets as widgets

from nborch.client import NborchClient
from nborch.models import Deployment, FlowRun
from nborch.notebook.dashboard.actions import Actions
from nborch.notebook.dashboard.formatting import clock, error, muted, text, until
from nborch.notebook.dashboard.parameter_form import ParameterForm
from nborch.notebook.dashboard.rows import KeyedRows, button, cell, close_tree, grid, header

COLUMNS = "minmax(160px, 2fr) minmax(100px, 1fr) minmax(220px, 3fr) 70px 170px"
TITLES = ("Deployment", "Work pool", "Schedules (next run)", "Paused", "")


def schedules_html(deployment: Deployment, now: datetime) -> str:
    """One line per schedule: what it is and when it runs next."""
    if not deployment.schedules:
        return muted("none (runs on demand)")
    lines = []
    for schedule in deployment.schedules:
        said = text(schedule.describe())
        if schedule.error:
            lines.append(f"{said} {error('in error: ' + schedule.error)}")
        elif not schedule.active:
            lines.append(f"{said} {muted('paused')}")
        elif schedule.next_run_time is None:
            lines.append(f"{said} {muted('next run not made yet (a scheduler makes it)')}")
        else:
            lines.append(
                f"{said} → {text(clock(schedule.next_run_time))} "
                f"{muted(until(schedule.next_run_time, now))}"
            )
    return "<br>".join(lines)


class DeploymentRow:
    def __init__(self, full_name: str, tab: DeploymentsTab) -> None:
        self.deployment: Deployment | None = None
        self.paused = False
        self.pool = cell()
        self.schedules = cell()
        self.paused_cell = cell()
        self.run_button = button("Run…", f"Run {full_name} with parameters of your choice")
        self.toggle = button("Pause", f"Pause or resume {full_name}")
        self.widget = grid(
            COLUMNS,
            [
                cell(f"<b>{text(full_name)}</b>"),
                self.pool,
                self.schedules,
                self.paused_cell,
                widgets.HBox([self.run_button, self.toggle]),
            ],
        )
        self.run_button.on_click(lambda _b: tab.open_form(full_name))

        def pause_or_resume() -> str:
            paused = not self.paused
            tab.client.set_deployment_paused(full_name, paused)
            return f"Deployment '{full_name}' {'paused' if paused else 'resumed'}."

        tab.actions.on_click(self.toggle, pause_or_resume, tab.message)

    def update(self, item: tuple[Deployment, datetime]) -> None:
        deployment, now = item
        self.deployment = deployment
        self.paused = deployment.paused
        self.pool.value = text(deployment.pool_name or "-")
        self.schedules.value = schedules_html(deployment, now)
        self.paused_cell.value = "yes" if deployment.paused else muted("no")
        self.toggle.description = "Resume" if deployment.paused else "Pause"


class DeploymentsTab:
    """Every deployment; the parameter form of the one being run, below the table."""

    def __init__(
        self,
        client: NborchClient,
        actions: Actions,
        on_run_created: Callable[[FlowRun], None] = lambda run: None,
    ) -> None:
        self.client = client
        self.actions = actions
        self.on_run_created = on_run_created
        self.message = widgets.HTML()
        self.table = widgets.VBox()
        self.table.add_class("nborch-deployments")
        self.rows: KeyedRows[str, DeploymentRow] = KeyedRows(
            self.table,
            lambda name: DeploymentRow(name, self),
            head=header(COLUMNS, TITLES),
            empty="No deployments yet: nborch deploy NOTEBOOK --name D --pool P, or %deploy.",
        )
        self.form: ParameterForm | None = None
        self.form_area = widgets.VBox()
        self.widget = widgets.VBox([self.message, self.table, self.form_area])

    def update(self, deployments: list[Deployment], now: datetime) -> None:
        self.rows.show([(d.full_name, (d, now)) for d in deployments])

    def open_form(self, full_name: str) -> ParameterForm:
        """Open the parameter form of `full_name` (closing any other)."""
        with self.actions.lock:
            self.close_form()
            row = self.rows.rows.get(full_name)
            deployment = row.deployment if row and row.deployment else None
            if deployment is None:
                deployment = self.client.get_deployment(full_name)
            form = ParameterForm(
                self.client, deployment, on_created=self.on_run_created, on_close=self.close_form
            )
            form.submit_button.on_click(lambda _b: self.actions.run(self._submit, form.message))
            self.form = form
            self.form_area.children = (form.widget,)
            return form

    def _submit(self) -> str | None:
        return None if self.form is None or self.form.submit() is None else ""

    def close_form(self) -> None:
        with self.actions.lock:
            if self.form is not None:
                self.form_area.children = ()
                close_tree(self.form.widget)
                self.form = None

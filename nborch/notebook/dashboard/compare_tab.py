"""The compare tab: pick a deployment and two of its runs; see their parameters side by
side and the cells whose outputs differ."""

from __future__ import annotations

from datetime import datetime

import ipywidgets as widgets

from nborch.client import NborchClient
from nborch.errors import ValidationError
from nborch.models import FlowRun
from nborch.notebook.dashboard.actions import Actions
from nborch.notebook.dashboard.comparison import RunComparison, compare_runs, shown
from nborch.notebook.dashboard.formatting import clock, muted, text
from nborch.notebook.dashboard.rows import button

CHOICES = 50  # runs offered per deployment, newest first
DIFFERS = "background:#fef3c7"


def run_label(run: FlowRun) -> str:
    return f"{run.name} · {run.state.value} · {clock(run.start_time or run.scheduled_time)}"


def comparison_html(comparison: RunComparison) -> str:
    a, b = comparison.a, comparison.b
    head = f"<tr><th></th><th>{text(a.name)}</th><th>{text(b.name)}</th></tr>"
    cell_style = "vertical-align:top;padding:2px 8px"
    parameter_rows = (
        "".join(
            f"<tr style='{DIFFERS if p.differs else ''}'><td style='{cell_style}'>"
            f"<code>{text(p.name)}</code></td><td style='{cell_style}'><code>{text(shown(p.a))}"
            f"</code></td><td style='{cell_style}'><code>{text(shown(p.b))}</code></td></tr>"
            for p in comparison.parameters
        )
        or f"<tr><td colspan=3>{muted('Neither run has parameters.')}</td></tr>"
    )
    states = (
        f"<tr><td style='{cell_style}'>state</td><td style='{cell_style}'>{text(a.state.value)}"
        f"</td><td style='{cell_style}'>{text(b.state.value)}</td></tr>"
    )
    parts = [
        "<b>Parameters</b>",
        f"<table class='nborch-compare-parameters' style='font-size:12px'>{head}{states}"
        f"{parameter_rows}</table>",
        "<b>Cells whose outputs differ</b>",
    ]
    if comparison.missing_notebooks:
        parts.append(
            muted(f"No output notebook for {', '.join(comparison.missing_notebooks)} (yet).")
        )
    elif not comparison.cells:
        parts.append(muted(f"None: the {comparison.cells_compared} cells show the same outputs."))
    else:
        pre = "margin:0;white-space:pre-wrap;font-size:11px"
        rows = "".join(
            f"<tr><td style='{cell_style}'>cell {c.index + 1}<br><code>{text(c.first_line[:60])}"
            f"</code></td><td style='{cell_style}'><pre style='{pre}'>{text(c.a)}</pre></td>"
            f"<td style='{cell_style}'><pre style='{pre}'>{text(c.b)}</pre></td></tr>"
            for c in comparison.cells
        )
        parts.append(
            f"<table class='nborch-compare-cells' style='font-size:12px;width:100%'>{head}"
            f"{rows}</table>"
        )
    return "<br>".join(parts)


class CompareTab:
    """Two runs of one deployment, side by side."""

    def __init__(self, client: NborchClient, actions: Actions) -> None:
        self.client = client
        self.actions = actions
        self.comparison: RunComparison | None = None
        self.deployment = widgets.Dropdown(options=[], description="Deployment")
        self.run_a = widgets.Dropdown(options=[], description="Run A")
        self.run_b = widgets.Dropdown(options=[], description="Run B")
        self.compare_button = button("Compare", "Compare run A with run B", style="primary")
        self.message = widgets.HTML()
        self.result = widgets.HTML()
        self._updating = False
        self.deployment.observe(self._deployment_chosen, names="value")
        actions.on_click(self.compare_button, self.compare, self.message)
        self.widget = widgets.VBox(
            [
                widgets.HBox([self.deployment]),
                widgets.HBox([self.run_a, self.run_b, self.compare_button]),
                self.message,
                self.result,
            ]
        )

    def update(self, deployment_names: list[str], now: datetime) -> None:
        """Offer the deployments and the chosen deployment's runs, keeping the choices."""
        self._updating = True
        try:
            if tuple(self.deployment.options) != tuple(deployment_names):
                chosen = self.deployment.value
                self.deployment.options = deployment_names
                if chosen in deployment_names:
                    self.deployment.value = chosen
            self._offer_runs()
        finally:
            self._updating = False

    def _offer_runs(self) -> None:
        runs = (
            self.client.list_runs(deployment=self.deployment.value, limit=CHOICES)
            if self.deployment.value
            else []
        )
        options = tuple((run_label(run), str(run.id)) for run in runs)
        for chooser, fallback in ((self.run_a, 0), (self.run_b, 1)):
            if tuple(chooser.options) == options:
                continue
            chosen = chooser.value
            ids = [value for _label, value in options]
            chooser.options = options
            if chosen in ids:
                chooser.value = chosen
            elif len(ids) > fallback:
                chooser.value = ids[fallback]

    def _deployment_chosen(self, _change: object) -> None:
        if not self._updating:
            with self.actions.lock:
                self._offer_runs()

    def compare(self) -> str:
        """Compare run A with run B (the Compare button)."""
        if not self.run_a.value or not self.run_b.value:
            raise ValidationError("Pick two runs of the deployment to compare.")
        if self.run_a.value == self.run_b.value:
            raise ValidationError("Run A and run B are the same run: pick another for B.")
        a = self.client.get_run(self.run_a.value)
        b = self.client.get_run(self.run_b.value)
        self.comparison = compare_runs(
            a, self.client.read_output_notebook(a.id), b, self.client.read_output_notebook(b.id)
        )
        self.result.value = comparison_html(self.comparison)
        differing = len(self.comparison.differing_parameters)
        return (
            f"{differing} parameter{'s' * (differing != 1)} and "
            f"{len(self.comparison.cells)} cell{'s' * (len(self.comparison.cells) != 1)} differ."
        )

    def compare_with(self, run: FlowRun) -> None:
        """Make `run` run A, and B the run of its deployment before it (if any)."""
        if run.deployment_name is None:
            return
        with self.actions.lock:
            self._updating = True
            try:
                if run.deployment_name not in self.deployment.options:
                    self.deployment.options = (*self.deployment.options, run.deployment_name)
                self.deployment.value = run.deployment_name
                self._offer_runs()
            finally:
                self._updating = False
            ids = [value for _label, value in self.run_a.options]
            if str(run.id) not in ids:
                self.message.value = muted(f"Flow run '{run.name}' is older than the runs offered.")
                return
            self.run_a.value = str(run.id)
            position = ids.index(str(run.id))
            others = ids[position + 1 :] or ids[:position]  # the run before it, else after
            if others:
                self.run_b.value = others[0]
                self.actions.run(self.compare, self.message)

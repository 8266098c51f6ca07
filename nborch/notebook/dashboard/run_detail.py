"""One flow run in full, under the runs table: its state and failure, parameters, worker,
times, a per-cell progress bar and timings, the tail of its logs, and its output notebook
as HTML, with cancel and retry.

Logs are read a page at a time after the last line seen; the output notebook is read while
the run goes (papermill saves it after every cell) and once more when it has ended, and is
turned into HTML only when its tab is open and the notebook changed.
"""

from __future__ import annotations

import uuid
from collections import deque
from collections.abc import Callable
from datetime import datetime
from typing import Any

import ipywidgets as widgets

from nborch.client import NborchClient
from nborch.errors import NotFoundError
from nborch.models import FlowRun, StateType
from nborch.notebook.dashboard.actions import Actions
from nborch.notebook.dashboard.formatting import (
    clock,
    compact,
    duration,
    error,
    muted,
    state_badge,
    text,
)
from nborch.notebook.dashboard.notebook_html import fingerprint, notebook_frame
from nborch.notebook.dashboard.progress import (
    RunProgress,
    progress_bar_html,
    progress_of,
    timings_html,
)
from nborch.notebook.dashboard.rows import button

LOG_TAIL = 40  # lines shown
LOG_KEPT = 500  # lines kept in memory


def run_duration(run: FlowRun, now: datetime) -> float | None:
    """How long the run took, or has been running for."""
    if run.start_time is None:
        return None
    return ((run.end_time or now) - run.start_time).total_seconds()


class RunDetail:
    """The selected run; `show(run_id)` picks it, `update(now)` refreshes it in place."""

    def __init__(
        self,
        client: NborchClient,
        actions: Actions,
        *,
        cancel: Callable[[FlowRun], None],
        retry: Callable[[FlowRun], None],
        compare: Callable[[FlowRun], None],
    ) -> None:
        self.client = client
        self.actions = actions
        self.run: FlowRun | None = None
        self.progress: RunProgress | None = None
        self._logs: deque[str] = deque(maxlen=LOG_KEPT)
        self._last_seq = 0
        self._notebook: dict[str, Any] | None = None
        self._notebook_final = False
        self._rendered: str | None = None  # fingerprint of the notebook shown as HTML

        self.title = widgets.HTML()
        self.facts = widgets.HTML()
        self.cancel_button = button("Cancel run", "Cancel this run", style="warning")
        self.retry_button = button("Retry", "A new run with the same parameters and job variables")
        self.compare_button = button("Compare…", "Compare this run with another of its deployment")
        self.close_button = button("Close", "Hide this run")
        self.message = widgets.HTML()
        self.cancel_button.on_click(lambda _b: self.run and cancel(self.run))
        self.retry_button.on_click(lambda _b: self.run and retry(self.run))
        self.compare_button.on_click(lambda _b: self.run and compare(self.run))
        self.close_button.on_click(lambda _b: self.hide())

        self.progress_bar = widgets.HTML()
        self.timings = widgets.HTML()
        self.logs = widgets.HTML()
        self.notebook = widgets.HTML(muted("No output notebook yet."))
        self.sections = widgets.Tab(
            children=[
                widgets.VBox([self.progress_bar, self.timings]),
                self.logs,
                self.notebook,
            ],
            titles=("Progress", "Logs", "Output notebook"),
        )
        self.sections.observe(self._section_chosen, names="selected_index")
        self.widget = widgets.VBox(
            [
                self.title,
                widgets.HBox(
                    [
                        self.cancel_button,
                        self.retry_button,
                        self.compare_button,
                        self.close_button,
                        self.message,
                    ]
                ),
                self.facts,
                self.sections,
            ],
            layout=widgets.Layout(
                border="1px solid #e5e7eb", padding="6px", margin="8px 0", display="none"
            ),
        )
        self.widget.add_class("nborch-run-detail")

    @property
    def run_id(self) -> uuid.UUID | None:
        return self.run.id if self.run else None

    def show(self, run_id: uuid.UUID, now: datetime) -> None:
        """Show this run (from the start, if another one was shown)."""
        if self.run_id != run_id:
            self._logs.clear()
            self._last_seq = 0
            self._notebook = None
            self._notebook_final = False
            self._rendered = None
            self.progress = None
            self.message.value = ""
            self.notebook.value = muted("No output notebook yet.")
            self.run = self.client.get_run(run_id)
        self.widget.layout.display = "flex"
        self.update(now)

    def hide(self) -> None:
        with self.actions.lock:
            self.run = None
            self.widget.layout.display = "none"

    def _section_chosen(self, _change: object) -> None:
        with self.actions.lock:
            self._render_notebook()

    def update(self, now: datetime) -> None:
        """Read the run, its new log lines and its output notebook; show them."""
        if self.run is None:
            return
        try:
            run = self.run = self.client.get_run(self.run.id)
        except NotFoundError:  # deleted meanwhile (with its deployment)
            self.hide()
            return
        self.title.value = (
            f"{state_badge(run.state)} <b>{text(run.name)}</b> "
            f"{muted(run.deployment_name or run.flow_name)} "
            f"{text(run.state_message)}"
        )
        self.facts.value = self._facts_html(run, now)
        self.cancel_button.disabled = run.state.is_final or run.state is StateType.CANCELLING
        self.retry_button.disabled = run.deployment_name is None
        self.compare_button.disabled = run.deployment_name is None
        self._read_logs()
        self._read_notebook(run)
        if self.progress is not None:
            self.progress_bar.value = progress_bar_html(self.progress, now)
            self.timings.value = timings_html(self.progress, now)
        else:
            self.progress_bar.value = muted("No cell has run yet.")
            self.timings.value = ""
        self._render_notebook()

    def _facts_html(self, run: FlowRun, now: datetime) -> str:
        facts = [
            ("parameters", compact(run.parameters, 400)),
            ("job variables", compact(run.job_variables, 400)),
            ("work pool", run.pool_name or "-"),
            ("worker", run.worker_name or "-"),
            ("created by", run.created_by or "-"),
            ("scheduled", clock(run.scheduled_time)),
            ("started", clock(run.start_time)),
            ("ended", clock(run.end_time)),
            ("duration", duration(run_duration(run, now))),
            ("attempt", f"{max(run.run_count, 1)} of {run.retries + 1}"),
        ]
        if run.tags:
            facts.append(("tags", ", ".join(run.tags)))
        rows = "".join(
            f"<tr><td style='color:#6b7280;padding-right:12px'>{text(name)}</td>"
            f"<td><code>{text(value)}</code></td></tr>"
            for name, value in facts
        )
        failure = ""
        if run.failure is not None:
            failure = error(
                f"Cell {run.failure.cell_index + 1} raised {run.failure.ename}: "
                f"{run.failure.evalue}"
            )
        return f"{failure}<table style='font-size:12px'>{rows}</table>"

    def _read_logs(self) -> None:
        assert self.run is not None
        new = self.client.read_logs(self.run.id, after=self._last_seq)
        if new:
            self._last_seq = new[-1].seq
            self._logs.extend(line.message for line in new)
        tail = list(self._logs)[-LOG_TAIL:]
        self.logs.value = (
            "<pre class='nborch-logs' style='font-size:11px;max-height:320px;overflow:auto;"
            f"margin:0'>{text(chr(10).join(tail))}</pre>"
            if tail
            else muted("No logs yet.")
        )

    def _read_notebook(self, run: FlowRun) -> None:
        if self._notebook_final:
            return
        if run.state in (StateType.SCHEDULED, StateType.LATE):
            return
        notebook = self.client.read_output_notebook(run.id)
        if notebook is not None:
            self._notebook = notebook
            self.progress = progress_of(notebook)
        self._notebook_final = run.state.is_final and notebook is not None

    def _render_notebook(self) -> None:
        """The output notebook as HTML, when its tab is open and it changed."""
        if self.sections.selected_index != 2 or self._notebook is None:
            return
        seen = fingerprint(self._notebook)
        if seen != self._rendered:
            try:
                self.notebook.value = notebook_frame(self._notebook)
            except Exception as err:  # nbconvert refused the notebook: say so, keep going
                self.notebook.value = error(f"Cannot show the output notebook as HTML: {err}")
            self._rendered = seen

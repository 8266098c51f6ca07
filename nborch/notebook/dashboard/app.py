"""The dashboard: one widget with a tab per kind of thing (work pools, workers, deployments,
flow runs, and a comparison of two runs), refreshed in place from a background thread.

It asks everything of an `NborchClient` (the in-process one on the local store, or one
that talks to an nborch server), never of the store itself.
"""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any

import ipywidgets as widgets

from nborch.client import NborchClient, get_client
from nborch.models import FlowRun
from nborch.notebook.dashboard.actions import Actions
from nborch.notebook.dashboard.compare_tab import CompareTab
from nborch.notebook.dashboard.deployments_tab import DeploymentsTab
from nborch.notebook.dashboard.formatting import error, muted
from nborch.notebook.dashboard.pools_tab import PoolsTab
from nborch.notebook.dashboard.refresher import Refresher
from nborch.notebook.dashboard.rows import button, close_tree
from nborch.notebook.dashboard.runs_tab import RunsTab
from nborch.notebook.dashboard.workers_tab import WorkersTab
from nborch.timeutil import utcnow

DEFAULT_REFRESH_INTERVAL = 3.0
POOLS, WORKERS, DEPLOYMENTS, RUNS, COMPARE = range(5)
TITLES = ("Work pools", "Workers", "Deployments", "Flow runs", "Compare runs")


class Dashboard:
    """Work pools, workers, deployments and flow runs, live.

    Display it (it is the last expression of a cell, or `display(dashboard)`) to see it.
    Every `refresh_interval` seconds a background thread reads everything again through
    the client (runs, their logs and output notebooks only while a runs tab shows) and
    updates the widgets in place; `refresh_interval=None` refreshes only by
    hand (`refresh()` or the Refresh button). While the dashboard is on no screen (its cell
    output was cleared or the notebook closed) it does not refresh; `close()` (or the
    Close button) stops it for good.
    """

    def __init__(
        self,
        client: NborchClient | None = None,
        *,
        refresh_interval: float | None = DEFAULT_REFRESH_INTERVAL,
    ) -> None:
        self.client = client or get_client()
        self.refresh_interval = refresh_interval or None
        self.lock = threading.RLock()
        self.actions = Actions(self.lock, self.refresh)
        self.closed = False
        self.refreshed_at: datetime | None = None
        self.last_error = ""

        self.pools = PoolsTab(self.client, self.actions)
        self.workers = WorkersTab()
        self.compare = CompareTab(self.client, self.actions)
        self.runs = RunsTab(self.client, self.actions, compare=self._compare)
        self.deployments = DeploymentsTab(
            self.client, self.actions, on_run_created=self._run_created
        )
        self.tabs = widgets.Tab(
            children=[
                self.pools.widget,
                self.workers.widget,
                self.deployments.widget,
                self.runs.widget,
                self.compare.widget,
            ],
            titles=TITLES,
        )
        self.tabs.observe(self._tab_chosen, names="selected_index")
        self.status = widgets.HTML()
        self.refresh_button = button("Refresh", "Read everything again now")
        self.close_button = button("Close", "Stop refreshing and remove the dashboard")
        self.refresh_button.on_click(lambda _b: self.actions.run(lambda: "", self.status))
        self.close_button.on_click(lambda _b: self.close())
        self.widget = widgets.VBox(
            [
                widgets.HBox(
                    [
                        widgets.HTML("<b>nborch</b>", layout=widgets.Layout(margin="0 12px 0 0")),
                        self.refresh_button,
                        self.close_button,
                        self.status,
                    ],
                    layout=widgets.Layout(align_items="center"),
                ),
                self.tabs,
            ]
        )
        self.widget.add_class("nborch-dashboard")
        # Count the views the browser shows, to rest while there is none (ipywidgets' own
        # view tracking, off unless set to a number).
        self.widget._view_count = 0
        self._ever_shown = False
        self.widget.observe(self._views_changed, names="_view_count")

        self.refresher: Refresher | None = None
        try:
            self.refresh()
        except Exception as err:  # e.g. the server is down: say so; the next refresh retries
            self._refresh_failed(err)
        if self.refresh_interval:
            self.refresher = Refresher(
                self.refresh,
                self.refresh_interval,
                on_error=self._refresh_failed,
                alive=lambda: not self.closed,
                paused=self._off_screen,
            ).start()

    # ---- displaying -----------------------------------------------------------------------

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)

    def _views_changed(self, change: dict[str, Any]) -> None:
        if change["new"]:
            self._ever_shown = True
            if self.refresher is not None:
                self.refresher.poke()  # shown again: catch up at once

    def _off_screen(self) -> bool:
        return self._ever_shown and not self.widget._view_count

    # ---- refreshing -----------------------------------------------------------------------

    def refresh(self) -> None:
        """Read everything through the client and update the widgets in place."""
        with self.lock:
            if self.closed:
                return
            now = utcnow()
            deployments = self.client.list_deployments()
            names = [d.full_name for d in deployments]
            self.pools.update(self.client.list_pools())
            self.workers.update(self.client.list_workers(), now)
            self.deployments.update(deployments, now)
            # Runs (their logs and output notebooks) are read only while their tab shows.
            if self.tabs.selected_index == RUNS:
                self.runs.update(names, now)
            elif self.tabs.selected_index == COMPARE:
                self.compare.update(names, now)
            self.refreshed_at = now
            self.last_error = ""
            interval = self.refresh_interval
            every = f" · every {interval:g} s" if interval else " · refresh by hand"
            self.status.value = muted(f"updated {now.astimezone():%H:%M:%S}{every}")

    def _tab_chosen(self, _change: object) -> None:
        """Another tab shows: refresh now (the runs tabs are read only while they show)."""
        if not self.closed:
            self.actions.run(lambda: "", self.status)

    def _refresh_failed(self, err: Exception) -> None:
        with self.lock:
            self.last_error = f"{type(err).__name__}: {err}"
            if not self.closed:
                self.status.value = error(f"Could not refresh: {self.last_error}")

    # ---- between tabs ---------------------------------------------------------------------

    def _run_created(self, run: FlowRun) -> None:
        """A run made from the deployments tab: show it in the runs tab."""
        with self.lock:
            self.runs.detail.show(run.id, utcnow())
            self.tabs.selected_index = RUNS

    def _compare(self, run: FlowRun) -> None:
        with self.lock:
            self.tabs.selected_index = COMPARE
            self.compare.compare_with(run)

    # ---- closing --------------------------------------------------------------------------

    def close(self) -> None:
        """Stop refreshing and close every widget of the dashboard."""
        with self.lock:
            if self.closed:
                return
            self.closed = True
        if self.refresher is not None:
            self.refresher.stop()
        with self.lock:
            self.widget.unobserve(self._views_changed, names="_view_count")
            close_tree(self.widget)

    def __repr__(self) -> str:
        if self.closed:
            state = "closed"
        elif self.refreshed_at is None:
            state = "not refreshed yet"
        else:
            state = f"refreshed {self.refreshed_at.astimezone():%H:%M:%S}"
        return f"<nborch Dashboard ({state})>"


def dashboard(
    client: NborchClient | None = None,
    *,
    refresh_interval: float | None = DEFAULT_REFRESH_INTERVAL,
) -> Dashboard:
    """The nborch dashboard: work pools, workers, deployments and flow runs, live.

        import nborch
        nborch.dashboard()                        # or %nborch_dashboard, after %load_ext nborch

    Tabs:

    - **Work pools**: type, status light (READY green, NOT_READY red, PAUSED grey),
      concurrency (runs in progress / limit), workers online; pause, resume, create.
    - **Workers**: pool, status, last heartbeat ("3 s ago"), runs in hand.
    - **Deployments**: pool, schedules and their next runs, paused; "Run…" opens a form
      made from the flow's parameters (a box per parameter, by type, with its default),
      plus job variables; a bad value is shown beside its field and creates nothing.
    - **Flow runs**: state, parameters, worker, start, duration and, while a run goes, a
      bar with one segment per cell; "Details" shows the run's progress per cell, the tail
      of its logs and its output notebook as HTML; cancel and retry (a new run of the same
      deployment with the same parameters and job variables).
    - **Compare runs**: two runs of a deployment side by side: parameters, and the cells
      whose outputs differ.

    It refreshes every `refresh_interval` seconds (None: only by hand) from a background
    thread, so the kernel stays free, and stops when closed. `client` defaults to
    `nborch.get_client()`: the local store, or the server the settings name.
    """
    return Dashboard(client, refresh_interval=refresh_interval)

"""The workers tab: each worker's pool, status, last heartbeat (`3 s ago`) and the runs it
has in hand."""

from __future__ import annotations

from datetime import datetime

import ipywidgets as widgets

from nborch.models import Worker, WorkerStatus
from nborch.notebook.dashboard.formatting import clipped, muted, since, text
from nborch.notebook.dashboard.rows import KeyedRows, cell, grid, header

COLUMNS = "minmax(200px, 3fr) minmax(120px, 2fr) 90px 120px 100px"
TITLES = ("Worker", "Work pool", "Status", "Last heartbeat", "Runs in hand")
SHOWN = 100  # the newest heartbeats first; long-gone workers fall off the end


class WorkerRow:
    def __init__(self, worker_id: object) -> None:
        self.name = cell()
        self.pool = cell()
        self.status = cell()
        self.heartbeat = cell()
        self.runs = cell()
        self.widget = grid(COLUMNS, [self.name, self.pool, self.status, self.heartbeat, self.runs])
        self.now: datetime | None = None

    def update(self, item: tuple[Worker, datetime]) -> None:
        worker, now = item
        online = worker.status is WorkerStatus.ONLINE
        self.name.value = clipped(worker.name) if online else muted(worker.name)
        self.pool.value = clipped(worker.pool_name or "-")
        self.status.value = text(worker.status.value) if online else muted(worker.status.value)
        self.heartbeat.value = text(since(worker.last_heartbeat, now))
        self.runs.value = str(worker.active_runs)


class WorkersTab:
    """Workers, online ones first (newest heartbeat first)."""

    def __init__(self) -> None:
        self.table = widgets.VBox()
        self.table.add_class("nborch-workers")
        self.rows: KeyedRows[object, WorkerRow] = KeyedRows(
            self.table,
            WorkerRow,
            head=header(COLUMNS, TITLES),
            empty="No workers yet: start one with nborch worker start --pool POOL, "
            "or %worker start --pool POOL in this notebook.",
        )
        self.widget = widgets.VBox([self.table])

    def update(self, workers: list[Worker], now: datetime) -> None:
        ordered = sorted(
            workers,
            key=lambda w: (w.status is not WorkerStatus.ONLINE, -w.last_heartbeat.timestamp()),
        )
        self.rows.show([(worker.id, (worker, now)) for worker in ordered[:SHOWN]])

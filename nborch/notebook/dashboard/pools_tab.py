"""The work pools tab: each pool's type, status light, concurrency and workers online;
pausing and resuming a pool, and creating one."""

from __future__ import annotations

import ipywidgets as widgets

from nborch.client import NborchClient
from nborch.errors import ValidationError
from nborch.models import PoolType, WorkPool
from nborch.notebook.dashboard.actions import Actions
from nborch.notebook.dashboard.formatting import limit_of, status_light, text
from nborch.notebook.dashboard.rows import KeyedRows, button, cell, grid, header

COLUMNS = "minmax(140px, 2fr) 80px 120px 110px 110px 100px"
TITLES = ("Work pool", "Type", "Status", "Concurrency", "Workers online", "")


class PoolRow:
    """One pool: name, type, status light, runs in progress / limit, workers online, and a
    Pause (or Resume) button."""

    def __init__(self, name: str, client: NborchClient, actions: Actions, where: widgets.HTML):
        self.name = name
        self.paused = False
        self.type = cell()
        self.status = cell()
        self.concurrency = cell()
        self.workers = cell()
        self.toggle = button("Pause", f"Pause or resume work pool '{name}'")
        name_cell = cell(f"<b>{text(name)}</b>")
        self.widget = grid(
            COLUMNS,
            [name_cell, self.type, self.status, self.concurrency, self.workers, self.toggle],
        )

        def pause_or_resume() -> str:
            paused = not self.paused
            client.update_pool(name, paused=paused)
            return f"Work pool '{name}' {'paused' if paused else 'resumed'}."

        actions.on_click(self.toggle, pause_or_resume, where)

    def update(self, pool: WorkPool) -> None:
        self.paused = pool.paused
        self.type.value = text(pool.type.value)
        self.status.value = status_light(pool.status)
        self.concurrency.value = limit_of(pool.active_runs, pool.concurrency_limit)
        self.workers.value = str(pool.workers_online)
        self.toggle.description = "Resume" if pool.paused else "Pause"


class PoolsTab:
    """Every work pool, refreshed in place; a form below creates one."""

    def __init__(self, client: NborchClient, actions: Actions) -> None:
        self.client = client
        self.message = widgets.HTML()
        self.table = widgets.VBox()
        self.table.add_class("nborch-pools")
        self.rows: KeyedRows[str, PoolRow] = KeyedRows(
            self.table,
            lambda name: PoolRow(name, client, actions, self.message),
            head=header(COLUMNS, TITLES),
            empty="No work pools yet: create one below.",
        )
        wide = {"description_width": "initial"}
        self.new_name = widgets.Text(placeholder="my-pool", description="Name", style=wide)
        self.new_type = widgets.Dropdown(
            options=[t.value for t in PoolType],
            value=PoolType.PROCESS.value,
            description="Type",
            style=wide,
        )
        self.new_limit = widgets.Text(
            placeholder="no limit", description="Concurrency limit", style=wide
        )
        self.create = button("Create pool", "Create this work pool", style="primary")
        self.create_message = widgets.HTML()
        actions.on_click(self.create, self._create, self.create_message)
        self.widget = widgets.VBox(
            [
                self.message,
                self.table,
                widgets.HTML("<b>New work pool</b>"),
                widgets.HBox(
                    [self.new_name, self.new_type, self.new_limit, self.create],
                    layout=widgets.Layout(flex_flow="row wrap"),
                ),
                self.create_message,
            ]
        )

    def _create(self) -> str:
        name = self.new_name.value.strip()
        if not name:
            raise ValidationError("Name the new work pool, e.g. my-pool.")
        raw = self.new_limit.value.strip()
        limit = None
        if raw:
            try:
                limit = int(raw)
            except ValueError:
                limit = 0
            if limit < 1:
                raise ValidationError(
                    f"Concurrency must be a whole number of runs (1 or more), got {raw!r}; "
                    "leave it empty for no limit."
                )
        pool = self.client.create_pool(name, self.new_type.value, concurrency_limit=limit)
        self.new_name.value = ""
        self.new_limit.value = ""
        return f"Created work pool '{pool.name}' ({pool.type.value})."

    def update(self, pools: list[WorkPool]) -> None:
        self.rows.show([(pool.name, pool) for pool in pools])

"""What a button does: under the dashboard's lock, its outcome shown beside it, then a
refresh so that the tables show the change at once."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import ipywidgets as widgets

from nborch.errors import NborchError
from nborch.notebook.dashboard.formatting import error, success


class Actions:
    """Runs the dashboard's actions one at a time with its refreshes (one lock for both:
    a refresh never sees half an action's widgets)."""

    def __init__(self, lock: threading.RLock, refresh: Callable[[], None]) -> None:
        self.lock = lock
        self.refresh = refresh

    def run(self, action: Callable[[], str | None], where: widgets.HTML) -> bool:
        """Run `action`; show the sentence it returns in `where` (green), or its error (red,
        one line, the error's own words), then refresh. An action that returns None did
        nothing (it said why itself); one that returns "" said what it did itself. True if
        it did something."""
        with self.lock:
            try:
                said = action()
            except NborchError as err:
                where.value = error(err.message)
                return False
            except Exception as err:  # e.g. the server cannot be reached: say so, here
                where.value = error(f"{type(err).__name__}: {err}")
                return False
            if said is None:
                return False
            if said:
                where.value = success(said)
            try:
                self.refresh()
            except Exception as err:  # the action worked; the next refresh may too
                where.value += " " + error(f"(could not refresh: {err})")
            return True

    def on_click(
        self, button: widgets.Button, action: Callable[[], str | None], where: widgets.HTML
    ) -> None:
        """Make `button` run `action`."""

        def clicked(_button: Any) -> None:
            self.run(action, where)

        button.on_click(clicked)

"""Tables whose rows live across refreshes, so that a refresh never flickers.

A refresh hands a table the items it should show; each item's row (found by its key) is
updated in place, setting widget values (traitlets only tell the browser about values that
changed), and the table's children are assigned only when rows came, went or moved.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import Any, Generic, Protocol, TypeVar

import ipywidgets as widgets

from nborch.notebook.dashboard.formatting import muted, text

Key = TypeVar("Key", bound=Hashable)


class Row(Protocol):
    """One row: its widget, and how to show an item (or a newer version of it) in it."""

    widget: widgets.Widget

    def update(self, item: Any) -> None: ...


R = TypeVar("R", bound=Row)


def grid(columns: str, cells: Sequence[widgets.Widget]) -> widgets.GridBox:
    """A row of cells on the column widths `columns` (CSS grid-template-columns): rows with
    the same widths line up as a table."""
    return widgets.GridBox(
        list(cells),
        layout=widgets.Layout(
            grid_template_columns=columns, grid_gap="0 8px", align_items="center", width="100%"
        ),
    )


def header(columns: str, titles: Sequence[str]) -> widgets.GridBox:
    return grid(columns, [widgets.HTML(f"<b>{text(title)}</b>") for title in titles])


def cell(value: str = "") -> widgets.HTML:
    """An HTML cell (its value must already be escaped: see formatting)."""
    return widgets.HTML(value, layout=widgets.Layout(overflow="hidden"))


def button(description: str, tooltip: str = "", *, style: str = "") -> widgets.Button:
    return widgets.Button(
        description=description,
        tooltip=tooltip,
        button_style=style,
        layout=widgets.Layout(width="auto", min_width="70px", height="28px"),
    )


def close_tree(widget: widgets.Widget) -> None:
    """Close a widget, everything inside it, and its layout and style (the kernel keeps
    every widget until it is closed)."""
    for child in getattr(widget, "children", ()):
        close_tree(child)
    for part in ("layout", "style"):
        owned = getattr(widget, part, None)
        if isinstance(owned, widgets.Widget):
            owned.close()
    widget.close()


class KeyedRows(Generic[Key, R]):
    """The rows of one table under a header, one per key, kept across refreshes."""

    def __init__(
        self,
        box: widgets.Box,
        make_row: Callable[[Key], R],
        *,
        head: widgets.Widget | None = None,
        empty: str = "Nothing yet.",
    ) -> None:
        self.box = box
        self.make_row = make_row
        self.head = head
        self.empty = widgets.HTML(muted(empty))
        self.rows: dict[Key, R] = {}

    def show(self, items: Sequence[tuple[Key, Any]]) -> None:
        """Show exactly these (key, item) pairs, in this order."""
        keys = []
        for key, item in items:
            row = self.rows.get(key)
            if row is None:
                row = self.rows[key] = self.make_row(key)
            row.update(item)
            keys.append(key)
        for gone in set(self.rows) - set(keys):
            close_tree(self.rows.pop(gone).widget)
        if keys:
            children = [self.rows[key].widget for key in keys]
            if self.head is not None:
                children.insert(0, self.head)
        else:
            children = [self.empty]
        if tuple(children) != tuple(self.box.children):
            self.box.children = tuple(children)

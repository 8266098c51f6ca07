"""An output notebook as HTML, read as it is stored: nbformat writes multi-line sources and
outputs as lists of lines, which the page must show as the text they stand for."""

from __future__ import annotations

import json

import nbformat
from nbformat.v4 import new_code_cell, new_notebook, new_output

from nborch.execution.html import notebook_html


def test_a_stored_notebook_with_multi_line_cells_becomes_a_page() -> None:
    cell = new_code_cell(
        "for i in range(2):\n    print(f'line {i}')",
        outputs=[new_output("stream", name="stdout", text="line 0\nline 1\n")],
    )
    stored = json.loads(nbformat.writes(new_notebook(cells=[cell])))
    assert isinstance(stored["cells"][0]["source"], list)  # as on disk

    page = notebook_html(stored)

    assert page.lstrip().lower().startswith("<!doctype html>")
    assert "line 0\nline 1" in page
    assert "range" in page

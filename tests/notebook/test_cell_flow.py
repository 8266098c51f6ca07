"""A %%flow cell becomes a notebook with a `parameters` cell that papermill understands."""

from __future__ import annotations

from pathlib import Path

import nbformat

from nborch.execution.notebooks import read_parameter_specs
from nborch.notebook.cell_flow import SETUP_TAG, split_parameters, write_flow_notebook


def test_parameters_are_the_leading_assignments_up_to_the_first_blank_line() -> None:
    cell = '# inputs\nregion: str = "EU"  # market\ntop = 5\n\nprint(region * top)\n'
    assert split_parameters(cell) == (
        '# inputs\nregion: str = "EU"  # market\ntop = 5',
        "print(region * top)",
    )


def test_parameters_stop_at_the_first_statement_that_is_not_a_literal_assignment() -> None:
    assert split_parameters("a = 1\nb = compute()\nc = 3") == ("a = 1", "b = compute()\nc = 3")
    assert split_parameters("import os\nx = 1") == ("", "import os\nx = 1")
    assert split_parameters("%time x = 1") == ("", "%time x = 1")


def test_written_notebook_has_setup_parameters_and_body(tmp_path: Path) -> None:
    path = write_flow_notebook(
        tmp_path / "report.flow.ipynb",
        "report",
        'region: str = "EU"\nrows: list = [1, 2]\n\nprint(helper(region))',
        [("helpers", "def helper(x):\n    return x.lower()")],
        origin="a test",
    )
    notebook = nbformat.read(path, as_version=4)
    code = [c for c in notebook.cells if c.cell_type == "code"]
    assert code[0].metadata["tags"] == [SETUP_TAG] and "def helper" in code[0].source
    assert code[1].metadata["tags"] == ["parameters"]
    assert code[2].source == "print(helper(region))"
    specs = {s.name: (s.type, s.default) for s in read_parameter_specs(path)}
    assert specs == {"region": ("str", "EU"), "rows": ("list", [1, 2])}

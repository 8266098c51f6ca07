"""nborch.execution.notebooks: reading notebook files and their `parameters` cell."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.notebooks import make_notebook

from nborch.errors import NotebookError
from nborch.execution.notebooks import default_flow_name, load_notebook, read_parameter_specs
from nborch.models import ParameterSpec

REPO = Path(__file__).resolve().parents[2]
HELLO = REPO / "notebooks" / "hello.ipynb"


# --- load_notebook --------------------------------------------------------------------------


def test_load_notebook_reads_a_notebook() -> None:
    notebook = load_notebook(HELLO)
    assert notebook.nbformat == 4
    assert any("parameters" in c.metadata.get("tags", []) for c in notebook.cells)


def test_missing_notebook_names_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "nope.ipynb"
    with pytest.raises(NotebookError) as caught:
        load_notebook(missing)
    assert f"Notebook '{missing}' not found" in str(caught.value)
    assert "Check the path" in str(caught.value)


def test_a_folder_is_not_a_notebook(tmp_path: Path) -> None:
    folder = tmp_path / "folder.ipynb"
    folder.mkdir()
    with pytest.raises(NotebookError) as caught:
        load_notebook(folder)
    assert f"'{folder}' is a folder, not a notebook" in str(caught.value)


def test_invalid_json_is_refused_naming_the_file(tmp_path: Path) -> None:
    broken = tmp_path / "broken.ipynb"
    broken.write_text('{"cells": [')
    with pytest.raises(NotebookError) as caught:
        load_notebook(broken)
    assert f"Notebook '{broken}'" in str(caught.value)


def test_invalid_json_message_says_not_valid_json(tmp_path: Path) -> None:
    broken = tmp_path / "broken.ipynb"
    broken.write_text('{"cells": [')
    with pytest.raises(NotebookError) as caught:
        load_notebook(broken)
    assert "not valid JSON" in str(caught.value)
    assert "save it again" in str(caught.value)


def test_json_that_is_not_a_notebook_is_refused(tmp_path: Path) -> None:
    other = tmp_path / "other.ipynb"
    other.write_text('{"hello": 1}')
    with pytest.raises(NotebookError, match="cannot be read as a notebook"):
        load_notebook(other)


# --- read_parameter_specs -------------------------------------------------------------------


def test_parameter_specs_of_hello() -> None:
    assert read_parameter_specs(HELLO) == [
        ParameterSpec(name="name", type="str", default="world", help="who to greet"),
        ParameterSpec(name="times", type="int", default=2, help="how many greetings"),
        ParameterSpec(name="excited", type="bool", default=False, help=""),
    ]


def test_parameter_types_from_annotations_and_defaults(tmp_path: Path) -> None:
    notebook = make_notebook(
        tmp_path / "typed.ipynb",
        "from typing import List, Optional\n"
        "rows: List[int] = [1, 2]\n"
        'when = "2024-01-01"\n'
        "x = some_call()\n"
        "limit: Optional[float] = None  # the cap\n"
        "ratio = 0.5\n"
        "opts = {'a': 1}\n"
        "count: int = 3",
        "print(rows)",
    )
    specs = {s.name: s for s in read_parameter_specs(notebook)}
    assert list(specs) == ["rows", "when", "x", "limit", "ratio", "opts", "count"]
    assert (specs["rows"].type, specs["rows"].default) == ("list", [1, 2])
    assert (specs["when"].type, specs["when"].default) == ("str", "2024-01-01")
    assert (specs["x"].type, specs["x"].default) == ("any", None)
    assert (specs["limit"].type, specs["limit"].default, specs["limit"].help) == (
        "float",
        None,
        "the cap",
    )
    assert (specs["ratio"].type, specs["ratio"].default) == ("float", 0.5)
    assert (specs["opts"].type, specs["opts"].default) == ("dict", {"a": 1})
    assert (specs["count"].type, specs["count"].default) == ("int", 3)


def test_annotation_wins_over_the_default(tmp_path: Path) -> None:
    notebook = make_notebook(tmp_path / "ann.ipynb", "n: float = 1", "print(n)")
    assert read_parameter_specs(notebook) == [
        ParameterSpec(name="n", type="float", default=1, help="")
    ]


def test_notebook_without_a_parameters_cell_has_no_parameters(tmp_path: Path) -> None:
    notebook = make_notebook(tmp_path / "plain.ipynb", None, "x = 1", "print(x)")
    assert read_parameter_specs(notebook) == []


def test_read_parameter_specs_of_a_missing_notebook_is_a_notebook_error(tmp_path: Path) -> None:
    with pytest.raises(NotebookError, match="not found"):
        read_parameter_specs(tmp_path / "missing.ipynb")


# --- default_flow_name ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("Sales Report.ipynb", "sales-report"),
        ("/some/dir/Sales Report.ipynb", "sales-report"),
        ("hello.ipynb", "hello"),
        ("my_flow (v2).ipynb", "my-flow-v2"),
        ("  Q3--Numbers  .ipynb", "q3-numbers"),
        ("___.ipynb", "flow"),
    ],
)
def test_default_flow_name(path: str, expected: str) -> None:
    assert default_flow_name(path) == expected

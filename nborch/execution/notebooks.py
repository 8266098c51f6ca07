"""Reading notebooks: checks that a path is a notebook, and its `parameters` cell."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import nbformat
import nbformat.v4
from nbformat.reader import NotJSONError

from nborch.errors import NotebookError
from nborch.models import ParameterSpec
from nborch.parameters import type_name_of, type_name_of_annotation


def load_notebook(path: str | Path) -> nbformat.NotebookNode:
    """The notebook at `path`, or a NotebookError that says what is wrong with it."""
    path = Path(path)
    if not path.exists():
        raise NotebookError(f"Notebook '{path}' not found. Check the path (cwd: {Path.cwd()}).")
    if path.is_dir():
        raise NotebookError(f"'{path}' is a folder, not a notebook. Name an .ipynb file in it.")
    try:
        return nbformat.read(path, as_version=4)
    except (json.JSONDecodeError, NotJSONError, UnicodeDecodeError) as err:
        raise NotebookError(
            f"Notebook '{path}' is not valid JSON. Open it in Jupyter and save it again, "
            "or check that it is an .ipynb file."
        ) from err
    except Exception as err:  # nbformat raises several kinds for a malformed notebook
        raise NotebookError(f"Notebook '{path}' cannot be read as a notebook: {err}") from err


def default_flow_name(path: str | Path) -> str:
    """A flow's name from its file: `Sales Report.ipynb` → `sales-report`."""
    stem = Path(path).stem.strip().lower()
    return "-".join("".join(c if c.isalnum() else " " for c in stem).split()) or "flow"


def read_parameter_specs(path: str | Path) -> list[ParameterSpec]:
    """Names, types and defaults from the cell tagged `parameters`, as papermill reads it."""
    load_notebook(path)  # clear errors for a missing or broken file
    from papermill import inspect_notebook

    specs = []
    for parameter in inspect_notebook(str(path)).values():
        default = _literal(parameter["default"])
        annotated = type_name_of_annotation(parameter["inferred_type_name"])
        specs.append(
            ParameterSpec(
                name=parameter["name"],
                type=annotated or type_name_of(default),
                default=default,
                help=parameter["help"],
            )
        )
    return specs


def _literal(source: str | None) -> object:
    if source is None:
        return None
    try:
        return ast.literal_eval(source)
    except (ValueError, SyntaxError):
        return None


def write_python_notebook(path: Path, cells: list[nbformat.NotebookNode]) -> Path:
    """Write `cells` as a notebook for the `python3` kernel (the folder is made)."""
    notebook = nbformat.v4.new_notebook(cells=cells)
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    notebook.metadata["language_info"] = {"name": "python"}
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, path)
    return path

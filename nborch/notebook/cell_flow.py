"""A `%%flow` cell made into a notebook that papermill runs anywhere.

The cell's parameters are the plain assignments at its top, up to the first blank line,
exactly as a notebook's `parameters` cell would hold them:

    %%flow sales-report --include imports
    region: str = "EU"   # which market
    top = 5

    df = load_sales(region)
    df.head(top)

What the cell needs from earlier cells is declared, never taken from the kernel's state:
`--include NAME` puts the code of a `%%flow_setup NAME` cell before the parameters.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence
from pathlib import Path

from nbformat.v4 import new_code_cell, new_markdown_cell

from nborch.execution.notebooks import write_python_notebook

SETUP_TAG = "nborch-setup"


def _is_parameter(statement: ast.stmt) -> bool:
    """`name = <literal>` or `name: type = <literal>`."""
    if isinstance(statement, ast.Assign):
        simple = len(statement.targets) == 1 and isinstance(statement.targets[0], ast.Name)
        value: ast.expr | None = statement.value
    elif isinstance(statement, ast.AnnAssign):
        simple, value = isinstance(statement.target, ast.Name), statement.value
    else:
        return False
    if not simple or value is None:
        return False
    try:
        ast.literal_eval(value)
    except ValueError:
        return False
    return True


def split_parameters(cell: str) -> tuple[str, str]:
    """(parameters, body): the cell's leading literal assignments up to its first blank
    line, and the rest."""
    lines = cell.splitlines()
    head: list[str] = []
    for line in lines:
        if not line.strip():
            break
        head.append(line)
    try:
        statements = ast.parse("\n".join(head)).body
    except SyntaxError:  # IPython syntax (%magic, !shell): no parameters block
        return "", cell.strip("\n")
    end = 0
    for statement in statements:
        if not _is_parameter(statement):
            break
        end = statement.end_lineno or end
    return "\n".join(lines[:end]), "\n".join(lines[end:]).strip("\n")


def write_flow_notebook(
    path: Path, name: str, cell: str, includes: Sequence[tuple[str, str]], origin: str
) -> Path:
    """Write the flow's notebook: setup code, the `parameters` cell, then the body."""
    parameters, body = split_parameters(cell)
    cells = [
        new_markdown_cell(
            f"# Flow `{name}`\n\nMade by `%%flow {name}` in {origin}. Edit the `%%flow` cell "
            "there and run it again rather than this file."
        ),
        *(
            new_code_cell(source, metadata={"tags": [SETUP_TAG], "nborch": {"include": include}})
            for include, source in includes
        ),
        new_code_cell(parameters, metadata={"tags": ["parameters"]}),
        new_code_cell(body),
    ]
    return write_python_notebook(path, cells)

"""nborch's papermill engine on papermill's own command line (a run launched ahead of its
time, in a subprocess): the notebook and the lines are papermill's, the first cell waits
for the run's time. And papermill is wrapped in one module, through public names only."""

from __future__ import annotations

import sys
import time
from datetime import datetime
from pathlib import Path

import nbformat
import pytest
from support.notebooks import make_notebook
from support.package_imports import NBORCH, imports
from support.papermill_runs import comparable, papermill_lines, run_papermill

from nborch.execution.papermill_command import START_AT

TIMED_PAPERMILL = [sys.executable, "-m", "nborch.execution.timed_papermill"]


@pytest.mark.slow
def test_a_run_launched_early_is_papermills_with_its_first_cell_on_time(tmp_path: Path) -> None:
    notebook = make_notebook(
        tmp_path / "nb.ipynb", "name: str = 'x'", "print('hello', name)", "name * 2"
    )
    parameters = {"name": "Ada", "unknown": 1}
    start_at = time.time() + 20  # after the kernel is ready (1-2 s; 15 s at load 15)
    timed = run_papermill(
        notebook,
        tmp_path / "timed.ipynb",
        parameters,
        program=[*TIMED_PAPERMILL, "--engine", "nborch"],
        env={START_AT: str(start_at)},
    )
    assert timed.returncode == 0, timed.stderr
    plain = run_papermill(notebook, tmp_path / "plain.ipynb", parameters)
    assert plain.returncode == 0, plain.stderr
    assert comparable(tmp_path / "timed.ipynb") == comparable(tmp_path / "plain.ipynb")
    first_cell = nbformat.read(tmp_path / "timed.ipynb", as_version=4).cells[1]
    assert datetime.fromisoformat(first_cell.metadata.papermill.start_time).timestamp() >= start_at
    lines = papermill_lines(timed, {str(tmp_path / "timed.ipynb"): str(tmp_path / "plain.ipynb")})
    waited = [line for line in lines if "the first cell starts in" in line]
    assert len(waited) == 1 and waited[0].endswith(" s, on schedule"), lines
    assert [line for line in lines if line not in waited] == papermill_lines(plain)


def test_nborch_imports_no_private_name_of_papermill_or_nbclient() -> None:
    private = [
        f"{where}:{line}"
        for where, line, names in imports(NBORCH)
        if names[0] in {"papermill", "nbclient"} and any(n.startswith("_") for n in names)
    ]
    assert private == []


def test_papermill_is_wrapped_in_one_module() -> None:
    """papermill's engine and client classes, and nbclient, are the engine module's alone."""
    wrapping = {
        f"{where}:{line}"
        for where, line, names in imports(NBORCH)
        if names[0] == "nbclient"
        or names[:2] in (["papermill", "engines"], ["papermill", "clientwrap"])
    }
    assert wrapping and all(w.startswith("nborch/execution/papermill_engine.py:") for w in wrapping)

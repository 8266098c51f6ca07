"""Notebooks the tests write for themselves: a parameters cell plus code cells."""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_notebook


def make_notebook(path: Path, parameters: str | None, *cells: str) -> Path:
    notebook = new_notebook()
    if parameters is not None:
        notebook.cells.append(new_code_cell(parameters, metadata={"tags": ["parameters"]}))
    notebook.cells.extend(new_code_cell(source) for source in cells)
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    notebook.metadata["language_info"] = {"name": "python"}
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, path)
    return path


def sleeping_notebook(path: Path) -> Path:
    """Writes its kernel's pid to `pid_file`, then sleeps `seconds`."""
    return make_notebook(
        path,
        'seconds: float = 0.0\npid_file: str = ""\nmarker: str = ""',
        "import os, time\n"
        "if pid_file:\n    open(pid_file, 'w').write(str(os.getpid()))\n"
        "print('started', marker, time.time(), flush=True)\n"
        "time.sleep(seconds)\n"
        "print('finished', marker, time.time(), flush=True)",
    )


def failing_notebook(path: Path) -> Path:
    return make_notebook(
        path,
        "divisor: int = 0",
        "print('before the failure', flush=True)",
        "result = 10 / divisor",
        "print('never printed')",
    )

"""Notebooks the tests write for themselves: a parameters cell plus code cells."""

from __future__ import annotations

from pathlib import Path

from nbformat.v4 import new_code_cell

from nborch.execution.notebooks import write_python_notebook


def make_notebook(path: Path, parameters: str | None, *cells: str) -> Path:
    head = (
        [] if parameters is None else [new_code_cell(parameters, metadata={"tags": ["parameters"]})]
    )
    return write_python_notebook(path, [*head, *(new_code_cell(source) for source in cells)])


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

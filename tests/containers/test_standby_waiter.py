"""The standby container's main program is generated from nborch's papermill engine and
the standby waiter, agrees with both, imports nothing of nborch, and with its engine gives
the notebook and the lines papermill's command line gives. (Its first cell on time and its
kernel started ahead: tests/containers/test_docker_standby.py, in real containers.)"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from support.notebooks import make_notebook
from support.papermill_runs import comparable, papermill_lines, run_papermill

from nborch.containers import standby_waiter
from nborch.containers.standby_handover import waiter_program
from nborch.execution import papermill_engine

# papermill's command line with the program's engine, run where nborch cannot be imported
# (as in a run's image): the program is loaded as a module (its main() is not run).
WITHOUT_NBORCH = """
import importlib.util, sys, time
sys.modules["nborch"] = None
spec = importlib.util.spec_from_file_location("waiter", sys.argv.pop(1))
waiter = sys.modules["waiter"] = importlib.util.module_from_spec(spec)
spec.loader.exec_module(waiter)
waiter.RunEngine.register(run_env={"X": "1"})
from papermill.cli import papermill
sys.argv = ["papermill", *sys.argv[1:], "--engine", waiter.ENGINE_NAME]
papermill()
"""


def test_the_program_is_the_engine_then_the_waiter_less_its_imports_of_nborch() -> None:
    program = waiter_program()
    engine = Path(papermill_engine.__file__).read_text(encoding="utf-8")
    waiter = Path(standby_waiter.__file__).read_text(encoding="utf-8")
    own = [
        line
        for line in waiter.splitlines(keepends=True)
        if not line.startswith(("from __future__ ", "from nborch"))
    ]
    assert "from nborch" in waiter and len(own) == len(waiter.splitlines()) - 2
    assert program.index(engine) < program.index("".join(own))
    assert program.endswith("".join(own))
    compile(program, "waiter.py", "exec")


@pytest.mark.slow
def test_the_program_runs_papermill_without_nborch(tmp_path: Path) -> None:
    program = tmp_path / "waiter.py"
    program.write_text(waiter_program())
    notebook = make_notebook(tmp_path / "nb.ipynb", "n: int = 1", "print('n is', n)", "n + 1")
    waiter = run_papermill(
        notebook,
        tmp_path / "waiter.ipynb",
        {"n": 2},
        program=[sys.executable, "-c", WITHOUT_NBORCH, str(program)],
    )
    assert waiter.returncode == 0, waiter.stderr
    plain = run_papermill(notebook, tmp_path / "plain.ipynb", {"n": 2})
    assert comparable(tmp_path / "waiter.ipynb") == comparable(tmp_path / "plain.ipynb")
    assert papermill_lines(
        waiter, {str(tmp_path / "waiter.ipynb"): str(tmp_path / "plain.ipynb")}
    ) == papermill_lines(plain)

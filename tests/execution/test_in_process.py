"""Executing a notebook from this process on a kernel it started gives the notebook
`papermill IN OUT -f PARAMS` gives: the same cells, outputs, metadata and error marks, the
same exceptions, the same lines logged. Real kernels, real papermill."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from papermill.exceptions import PapermillExecutionError
from support.notebooks import failing_notebook, make_notebook
from support.papermill_runs import comparable, papermill_lines, run_papermill

from nborch.execution.in_process import execute_on_kernel, line_logger, prepare_notebook
from nborch.execution.kernel_loop import KernelLoop
from nborch.execution.kernels import Kernel, KernelHost, KernelRecipe

pytestmark = pytest.mark.slow


@pytest.fixture
def loop() -> Iterator[KernelLoop]:
    running = KernelLoop()
    yield running
    running.close()


def run_here(
    loop: KernelLoop, notebook: Path, output: Path, parameters: dict[str, Any]
) -> tuple[list[str], BaseException | None]:
    """Execute in process; the lines logged and the error raised, if any. The parameters
    come as the worker passes them: read back from the YAML file papermill would get."""
    parameters = yaml.safe_load(yaml.safe_dump(parameters))
    lines: list[str] = []
    log = line_logger("test", lines.append)
    nb, kernel_name = prepare_notebook(
        str(notebook), str(output), parameters, kernel_name=None, cwd=str(notebook.parent), log=log
    )

    async def execute() -> BaseException | None:
        host = KernelHost.create()
        kernel = await Kernel.spawn(KernelRecipe.of(kernel_name, str(notebook.parent), {}), host)
        try:
            await kernel.ready
            await execute_on_kernel(nb, kernel, str(output), log=log)
        except Exception as err:
            return err
        finally:
            await kernel.shutdown()
            host.close()
        return None

    return lines, loop.run(execute(), timeout=120)


def test_the_output_notebook_is_papermills(loop: KernelLoop, tmp_path: Path) -> None:
    notebook = make_notebook(
        tmp_path / "nb.ipynb",
        'name: str = "x"\ntimes: int = 1',
        "for i in range(times):\n    print(i, name)",
        "name * times",
    )
    parameters = {"name": 'Ad"a', "times": 3, "extra": [1, 2]}
    lines, error = run_here(loop, notebook, tmp_path / "here.ipynb", parameters)
    assert error is None
    done = run_papermill(notebook, tmp_path / "papermill.ipynb", parameters)
    assert done.returncode == 0, done.stderr
    assert comparable(tmp_path / "here.ipynb") == comparable(tmp_path / "papermill.ipynb")
    assert [line for line in lines if line.strip()] == papermill_lines(
        done, {str(tmp_path / "papermill.ipynb"): str(tmp_path / "here.ipynb")}
    )


def test_a_failing_cell_is_marked_and_raised_as_papermill_does(
    loop: KernelLoop, tmp_path: Path
) -> None:
    notebook = failing_notebook(tmp_path / "fails.ipynb")
    _lines, error = run_here(loop, notebook, tmp_path / "here.ipynb", {"divisor": 0})
    assert isinstance(error, PapermillExecutionError) and error.ename == "ZeroDivisionError"
    done = run_papermill(notebook, tmp_path / "papermill.ipynb", {"divisor": 0})
    assert done.returncode == 1 and "ZeroDivisionError" in done.stderr
    assert comparable(tmp_path / "here.ipynb") == comparable(tmp_path / "papermill.ipynb")

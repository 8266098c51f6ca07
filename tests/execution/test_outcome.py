"""nborch.execution.outcome: what a finished run came to (one real failing papermill run)."""

from __future__ import annotations

import signal
from pathlib import Path

import nbformat
import papermill
import pytest
from papermill.exceptions import PapermillExecutionError
from support.notebooks import failing_notebook, make_notebook

from nborch.execution.outcome import (
    describe_exit,
    judge_outcome,
    out_of_memory_line,
    read_failure,
)
from nborch.models import StateType


@pytest.fixture(scope="module")
def failed_output(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The output notebook of a real papermill run whose second code cell divides by zero."""
    folder = tmp_path_factory.mktemp("outcome")
    notebook = failing_notebook(folder / "failing.ipynb")
    output = folder / "failing-output.ipynb"
    with pytest.raises(PapermillExecutionError) as caught:
        papermill.execute_notebook(
            str(notebook),
            str(output),
            parameters={"divisor": 0},
            kernel_name="python3",
            progress_bar=False,
            cwd=str(folder),
        )
    assert caught.value.ename == "ZeroDivisionError"
    return output


# --- read_failure ---------------------------------------------------------------------------


def test_read_failure_names_the_failing_cell(failed_output: Path) -> None:
    failure = read_failure(failed_output)
    assert failure is not None
    assert failure.ename == "ZeroDivisionError"
    assert "division by zero" in failure.evalue
    assert "10 / divisor" in failure.source
    assert isinstance(failure.execution_count, int) and failure.execution_count > 0
    notebook = nbformat.read(failed_output, as_version=4)
    cell = notebook.cells[failure.cell_index]
    assert cell.source == failure.source
    assert cell.execution_count == failure.execution_count


def test_read_failure_of_a_missing_or_cut_short_notebook_is_none(tmp_path: Path) -> None:
    assert read_failure(tmp_path / "missing.ipynb") is None
    cut = tmp_path / "cut.ipynb"
    cut.write_text('{"cells": [{"cell_type": "code", "outp')
    assert read_failure(cut) is None


def test_read_failure_of_a_notebook_without_errors_is_none(tmp_path: Path) -> None:
    fine = make_notebook(tmp_path / "fine.ipynb", "n = 1", "print(n)")
    assert read_failure(fine) is None


def test_read_failure_finds_a_cell_papermill_marked_without_an_error_output(
    tmp_path: Path,
) -> None:
    path = make_notebook(tmp_path / "marked.ipynb", None, "a = 1", "b = 2")
    notebook = nbformat.read(path, as_version=4)
    notebook.cells[1].metadata["papermill"] = {"exception": True}
    notebook.cells[1].execution_count = 2
    nbformat.write(notebook, path)
    failure = read_failure(path)
    assert failure is not None
    assert (failure.cell_index, failure.source, failure.ename) == (1, "b = 2", "Error")


# --- judge_outcome --------------------------------------------------------------------------


def test_failed_notebook_is_failed_with_the_exception(failed_output: Path) -> None:
    outcome = judge_outcome(1, failed_output, ["some log", "PapermillExecutionError"])
    assert outcome.state is StateType.FAILED
    assert "ZeroDivisionError" in outcome.message
    assert "division by zero" in outcome.message
    assert outcome.failure is not None
    assert f"In [{outcome.failure.execution_count}]" in outcome.message
    assert "10 / divisor" in outcome.failure.source


def test_exit_zero_is_completed(tmp_path: Path) -> None:
    fine = make_notebook(tmp_path / "fine.ipynb", "n = 1", "print(n)")
    outcome = judge_outcome(0, fine, ["all good"])
    assert outcome.state is StateType.COMPLETED
    assert outcome.failure is None
    assert judge_outcome(0, None, []).state is StateType.COMPLETED


def test_killed_by_sigkill_is_crashed() -> None:
    outcome = judge_outcome(-signal.SIGKILL, None, [])
    assert outcome.state is StateType.CRASHED
    assert "SIGKILL" in outcome.message
    assert outcome.failure is None


def test_exit_137_is_crashed_out_of_memory() -> None:
    outcome = judge_outcome(137, None, ["Executing Cell 3"])
    assert outcome.state is StateType.CRASHED
    assert "out of memory" in outcome.message
    assert "137" in outcome.message
    assert "Executing Cell 3" in outcome.message


def test_killed_by_sigterm_is_crashed() -> None:
    outcome = judge_outcome(-signal.SIGTERM, None, [])
    assert outcome.state is StateType.CRASHED
    assert "SIGTERM" in outcome.message


def test_exit_143_says_sigterm() -> None:
    outcome = judge_outcome(143, None, [])
    assert outcome.state is StateType.CRASHED
    assert "SIGTERM" in outcome.message


def test_cancelled_wins_over_everything(failed_output: Path) -> None:
    for exit_code, output in ((0, None), (1, failed_output), (-9, None)):
        outcome = judge_outcome(exit_code, output, [], cancelled=True)
        assert outcome.state is StateType.CANCELLED
        assert outcome.failure is None


def test_dead_kernel_is_crashed(tmp_path: Path) -> None:
    tail = ["Executing Cell 2", "nbclient.exceptions.DeadKernelError: Kernel died"]
    outcome = judge_outcome(1, tmp_path / "never-written.ipynb", tail)
    assert outcome.state is StateType.CRASHED
    assert "kernel died" in outcome.message
    assert "DeadKernelError" in outcome.message


def test_exit_one_without_output_is_failed_with_the_log_tail() -> None:
    tail = ["first", "second", "third", "ValueError: no such kernel 'nope'"]
    outcome = judge_outcome(1, None, tail)
    assert outcome.state is StateType.FAILED
    assert outcome.failure is None
    assert "exit code 1" in outcome.message
    assert "ValueError: no such kernel 'nope'" in outcome.message
    assert "second | third | ValueError" in outcome.message  # the last three lines
    assert "first" not in outcome.message


# --- describe_exit --------------------------------------------------------------------------


def test_describe_exit() -> None:
    assert "SIGTERM" in describe_exit(-15)
    assert "SIGKILL" in describe_exit(-9)
    assert "out of memory" in describe_exit(-9)
    assert "out of memory" not in describe_exit(-15)
    assert "out of memory" in describe_exit(137)
    assert describe_exit(2) == "exit code 2"
    assert "signal 200" in describe_exit(-200)


# --- out of memory and commands that do not run -----------------------------------------------


def test_an_out_of_memory_line_crashes_the_run_with_its_detail(tmp_path: Path) -> None:
    detail = "container 0123456789ab was OOM-killed (mem_limit 64 MiB): raise mem_limit"
    tail = [
        "Executing Cell 2",
        "nbclient.exceptions.DeadKernelError: Kernel died",
        out_of_memory_line(detail),
    ]
    outcome = judge_outcome(1, tmp_path / "never-written.ipynb", tail)
    assert outcome.state is StateType.CRASHED
    assert outcome.message == f"Out of memory: {detail}"
    # A run that completed although something in it was killed for memory completed.
    assert judge_outcome(0, None, tail).state is StateType.COMPLETED
    assert judge_outcome(1, None, tail, cancelled=True).state is StateType.CANCELLED


def test_a_command_that_is_not_found_says_so() -> None:
    tail = ["[FATAL tini (7)] exec no-such-papermill failed: No such file or directory"]
    outcome = judge_outcome(127, None, tail)
    assert outcome.state is StateType.FAILED
    assert "exit code 127: command not found" in outcome.message
    assert "no-such-papermill" in outcome.message
    assert describe_exit(126) == "exit code 126: command not executable"

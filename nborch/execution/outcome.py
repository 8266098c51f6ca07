"""What a finished run came to, judged from its exit code, its output notebook and the end
of its logs: one place for every kind of infrastructure."""

from __future__ import annotations

import re
import signal
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from nborch.models import CellFailure, StateType
from nborch.timeutil import format_seconds

_OOM_EXIT = 137  # 128 + SIGKILL, as containers and shells report it
_SHELL_EXITS = {126: "command not executable", 127: "command not found"}

# A worker whose infrastructure reports an out-of-memory kill (a container's OOMKilled) writes
# a log line starting with this; the outcome then says so.
OUT_OF_MEMORY = "nborch: out of memory"


def out_of_memory_line(detail: str) -> str:
    return f"{OUT_OF_MEMORY}: {detail}"


# The exception a timed-out run's running cell is marked with in its output notebook.
RUN_TIMEOUT = "RunTimeout"
_CELL_LINE = re.compile(r"Executing Cell (\d+)")


@dataclass(frozen=True)
class Outcome:
    state: StateType
    message: str
    failure: CellFailure | None = None
    timed_out: bool = False  # ended by the run's timeout (see nborch.orchestration.run_policy)


def read_failure(output_path: str | Path) -> CellFailure | None:
    """The cell that raised, as papermill marks it in the output notebook, if any."""
    path = Path(output_path)
    if not path.exists():
        return None
    import nbformat  # on the first run's end, not at import: a worker starts without it

    try:
        notebook = nbformat.read(path, as_version=4)
    except Exception:  # a notebook cut short while being written: no cell to name
        return None
    for index, cell in enumerate(notebook.cells):
        if cell.get("cell_type") != "code":
            continue
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        if errors or cell.get("metadata", {}).get("papermill", {}).get("exception"):
            error = errors[-1] if errors else {}
            return CellFailure(
                cell_index=index,
                execution_count=cell.get("execution_count"),
                source=cell.get("source", ""),
                ename=error.get("ename", "Error"),
                evalue=error.get("evalue", ""),
            )
    return None


def describe_exit(exit_code: int) -> str:
    """-9 → 'killed by SIGKILL'; 137 → 'killed (exit 137: out of memory?)'."""
    if exit_code < 0:
        try:
            name = signal.Signals(-exit_code).name
        except ValueError:
            name = f"signal {-exit_code}"
        hint = " (out of memory?)" if exit_code == -signal.SIGKILL else ""
        return f"killed by {name}{hint}"
    if exit_code == _OOM_EXIT:
        return "killed (exit 137: out of memory?)"
    if exit_code in _SHELL_EXITS:
        return f"exit code {exit_code}: {_SHELL_EXITS[exit_code]}"
    if exit_code > 128:  # how shells and containers report death by a signal
        try:
            return f"killed by {signal.Signals(exit_code - 128).name} (exit {exit_code})"
        except ValueError:
            pass
    return f"exit code {exit_code}"


def judge_outcome(
    exit_code: int,
    output_path: str | Path | None,
    log_tail: Sequence[str],
    *,
    cancelled: bool = False,
) -> Outcome:
    if cancelled:
        return Outcome(StateType.CANCELLED, "Cancelled by request")
    if exit_code == 0:
        return Outcome(StateType.COMPLETED, "")
    failure = read_failure(output_path) if output_path else None
    oom = next((line for line in log_tail if line.startswith(OUT_OF_MEMORY)), None)
    if oom is not None:
        detail = oom[len(OUT_OF_MEMORY) :].lstrip(": ")
        return Outcome(StateType.CRASHED, f"Out of memory: {detail}", failure)
    died = next((line for line in log_tail if "KernelDied:" in line), None)
    if died is not None:  # the kernel's process ended on its own: what it said last
        return Outcome(StateType.CRASHED, died.split("KernelDied:", 1)[1].strip())
    timeout = next((line for line in log_tail if "CellTimeoutError" in line), None)
    if timeout is not None:  # nbclient interrupts the kernel: the cell shows KeyboardInterrupt
        detail = timeout.split("CellTimeoutError:", 1)[-1].strip()
        return Outcome(StateType.FAILED, f"Cell execution timed out: {detail}", failure)
    if failure is not None:
        cell = (
            f"In [{failure.execution_count}]"
            if failure.execution_count
            else f"cell {failure.cell_index}"
        )
        return Outcome(
            StateType.FAILED, f"{cell} raised {failure.ename}: {failure.evalue}", failure
        )
    tail = " | ".join(line.strip() for line in log_tail[-3:] if line.strip())
    if exit_code < 0 or exit_code in (_OOM_EXIT, 143):
        return Outcome(StateType.CRASHED, f"The run was {describe_exit(exit_code)}. {tail}".strip())
    if any("DeadKernelError" in line or "Kernel died" in line for line in log_tail):
        return Outcome(StateType.CRASHED, f"The kernel died while running the notebook. {tail}")
    return Outcome(StateType.FAILED, f"papermill failed ({describe_exit(exit_code)}): {tail}")


def timed_out(
    output_path: str | Path | None, log_tail: Sequence[str], ran: float, timeout: float
) -> Outcome:
    """The outcome of a run its worker stopped after `ran` seconds, its timeout being
    `timeout`: FAILED, naming the cell that was running (papermill's number, as its log says
    "Executing Cell N"), which is marked in the output notebook as papermill marks a cell
    that raised."""
    detail = f"after {format_seconds(ran)} (the run's timeout is {format_seconds(timeout)})"
    failure = mark_running_cell(output_path, f"The run timed out {detail}") if output_path else None
    if failure is not None:
        cell: int | None = failure.cell_index + 1
    else:  # no notebook here to mark (e.g. on a cluster): the logs may say
        cells = [m for line in log_tail if (m := _CELL_LINE.search(line))]
        cell = int(cells[-1][1]) if cells else None
    where = f"in cell {cell}" if cell is not None else "before its first cell"
    return Outcome(StateType.FAILED, f"Timed out {where} {detail}", failure, timed_out=True)


def mark_running_cell(output_path: str | Path, evalue: str) -> CellFailure | None:
    """Mark the cell that was running when the run was stopped — the last one papermill
    started, whatever status the stop left it in — as papermill marks a cell that raised: a
    `RunTimeout` error output, the cell and notebook flagged, papermill's error marker at the
    top. Returns the cell, or None when there is none (no notebook, not readable or writable,
    no cell started)."""
    path = Path(output_path)
    try:
        import nbformat

        notebook = nbformat.read(path, as_version=4)
    except Exception:  # none, or cut short while being written
        return None
    started = [
        (index, cell)
        for index, cell in enumerate(notebook.cells)
        if cell.get("metadata", {}).get("papermill", {}).get("start_time")
    ]
    if not started:
        return None
    index, cell = started[-1]
    traceback = [f"{RUN_TIMEOUT}: {evalue}"]
    error = nbformat.v4.new_output("error", ename=RUN_TIMEOUT, evalue=evalue, traceback=traceback)
    cell.setdefault("outputs", []).append(error)
    cell.metadata.papermill.update(status="failed", exception=True)
    notebook.metadata.setdefault("papermill", {})["exception"] = True
    failure = CellFailure(
        cell_index=index,
        execution_count=cell.get("execution_count"),
        source=cell.get("source", ""),
        ename=RUN_TIMEOUT,
        evalue=evalue,
    )
    from papermill.exceptions import PapermillExecutionError
    from papermill.execute import raise_for_execution_errors

    try:  # writes the notebook with papermill's marker, then raises as papermill does
        raise_for_execution_errors(notebook, str(path))
    except PapermillExecutionError:
        pass
    except OSError:
        return None
    return failure

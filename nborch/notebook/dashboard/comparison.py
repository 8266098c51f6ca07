"""Two runs of a deployment side by side: their parameters, and the cells whose outputs
differ.

Cells are matched by position (both runs executed the deployment's notebook); papermill's
injected-parameters cell is left out, since the parameters are compared as such. An output
is compared by what a person reads: stream text, `text/plain`, errors, and a digest of
images and other data, never execution counts or metadata.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from nborch.models import FlowRun
from nborch.notebook.dashboard.progress import first_line

MISSING: Any = object()  # a parameter one run has and the other has not
INJECTED = "injected-parameters"


@dataclass(frozen=True)
class ParameterComparison:
    name: str
    a: Any
    b: Any

    @property
    def differs(self) -> bool:
        return self.a is MISSING or self.b is MISSING or self.a != self.b


@dataclass(frozen=True)
class CellDifference:
    index: int  # position in the output notebook (0-based)
    first_line: str
    a: str  # the cell's outputs as text in run a ("" for none)
    b: str


@dataclass(frozen=True)
class RunComparison:
    a: FlowRun
    b: FlowRun
    parameters: tuple[ParameterComparison, ...]
    cells: tuple[CellDifference, ...]  # only those whose outputs differ
    cells_compared: int
    missing_notebooks: tuple[str, ...]  # names of runs that have no output notebook

    @property
    def differing_parameters(self) -> tuple[ParameterComparison, ...]:
        return tuple(p for p in self.parameters if p.differs)


def _text(value: Any) -> str:
    return "".join(value) if isinstance(value, list) else str(value)


def _digest(value: Any) -> str:
    return hashlib.sha1(_text(value).encode()).hexdigest()[:8]


def output_text(output: dict[str, Any]) -> str:
    """One output as a person reads it."""
    kind = output.get("output_type")
    if kind == "stream":
        return _text(output.get("text", ""))
    if kind == "error":
        return f"{output.get('ename', '')}: {output.get('evalue', '')}"
    data = output.get("data", {})
    if "text/plain" in data and len(data) == 1:
        return _text(data["text/plain"])
    parts = []
    for mime, value in sorted(data.items()):
        if mime == "text/plain":
            parts.append(_text(value))
        else:
            parts.append(f"[{mime} · {_digest(value)}]")
    return "\n".join(parts)


def cell_outputs(cell: dict[str, Any]) -> str:
    if cell.get("cell_type") != "code":
        return ""
    return "".join(
        text if text.endswith("\n") else text + "\n"
        for text in (output_text(o) for o in cell.get("outputs", []))
        if text
    ).rstrip("\n")


def _compared_cells(notebook: dict[str, Any] | None) -> list[tuple[int, dict[str, Any]]]:
    if notebook is None:
        return []
    return [
        (index, cell)
        for index, cell in enumerate(notebook.get("cells", []))
        if INJECTED not in cell.get("metadata", {}).get("tags", [])
    ]


def compare_runs(
    a: FlowRun,
    notebook_a: dict[str, Any] | None,
    b: FlowRun,
    notebook_b: dict[str, Any] | None,
) -> RunComparison:
    """What differs between run `a` and run `b` (given their output notebooks)."""
    names = sorted({*a.parameters, *b.parameters})
    parameters = tuple(
        ParameterComparison(name, a.parameters.get(name, MISSING), b.parameters.get(name, MISSING))
        for name in names
    )
    cells_a = _compared_cells(notebook_a)
    cells_b = _compared_cells(notebook_b)
    differences = []
    if notebook_a is not None and notebook_b is not None:
        for position in range(max(len(cells_a), len(cells_b))):
            index_a, cell_a = cells_a[position] if position < len(cells_a) else (-1, None)
            index_b, cell_b = cells_b[position] if position < len(cells_b) else (-1, None)
            shown_a = cell_outputs(cell_a) if cell_a is not None else "(no such cell)"
            shown_b = cell_outputs(cell_b) if cell_b is not None else "(no such cell)"
            if shown_a != shown_b:
                cell = cell_a if cell_a is not None else cell_b
                assert cell is not None
                differences.append(
                    CellDifference(
                        index_a if index_a >= 0 else index_b, first_line(cell), shown_a, shown_b
                    )
                )
    missing = tuple(run.name for run, nb in ((a, notebook_a), (b, notebook_b)) if nb is None)
    return RunComparison(
        a=a,
        b=b,
        parameters=parameters,
        cells=tuple(differences),
        cells_compared=max(len(cells_a), len(cells_b)) if not missing else 0,
        missing_notebooks=missing,
    )


def shown(value: Any) -> str:
    """A parameter value as JSON, or `(not set)`."""
    return "(not set)" if value is MISSING else json.dumps(value, default=str)

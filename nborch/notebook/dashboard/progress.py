"""A run's progress, cell by cell, read from its output notebook as it stands.

papermill marks every cell of the output notebook with `metadata.papermill.status`
(`pending`, `running`, `completed`, `failed`) and its `start_time` / `end_time` /
`duration`, and saves the notebook after each cell: reading it while the run goes shows
how far it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from nborch.notebook.dashboard.formatting import duration, text

STATUS_COLOURS = {
    "completed": "#16a34a",
    "running": "#2563eb",
    "failed": "#dc2626",
    "pending": "#d1d5db",
}


@dataclass(frozen=True)
class CellProgress:
    index: int
    cell_type: str
    status: str  # pending, running, completed or failed
    first_line: str
    start: datetime | None
    end: datetime | None
    seconds: float | None  # papermill's duration, once the cell is done

    def elapsed(self, now: datetime) -> float | None:
        """Seconds the cell took, or has been running for."""
        if self.seconds is not None:
            return self.seconds
        if self.start is not None:
            return max(0.0, ((self.end or now) - self.start).total_seconds())
        return None


@dataclass(frozen=True)
class RunProgress:
    cells: tuple[CellProgress, ...]

    @property
    def total(self) -> int:
        return len(self.cells)

    @property
    def done(self) -> int:
        return sum(cell.status in ("completed", "failed") for cell in self.cells)

    @property
    def running(self) -> CellProgress | None:
        return next((cell for cell in self.cells if cell.status == "running"), None)

    @property
    def failed(self) -> CellProgress | None:
        return next((cell for cell in self.cells if cell.status == "failed"), None)

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 0.0

    def summary(self, now: datetime) -> str:
        """`3/5 cells · cell 4 running for 2.1 s`."""
        said = f"{self.done}/{self.total} cells"
        if self.failed is not None:
            return f"{said} · cell {self.failed.index + 1} failed"
        if self.running is not None:
            return (
                f"{said} · cell {self.running.index + 1} running for "
                f"{duration(self.running.elapsed(now))}"
            )
        return said


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _source(cell: dict[str, Any]) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def first_line(cell: dict[str, Any]) -> str:
    lines = [line for line in _source(cell).splitlines() if line.strip()]
    return lines[0] if lines else ""


def progress_of(notebook: dict[str, Any]) -> RunProgress:
    """Every cell's status and timing; a cell papermill has not marked yet is pending."""
    cells = []
    for index, cell in enumerate(notebook.get("cells", [])):
        marks = cell.get("metadata", {}).get("papermill", {})
        seconds = marks.get("duration")
        cells.append(
            CellProgress(
                index=index,
                cell_type=str(cell.get("cell_type", "code")),
                status=str(marks.get("status") or "pending"),
                first_line=first_line(cell),
                start=_time(marks.get("start_time")),
                end=_time(marks.get("end_time")),
                seconds=float(seconds) if isinstance(seconds, (int, float)) else None,
            )
        )
    return RunProgress(tuple(cells))


def progress_bar_html(progress: RunProgress, now: datetime) -> str:
    """A bar with one segment per cell, coloured by its status; hovering a segment tells
    the cell, its status and its time."""
    if not progress.total:
        return ""
    segments = []
    for cell in progress.cells:
        took = cell.elapsed(now)
        tip = f"cell {cell.index + 1} ({cell.cell_type}): {cell.status}"
        if took is not None:
            tip += f", {duration(took)}"
        if cell.first_line:
            tip += f" · {cell.first_line[:60]}"
        segments.append(
            f'<span class="nborch-cell" data-status="{text(cell.status)}" title="{text(tip)}" '
            f'style="flex:1;height:10px;background:{STATUS_COLOURS.get(cell.status, "#d1d5db")};'
            'border-radius:2px"></span>'
        )
    return (
        '<div class="nborch-progress" style="display:flex;gap:2px;min-width:80px;'
        f'align-items:center">{"".join(segments)}</div>'
        f'<div style="font-size:11px;color:#6b7280">{text(progress.summary(now))}</div>'
    )


def timings_html(progress: RunProgress, now: datetime) -> str:
    """A table of the cells, their status and their times."""
    rows = []
    for cell in progress.cells:
        colour = STATUS_COLOURS.get(cell.status, "#d1d5db")
        rows.append(
            f"<tr><td>{cell.index + 1}</td><td>{text(cell.cell_type)}</td>"
            f'<td style="color:{colour}">{text(cell.status)}</td>'
            f"<td>{text(duration(cell.elapsed(now)))}</td>"
            f"<td><code>{text(cell.first_line[:80])}</code></td></tr>"
        )
    return (
        '<table class="nborch-timings" style="font-size:12px"><tr><th>cell</th><th>type</th>'
        f"<th>status</th><th>time</th><th>first line</th></tr>{''.join(rows)}</table>"
    )

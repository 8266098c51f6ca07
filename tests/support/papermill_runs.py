"""papermill's own command line on a notebook, and what of its results the tests compare:
nborch's ways of running a notebook must give what it gives."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import nbformat
import yaml

PAPERMILL = (sys.executable, "-m", "papermill")


def run_papermill(
    notebook: Path,
    output: Path,
    parameters: dict[str, Any],
    program: Sequence[str] = PAPERMILL,
    env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """`papermill NOTEBOOK OUTPUT -f PARAMETERS --cwd ... --log-output` as a worker runs it;
    `program` (papermill's command line, by default) starts it."""
    parameters_file = output.parent / "parameters.yaml"
    parameters_file.write_text(yaml.safe_dump(parameters))
    return subprocess.run(
        [*program, str(notebook), str(output), "--no-progress-bar",
         "-f", str(parameters_file), "--cwd", str(notebook.parent), "--log-output"],
        capture_output=True, text=True, timeout=120,
        env=None if env is None else {**os.environ, **env},
    )  # fmt: skip


def comparable(path: Path) -> dict[str, Any]:
    """The notebook without what differs from one execution to the next (times, ids)."""
    nb = nbformat.read(path, as_version=4)
    papermill = {
        k: v
        for k, v in nb.metadata.papermill.items()
        if k not in {"start_time", "end_time", "duration", "input_path", "output_path"}
    }
    cells = []
    for cell in nb.cells:
        cells.append(
            {
                "type": cell.cell_type,
                "source": cell.source,
                "tags": cell.metadata.get("tags", []),
                "status": cell.metadata.get("papermill", {}).get("status"),
                "exception": cell.metadata.get("papermill", {}).get("exception"),
                "count": cell.get("execution_count"),
                "outputs": [
                    {k: v for k, v in o.items() if k != "traceback"}
                    for o in cell.get("outputs", [])
                ],
            }
        )
    return {"papermill": papermill, "language": nb.metadata.get("language_info"), "cells": cells}


def papermill_lines(
    done: subprocess.CompletedProcess[str], replace: Mapping[str, str] | None = None
) -> list[str]:
    """The non-blank lines papermill printed, less the kernel's own warnings, with paths
    replaced as `replace` says (papermill's output notebook for another's)."""
    lines = []
    for line in done.stderr.splitlines():
        if "IPKernelApp" in line or not line.strip():
            continue
        for old, new in (replace or {}).items():
            line = line.replace(old, new)
        lines.append(line)
    return lines

"""A run's output notebook: papermill writes it where the run says (`output_path`); a worker on
another host hands its copy over through the API, and it is kept at that same place."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any

from nborch.errors import ValidationError
from nborch.orchestration.runs import get_run
from nborch.store.engine import Store


def read_output_notebook(store: Store, run_id: str | uuid.UUID) -> dict[str, Any] | None:
    run = get_run(store, run_id)
    if not run.output_path:
        return None
    try:
        text = Path(run.output_path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    try:
        notebook = json.loads(text)
    except json.JSONDecodeError:  # caught mid-write by papermill: not there yet
        return None
    return notebook if isinstance(notebook, dict) else None


def write_output_notebook(store: Store, run_id: str | uuid.UUID, notebook: dict[str, Any]) -> None:
    run = get_run(store, run_id)
    if not run.output_path:
        raise ValidationError(f"Flow run '{run.name}' has no output notebook to store.")
    if not isinstance(notebook.get("cells"), list):
        raise ValidationError(
            f"The output notebook given for flow run '{run.name}' is not a notebook "
            "(no 'cells' list)."
        )
    path = Path(run.output_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(notebook), encoding="utf-8")
    os.replace(partial, path)  # readers never see half a notebook

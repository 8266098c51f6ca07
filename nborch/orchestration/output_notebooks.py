"""A run's output notebook: papermill writes it where the run says (`output_path`); a worker on
another host hands its copy over through the API, and it is kept at that same place.

Read back, it never shows the run's secret values (see `nborch.execution.masking`)."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any

from nborch.errors import NborchError, ValidationError
from nborch.execution.masking import MASK, mask_notebook, masked_forms
from nborch.home_files import write_private_text
from nborch.models import FlowRun
from nborch.orchestration.fencing import held_run
from nborch.orchestration.runs import get_run
from nborch.orchestration.secrets import secret_values_of_run
from nborch.secret_references import secret_names
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
    if not isinstance(notebook, dict):
        return None
    return _masked(store, run, notebook)


def _masked(store: Store, run: FlowRun, notebook: dict[str, Any]) -> dict[str, Any]:
    """The notebook without the run's secret values: its worker masks the file when the run
    ends, but papermill saves it after every cell while it runs."""
    if not secret_names(run.parameters, run.job_variables):
        return notebook
    try:
        values = secret_values_of_run(store, run.id)
    except NborchError:  # a secret deleted or a key changed since: hide what papermill put in
        return _without_injected_parameters(notebook)
    return mask_notebook(notebook, masked_forms(values.values()))


def _without_injected_parameters(notebook: dict[str, Any]) -> dict[str, Any]:
    cells = [
        {**cell, "source": MASK}
        if "injected-parameters" in (cell.get("metadata") or {}).get("tags", [])
        else cell
        for cell in notebook.get("cells") or []
    ]
    metadata = dict(notebook.get("metadata") or {})
    papermill = metadata.get("papermill")
    if isinstance(papermill, dict) and isinstance(papermill.get("parameters"), dict):
        hidden = {name: MASK for name in papermill["parameters"]}
        metadata["papermill"] = {**papermill, "parameters": hidden}
    return {**notebook, "cells": cells, "metadata": metadata}


def write_output_notebook(
    store: Store, run_id: str | uuid.UUID, notebook: dict[str, Any], *, attempt: int | None = None
) -> None:
    """Keep the notebook a worker hands over; refused once its `attempt` lost the run."""
    if attempt is not None:
        with store.read() as session:
            held_run(session, run_id, attempt)
    run = get_run(store, run_id)
    if not run.output_path:
        raise ValidationError(f"Flow run '{run.name}' has no output notebook to store.")
    if not isinstance(notebook.get("cells"), list):
        raise ValidationError(
            f"The output notebook given for flow run '{run.name}' is not a notebook "
            "(no 'cells' list)."
        )
    path = Path(run.output_path)
    partial = write_private_text(path.with_name(path.name + ".partial"), json.dumps(notebook))
    os.replace(partial, path)  # readers never see half a notebook

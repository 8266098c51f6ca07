"""A worker of a server on another machine writes each run's output notebook in its own
runs folder, then hands it to the server (masked already), before reporting the final
state, so whoever sees COMPLETED can open the output."""

from __future__ import annotations

import json
import os
from pathlib import Path

from nborch.client.base import NborchClient
from nborch.models import FlowRun
from nborch.settings import get_settings


def with_local_output(run: FlowRun) -> FlowRun:
    path = os.path.join(get_settings().runs_dir, str(run.id), "output.ipynb")
    return run.model_copy(update={"output_path": path})


def hand_over_output(client: NborchClient, run: FlowRun) -> None:
    if not run.output_path:
        return
    try:
        text = Path(run.output_path).read_text(encoding="utf-8")
    except FileNotFoundError:  # the notebook never started: nothing to hand over
        return
    client.write_output_notebook(run.id, json.loads(text), attempt=run.attempt)

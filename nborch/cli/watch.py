"""Following a run from the terminal: its logs as they come, then its final state."""

from __future__ import annotations

import time
import uuid

from nborch.client import NborchClient
from nborch.display import console, styled_state
from nborch.models import FlowRun

FOLLOW_INTERVAL = 0.3


def follow_logs(api: NborchClient, run_id: str | uuid.UUID, *, follow: bool) -> FlowRun:
    """Print the run's logs; with `follow`, keep printing until the run has ended."""
    after = 0
    while True:
        run = api.get_run(run_id)
        lines = api.read_logs(run_id, after=after)
        for line in lines:
            console.print(line.message, markup=False)
        if lines:
            after = lines[-1].seq
        if not follow or (run.state.is_final and not lines):
            return run
        time.sleep(FOLLOW_INTERVAL)


def watch_run(api: NborchClient, run_id: str | uuid.UUID) -> FlowRun:
    run = follow_logs(api, run_id, follow=True)
    state = styled_state(run.state, run.state_message)
    console.print(f"Flow run '{run.name}' finished in state {state}")
    if run.output_path:
        console.print(f"Output notebook: {run.output_path}", markup=False)
    return run

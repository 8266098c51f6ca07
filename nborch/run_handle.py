"""Runs from Python: `run_deployment(...)` creates a run and (by default) waits for it; the
handle it returns can be waited on, and opens the output notebook and the logs."""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import nbformat

from nborch.client import NborchClient, get_client
from nborch.errors import NborchError
from nborch.models import FlowRun, RetryOn, StateType, retry_on_of
from nborch.timeutil import seconds


class RunTimeoutError(NborchError):
    """A run did not end within the time it was given."""


class RunHandle:
    """A flow run to follow: `state`, `wait()`, `output_notebook()`, `logs()`."""

    def __init__(self, run: FlowRun, client: NborchClient) -> None:
        self.id: uuid.UUID = run.id
        self.client = client
        self.run = run

    def refresh(self) -> FlowRun:
        self.run = self.client.get_run(self.id)
        return self.run

    @property
    def state(self) -> StateType:
        return self.refresh().state

    def wait(self, timeout: float | None = None, poll_interval: float = 0.2) -> FlowRun:
        """Block until the run has ended (a run that will be retried has not)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.refresh().state.is_final:
            if deadline is not None and time.monotonic() > deadline:
                raise RunTimeoutError(
                    f"Flow run '{self.run.name}' is still {self.run.state.value} after "
                    f"{timeout:g} s. Wait longer with handle.wait(), or check that a worker "
                    f"serves pool '{self.run.pool_name}': nborch worker ls"
                )
            time.sleep(poll_interval)
        return self.run

    @property
    def output_path(self) -> Path | None:
        return Path(self.run.output_path) if self.run.output_path else None

    def output_notebook(self) -> nbformat.NotebookNode:
        """The executed notebook (papermill's output, with the injected parameters)."""
        notebook = self.client.read_output_notebook(self.id)
        if notebook is None:
            raise NborchError(
                f"Flow run '{self.run.name}' has no output notebook yet (it is "
                f"{self.refresh().state.value}). Wait for it with handle.wait()."
            )
        return nbformat.from_dict(notebook)

    def logs(self) -> list[str]:
        return [line.message for line in self.client.read_logs(self.id)]

    def __repr__(self) -> str:
        return f"<RunHandle '{self.run.name}' {self.run.state.value} ({self.id})>"


def run_deployment(
    name: str,
    parameters: dict[str, Any] | None = None,
    *,
    job_variables: dict[str, Any] | None = None,
    tags: Sequence[str] = (),
    timeout: float | None = None,
    run_timeout: float | timedelta | None = None,
    retries: int | None = None,
    retry_delay: float | timedelta | None = None,
    retry_backoff: float | None = None,
    retry_on: str | Sequence[RetryOn | str] | None = None,
    client: NborchClient | None = None,
) -> RunHandle:
    """Run `flow/deployment` and return its handle once it has ended (`timeout=None`),
    after at most `timeout` seconds, or at once (`timeout=0`); as Prefect's does, it
    returns at the time-out whatever the run's state. A worker of the pool runs it.

    The run's own policy, where it is not the deployment's: `run_timeout` (the longest the
    run may take: past it, it is stopped and ends FAILED, timed out), `retries`,
    `retry_delay`, `retry_backoff` and `retry_on` (see `Flow.deploy`)."""
    client = client or get_client()
    handle = RunHandle(
        client.create_run(
            name,
            parameters=parameters,
            job_variables=job_variables,
            tags=tags,
            timeout_seconds=seconds(run_timeout),
            retries=retries,
            retry_delay_seconds=seconds(retry_delay),
            retry_backoff=retry_backoff,
            retry_on=None if retry_on is None else retry_on_of(retry_on),
        ),
        client,
    )
    if timeout != 0:
        try:
            handle.wait(timeout)
        except RunTimeoutError:
            pass
    return handle

"""The base worker's promises, checked in-process around a real papermill run."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from support.deployments import deploy_hello

from nborch.client import LocalClient
from nborch.models import FINAL_STATES, StateType
from nborch.workers.process import ProcessWorker


class RecordingClientSpy(LocalClient):
    """A spy, not a fake: the real local client, noting the order of the calls it serves."""

    def __init__(self, client: LocalClient) -> None:
        super().__init__(client.store)
        self.calls: list[tuple[str, Any]] = []

    def append_logs(self, run_id: str | uuid.UUID, lines: Sequence[str]) -> None:
        self.calls.append(("logs", list(lines)))
        super().append_logs(run_id, lines)

    def set_state(
        self, run_id: str | uuid.UUID, state: StateType, message: str = "", **kwargs: Any
    ) -> Any:
        self.calls.append(("state", state))
        return super().set_state(run_id, state, message, **kwargs)


def test_every_log_line_is_stored_before_the_final_state(sqlite_client: LocalClient) -> None:
    spy = RecordingClientSpy(sqlite_client)
    spy.create_pool("local", "process")
    deploy_hello(spy, "local")
    spy.create_run("hello/demo", parameters={"times": 2})
    worker = ProcessWorker(spy, "local", echo=lambda _text: None)
    with worker.online():
        [claimed] = spy.claim_runs("local", worker.id, 1)
        done = worker.execute(claimed)
    assert done.state is StateType.COMPLETED
    final = max(
        i for i, (kind, value) in enumerate(spy.calls) if kind == "state" and value in FINAL_STATES
    )
    last_logs = max(i for i, (kind, _) in enumerate(spy.calls) if kind == "logs")
    assert last_logs < final
    stored = [line.message for line in spy.read_logs(claimed.id)]
    assert "2: Hello, world." in stored and stored[-1].startswith("Ending Cell")


def test_execute_reports_a_run_it_cannot_start_as_crashed(sqlite_client: LocalClient) -> None:
    client = sqlite_client
    client.create_pool("local", "process")
    deploy_hello(client, "local")
    client.create_run("hello/demo", job_variables={"working_dir": "/no/such/folder"})
    worker = ProcessWorker(client, "local", echo=lambda _text: None)
    with worker.online():
        [claimed] = client.claim_runs("local", worker.id, 1)
        done = worker.execute(claimed)
    assert done.state is StateType.CRASHED
    assert "could not run it" in done.state_message and "/no/such/folder" in done.state_message
    assert any("/no/such/folder" in line.message for line in client.read_logs(claimed.id))

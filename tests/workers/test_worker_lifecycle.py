"""The base worker's promises, checked in-process around a real papermill run."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from support.deployments import deploy_hello, deploy_notebook
from support.notebooks import make_notebook

from nborch.client import LocalClient
from nborch.models import FINAL_STATES, FlowRun, StateType
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


def _execute_one(client: LocalClient) -> FlowRun:
    worker = ProcessWorker(client, "local", echo=lambda _text: None, run_scheduler=False)
    with worker.online():
        [claimed] = client.claim_runs("local", worker.id, 1)
        return worker.execute(claimed)


def test_secret_env_reaches_the_run_but_never_the_store_or_the_logs(
    sqlite_client: LocalClient,
    nborch_home: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    secret = f"s3cr3t-{uuid.uuid4().hex}"
    monkeypatch.setenv("NBORCH_TEST_TOKEN", secret)
    client = sqlite_client
    client.create_pool("local", "process")
    notebook = make_notebook(
        tmp_path / "uses_secret.ipynb",
        None,
        "import os\ntoken = os.environ['NBORCH_TEST_TOKEN']\n"
        "print('token:', token)\nprint('length:', len(token))",
    )
    deploy_notebook(client, notebook, "local", job_variables={"secret_env": ["NBORCH_TEST_TOKEN"]})
    client.create_run("uses-secret/demo")
    done = _execute_one(client)
    assert done.state is StateType.COMPLETED, done.state_message
    logs = [line.message for line in client.read_logs(done.id)]
    assert f"length: {len(secret)}" in logs  # the run had the value...
    assert "token: *****" in logs and not any(secret in line for line in logs)
    assert done.job_variables == {"secret_env": ["NBORCH_TEST_TOKEN"]}
    client.store.dispose()
    stored = b"".join(p.read_bytes() for p in nborch_home.glob("nborch.db*"))
    assert secret.encode() not in stored  # ...the store never did


def test_a_run_that_cannot_start_fails_with_the_reason_and_retries_are_bounded(
    sqlite_client: LocalClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NBORCH_MISSING_TOKEN", raising=False)
    client = sqlite_client
    client.create_pool("local", "process")
    deploy_hello(client, "local", retries=1, job_variables={"secret_env": ["NBORCH_MISSING_TOKEN"]})
    run = client.create_run("hello/demo")
    first = _execute_one(client)
    assert first.state is StateType.SCHEDULED  # its one retry
    second = _execute_one(client)
    assert second.id == run.id and second.state is StateType.CRASHED
    assert "NBORCH_MISSING_TOKEN" in second.state_message
    assert "Set them in the worker's environment" in second.state_message
    assert second.run_count == 2

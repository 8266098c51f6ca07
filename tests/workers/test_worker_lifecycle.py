"""The base worker's promises, checked in-process around a real papermill run."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from support.deployments import deploy_hello, deploy_notebook
from support.notebooks import make_notebook
from support.processes import wait_for

from nborch.client import LocalClient
from nborch.models import FINAL_STATES, FlowRun, StateType
from nborch.workers.process import ProcessWorker


class RecordingClientSpy(LocalClient):
    """A spy, not a fake: the real local client, noting the order of the calls it serves."""

    def __init__(self, client: LocalClient) -> None:
        super().__init__(client.store)
        self.calls: list[tuple[str, Any]] = []

    def append_logs(self, run_id: str | uuid.UUID, lines: Sequence[str], **kwargs: Any) -> None:
        self.calls.append(("logs", list(lines)))
        super().append_logs(run_id, lines, **kwargs)

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


def test_a_run_the_store_gives_up_is_stopped_at_once(
    sqlite_client: LocalClient, tmp_path: Path
) -> None:
    """The store marks a running run CRASHED behind its worker's back (as crash detection
    would): the worker stops it before it can finish, and writes nothing more about it."""
    client = sqlite_client
    client.create_pool("local", "process")
    go, marks = tmp_path / "go", tmp_path / "marks"
    notebook = make_notebook(
        tmp_path / "gated.ipynb",
        "go: str = ''\nmarks: str = ''",
        "import pathlib, time\nprint('waiting for go', flush=True)",
        "while not pathlib.Path(go).exists():\n    time.sleep(0.1)",
        "with open(marks, 'a') as f:\n    f.write('done\\n')",
    )
    deploy_notebook(client, notebook, "local", "gated")
    run = client.create_run("gated/gated", parameters={"go": str(go), "marks": str(marks)})
    said: list[str] = []
    worker = ProcessWorker(client, "local", echo=said.append, poll_interval=0.1)
    thread = threading.Thread(target=worker.start, daemon=True)
    thread.start()
    try:
        wait_for(
            lambda: any("waiting for go" in line.message for line in client.read_logs(run.id)),
            90,
            lambda: "\n".join(said),
        )
        client.set_state(run.id, StateType.CRASHED, "given up by the store")
        logged = client.read_logs(run.id)
        wait_for(lambda: worker.active_runs == 0, 60, lambda: "\n".join(said))
        go.touch()
        time.sleep(1)
        assert not marks.exists(), "the lost run went on to the end"
        assert any("is no longer this worker's" in line for line in said), said
        done = client.get_run(run.id)
        assert (done.state, done.state_message) == (StateType.CRASHED, "given up by the store")
        assert client.read_logs(run.id) == logged  # its later lines were refused
    finally:
        worker.request_stop(force=True)
        thread.join(60)

"""API keys on the standalone server: no key no access (but health), admin keys reach
everything, worker keys only what a worker of their pools needs; keys are stored hashed."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest
from support.api import Server
from support.deployments import deploy_hello

from nborch.client.wire_errors import AuthenticationError, PermissionDeniedError
from nborch.errors import ConflictError, RunLostError, ValidationError
from nborch.models import StateType as S


def test_no_key_no_access_except_health(sqlite_server: Server) -> None:
    base = sqlite_server.url + "/api/v1"
    health = httpx.get(base + "/health")
    assert health.status_code == 200 and health.json()["status"] == "ok"
    for method, path in [
        ("GET", "/work-pools"),
        ("POST", "/work-pools"),
        ("GET", "/openapi.json"),
        ("GET", f"/flow-runs/{uuid.uuid4()}"),
    ]:
        answer = httpx.request(method, base + path, json={"name": "p", "type": "process"})
        assert answer.status_code == 401, (path, answer.text)
        assert "needs an API key" in answer.json()["error"]["message"]
    for header in ["Bearer nbk_nope_nope", "Bearer x", "Basic abc", "nbk_x_y"]:
        answer = httpx.get(base + "/work-pools", headers={"Authorization": header})
        assert answer.status_code == 401
    assert sqlite_server.local.list_pools() == []  # nothing was created by the refused POST


def test_keys_are_stored_hashed_and_revocable(sqlite_server: Server, nborch_home: Path) -> None:
    admin = sqlite_server.client()
    new = admin.create_api_key("ops", "admin")
    assert new.key.startswith("nbk_") and new.prefix in new.key
    sqlite_server.local.store.dispose()  # flush the WAL so the file holds everything
    stored = b"".join(p.read_bytes() for p in nborch_home.glob("nborch.db*"))
    secret_part = new.key.rsplit("_", 1)[1]
    assert secret_part.encode() not in stored
    assert new.prefix.encode() in stored  # the row is there, the key is not
    ops = sqlite_server.client(new.key)
    assert ops.list_pools() == []
    assert [k.name for k in admin.list_api_keys()] == ["test-admin", "ops"]
    admin.revoke_api_key("ops")
    with pytest.raises(AuthenticationError, match="needs an API key"):
        ops.list_pools()
    assert admin.list_api_keys()[1].revoked is not None


def test_worker_key_reaches_only_its_pools(sqlite_server: Server) -> None:
    admin = sqlite_server.client()
    admin.create_pool("mine", "process")
    admin.create_pool("theirs", "process")
    deploy_hello(admin, "mine", name="a")
    deploy_hello(admin, "theirs", name="b")
    my_run = admin.create_run("hello/a")
    their_run = admin.create_run("hello/b")
    with pytest.raises(ValidationError, match="needs the pools it may serve"):
        admin.create_api_key("w", "worker")
    key = admin.create_api_key("w", "worker", ["mine"]).key
    worker = sqlite_server.client(key)

    # What a worker of its pool does, it may do.
    me = worker.register_worker("w1", "mine")
    worker.heartbeat(me.id)
    assert worker.get_pool("mine").name == "mine"
    [claimed] = worker.claim_runs("mine", me.id, 5)
    assert claimed.id == my_run.id
    attempt = claimed.attempt
    worker.set_state(claimed.id, S.RUNNING, attempt=attempt)
    worker.append_logs(claimed.id, ["hello"], attempt=attempt)
    assert [line.message for line in worker.read_logs(claimed.id)] == ["hello"]
    # A worker key writes about a run only as the attempt that holds it ...
    with pytest.raises(PermissionDeniedError, match=r"only as the attempt that holds it"):
        worker.append_logs(claimed.id, ["unfenced"])
    worker.set_state(claimed.id, S.COMPLETED, attempt=attempt)
    assert [r.id for r in worker.list_runs(pool_name="mine")] == [my_run.id]
    # ... and nothing more once the run has ended.
    with pytest.raises(RunLostError, match="is COMPLETED"):
        worker.append_logs(claimed.id, ["after the end"], attempt=attempt)
    with pytest.raises(RunLostError, match="is COMPLETED"):
        worker.write_output_notebook(claimed.id, {"cells": []}, attempt=attempt)
    with pytest.raises(RunLostError, match="is COMPLETED"):
        worker.record_infrastructure(claimed.id, "pid 1", attempt=attempt)
    assert [line.message for line in worker.read_logs(claimed.id)] == ["hello"]
    # Nor does it claim for another pool's worker, through its own pool.
    theirs = admin.register_worker("t1", "theirs")
    admin.create_run("hello/a")
    with pytest.raises(ConflictError, match="serves another work pool than 'mine'"):
        worker.claim_runs("mine", theirs.id, 5)

    # Anything else is refused, and changes nothing.
    refused = [
        lambda: worker.get_pool("theirs"),
        lambda: worker.list_pools(),
        lambda: worker.register_worker("w2", "theirs"),
        lambda: worker.claim_runs("theirs", me.id, 5),
        lambda: worker.get_run(their_run.id),
        lambda: worker.read_logs(their_run.id),
        lambda: worker.set_state(their_run.id, S.CANCELLED),
        lambda: worker.list_runs(),
        lambda: worker.list_runs(pool_name="theirs"),
        lambda: worker.create_run("hello/a"),
        lambda: worker.set_deployment_paused("hello/a", True),
        lambda: worker.delete_deployment("hello/a"),
        lambda: worker.create_pool("new", "process"),
        lambda: worker.create_api_key("more", "admin"),
        lambda: worker.list_secrets(),
        lambda: worker.cancel_run(my_run.id),
    ]
    for attempt in refused:
        with pytest.raises(PermissionDeniedError, match="worker key for mine"):
            attempt()
    assert admin.get_run(their_run.id).state is S.SCHEDULED
    assert not admin.get_deployment("hello/a").paused
    assert [p.name for p in admin.list_pools()] == ["mine", "theirs"]
    assert len(admin.list_api_keys()) == 2


def test_server_refuses_to_serve_through_another_server(
    nborch_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from support.cli import error_line, invoker

    from nborch.settings import reset_settings

    monkeypatch.setenv("NBORCH_API_URL", "http://127.0.0.1:9")
    reset_settings()
    error_line(invoker()("server", "start"), "NBORCH_API_URL is set")

"""Viewer and runner keys on a real server over HTTP: a viewer reads pools, deployments,
runs, logs and outputs and is refused (403, naming the key and the fix) every other
operation, changing nothing; a runner also runs the deployments its patterns match. Each
operation declares who may call it, the OpenAPI document says so, and every run records who
made it, which no request can forge."""

from __future__ import annotations

import getpass
import inspect
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from support.api import Server, store_snapshot
from support.cli import invoker
from support.deployments import deploy_hello

from nborch.alert_models import AlertChannel, AlertRuleSpec
from nborch.api.openapi import build_openapi
from nborch.api.roles import permits
from nborch.client import LocalClient
from nborch.client.http import HttpClient
from nborch.client.routes import API_PREFIX, CLIENT_ROUTES, ROUTES
from nborch.client.wire_errors import PermissionDeniedError
from nborch.errors import ValidationError
from nborch.models import ApiKeyRole, DeploymentSpec, ScheduleSpec
from nborch.models import StateType as S
from nborch.orchestration.api_keys import Principal
from nborch.orchestration.scheduler import tick

# Every operation a viewer may call: reads that show nothing secret.
VIEWER_READS = {
    "health", "openapi", "output_html", "cron_preview",
    "list_pools", "get_pool", "usage", "next_run_time", "list_queues", "list_workers",
    "get_worker", "held_runs",
    "list_deployments", "get_deployment", "list_schedules",
    "list_runs", "get_run", "read_logs", "read_output_notebook",
}  # fmt: skip
NOTEBOOK = {"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


def test_the_table_admits_viewers_to_exactly_the_reads_and_says_so() -> None:
    viewer = Principal("v", ApiKeyRole.VIEWER)
    admitted = {r.name for r in ROUTES if permits(r.access, viewer, lambda: None, None)}
    assert admitted == VIEWER_READS
    # Reads only: no viewer ever reaches a change, a secret or a key.
    assert all(r.method == "GET" for r in ROUTES if r.name in VIEWER_READS)
    assert {"resolve_run_secrets", "list_secrets", "list_api_keys"}.isdisjoint(admitted)
    for path in build_openapi()["paths"].values():
        for operation in path.values():
            says = "viewer" in operation["x-nborch-access"] or operation["operationId"] in {
                "health",
                "openapi",
            }
            assert says == (operation["operationId"] in VIEWER_READS), operation["operationId"]
    [create_run] = [r for r in ROUTES if r.name == "create_run"]
    assert "runner keys whose deployment patterns match `deployment`" in (
        create_run.access.describe()
    )


def _world(server: Server) -> dict[str, Any]:
    """A pool with a worker, two deployments (one scheduled), a run with logs and an
    output notebook: what a viewer reads."""
    admin = server.client()
    admin.create_pool("p", "process")
    admin.create_queue("p", "q")
    deploy_hello(admin, "p", "a", cron="0 6 * * *")
    deploy_hello(admin, "p", "b")
    admin.set_secret("token", "s3cret-value")
    worker = admin.register_worker("w1", "p")
    run = admin.create_run("hello/a")
    admin.append_logs(run.id, ["line one"])
    admin.write_output_notebook(run.id, NOTEBOOK)
    [schedule] = admin.list_schedules("hello/a")
    return {"admin": admin, "worker": worker, "run": run, "schedule": schedule}


def _reads(
    c: HttpClient, w: dict[str, Any], server: Server, key: str
) -> dict[str, Callable[[], Any]]:  # noqa: E501
    run, worker = w["run"], w["worker"]
    headers = {"Authorization": f"Bearer {key}"}
    base = server.url + API_PREFIX

    def get(path: str, **params: Any) -> Any:
        answer = httpx.get(base + path, params=params, headers=headers, timeout=30)
        assert answer.status_code == 200, (path, answer.text)
        return answer.text

    return {
        "health": lambda: get("/health"),
        "openapi": lambda: get("/openapi.json"),
        "output_html": lambda: get(f"/flow-runs/{run.id}/output.html"),
        "cron_preview": lambda: get("/cron-preview", cron="0 6 * * *"),
        "list_pools": lambda: [p.name for p in c.list_pools()] == ["p"],
        "get_pool": lambda: c.get_pool("p").name == "p",
        "usage": lambda: c.usage() is not None,
        "next_run_time": lambda: c.next_run_time("p"),
        "list_queues": lambda: "q" in [q.name for q in c.list_queues("p")],
        "list_workers": lambda: [x.name for x in c.list_workers()] == ["w1"],
        "get_worker": lambda: c.get_worker(worker.id).name == "w1",
        "held_runs": lambda: c.held_runs(worker.id) == [],
        "list_deployments": lambda: len(c.list_deployments()) == 2,
        "get_deployment": lambda: c.get_deployment("hello/a").name == "a",
        "list_schedules": lambda: len(c.list_schedules("hello/a")) == 1,
        "list_runs": lambda: [r.id for r in c.list_runs()] == [run.id],
        "get_run": lambda: c.get_run(run.id).id == run.id,
        "read_logs": lambda: [x.message for x in c.read_logs(run.id)] == ["line one"],
        "read_output_notebook": lambda: c.read_output_notebook(run.id) == NOTEBOOK,
    }


def _writes(
    c: HttpClient, w: dict[str, Any], server: Server, key: str
) -> dict[str, Callable[[], Any]]:  # noqa: E501
    """Every operation but the reads, each with input that passes validation: what refuses
    it is who calls."""
    run, worker, schedule = w["run"], w["worker"], w["schedule"]
    spec = DeploymentSpec(flow_name="hello", name="c", source="/tmp", entrypoint="x.ipynb")
    headers = {"Authorization": f"Bearer {key}"}
    base = server.url + API_PREFIX

    def raw(method: str, path: str, **options: Any) -> None:
        """A route the client has no method for: its 403 raised as the client raises it."""
        answer = httpx.request(method, base + path, headers=headers, timeout=30, **options)
        assert answer.status_code == 403, (path, answer.status_code, answer.text)
        raise PermissionDeniedError(answer.json()["error"]["message"])

    return {
        "create_pool": lambda: c.create_pool("new", "process"),
        "update_pool": lambda: c.update_pool("p", paused=True),
        "delete_pool": lambda: c.delete_pool("p"),
        "claim_runs": lambda: c.claim_runs("p", worker.id, 1),
        "create_queue": lambda: c.create_queue("p", "q2"),
        "update_queue": lambda: c.update_queue("p", "q", paused=True),
        "delete_queue": lambda: c.delete_queue("p", "q"),
        "register_worker": lambda: c.register_worker("w2", "p"),
        "heartbeat": lambda: c.heartbeat(worker.id),
        "apply_deployment": lambda: c.apply_deployment(spec),
        "set_deployment_paused": lambda: c.set_deployment_paused("hello/a", True),
        "delete_deployment": lambda: c.delete_deployment("hello/a"),
        "create_schedule": lambda: c.create_schedule("hello/a", ScheduleSpec(cron="* * * * *")),
        "set_schedule_active": lambda: c.set_schedule_active("hello/a", str(schedule.id), False),
        "delete_schedule": lambda: c.delete_schedule("hello/a", str(schedule.id)),
        "scheduler_tick": lambda: c.scheduler_tick("viewer"),
        "create_run": lambda: c.create_run("hello/b"),
        "create_adhoc_run": lambda: c.create_adhoc_run(
            "adhoc",
            "/tmp/x.ipynb",
            parameters={},
            job_variables={},
            output_path=None,
            cwd=None,
            worker_id=worker.id,
        ),  # fmt: skip
        "crash_orphaned_runs": lambda: c.crash_orphaned_runs(),
        "set_state": lambda: c.set_state(run.id, S.CANCELLED),
        "cancel_run": lambda: c.cancel_run(run.id),
        "take_over_run": lambda: c.take_over_run(run.id, worker.id, from_worker_id=None),
        "record_infrastructure": lambda: c.record_infrastructure(run.id, "pid 1"),
        "record_source_commit": lambda: c.record_source_commit(run.id, "abcdef12"),
        "append_logs": lambda: c.append_logs(run.id, ["forged"]),
        "write_output_notebook": lambda: c.write_output_notebook(run.id, {**NOTEBOOK}),
        "resolve_run_secrets": lambda: c.resolve_run_secrets(run.id),
        "list_secrets": lambda: c.list_secrets(),
        "set_secret": lambda: c.set_secret("token", "replaced"),
        "delete_secret": lambda: c.delete_secret("token"),
        "list_api_keys": lambda: c.list_api_keys(),
        "create_api_key": lambda: c.create_api_key("more", "admin"),
        "revoke_api_key": lambda: c.revoke_api_key("test-admin"),
        # Alert rules name receivers (URLs, addresses): an admin's, not a viewer's.
        "create_alert_rule": lambda: c.create_alert_rule(
            AlertRuleSpec(name="a", channel=AlertChannel.WEBHOOK, target="http://127.0.0.1:9/")
        ),
        "list_alert_rules": lambda: c.list_alert_rules(),
        "delete_alert_rule": lambda: c.delete_alert_rule("a"),
        "test_alert_rule": lambda: c.test_alert_rule("a"),
        "alert_history": lambda: c.alert_history(),
        "notebook_parameters": lambda: raw("GET", "/notebook-parameters?path=x.ipynb"),
        "deploy_notebook": lambda: raw(
            "POST", "/deploy-notebook", json={"path": "x.ipynb", "name": "d", "pool_name": "p"}
        ),
    }


def test_a_viewer_key_reads_everything_but_secrets_and_changes_nothing(
    sqlite_server: Server,
) -> None:
    world = _world(sqlite_server)
    key = world["admin"].create_api_key("view", "viewer").key
    viewer = sqlite_server.client(key)
    reads = _reads(viewer, world, sqlite_server, key)
    writes = _writes(viewer, world, sqlite_server, key)
    assert set(reads) == VIEWER_READS
    assert set(reads) | set(writes) == {r.name for r in ROUTES}  # every operation is tried

    for name, read in reads.items():
        assert read() is not False, name
    before = store_snapshot(sqlite_server)
    for name, write in writes.items():
        with pytest.raises(PermissionDeniedError) as refused:
            write()
        message = str(refused.value)
        assert message.startswith("API key 'view' is a viewer: it may read"), (name, message)
        assert f"not call {name}" in message and "Use an admin key" in message, message
    assert store_snapshot(sqlite_server) == before


def test_a_runner_key_runs_the_deployments_it_matches_and_only_those(
    sqlite_server: Server,
) -> None:
    world = _world(sqlite_server)
    admin = world["admin"]
    with pytest.raises(ValidationError, match="needs the deployments it may run"):
        admin.create_api_key("r", "runner")
    with pytest.raises(ValidationError, match="only runner keys have deployments"):
        admin.create_api_key("r", "viewer", deployments=["hello/*"])
    with pytest.raises(ValidationError, match="must read FLOW/NAME"):
        admin.create_api_key("r", "runner", deployments=["hello"])
    new = admin.create_api_key("r", "runner", deployments=["hello/a*", "other/*"])
    assert (new.role.value, new.deployments) == ("runner", ["hello/a*", "other/*"])
    runner = sqlite_server.client(new.key)

    made = runner.create_run("hello/a", parameters={"name": "Ada"})
    assert made.created_by == "key:r"
    assert runner.get_run(made.id).state is S.SCHEDULED  # and it reads, as a viewer does
    before = store_snapshot(sqlite_server)
    for attempt, says in [
        (lambda: runner.create_run("hello/b"), "may not run deployment 'hello/b'"),
        (lambda: runner.cancel_run(made.id), "not call cancel_run"),
        (lambda: runner.set_deployment_paused("hello/a", True), "not call set_deployment"),
        (lambda: runner.list_secrets(), "not call list_secrets"),
    ]:
        with pytest.raises(PermissionDeniedError) as refused:
            attempt()
        assert str(refused.value).startswith("API key 'r' is a runner"), str(refused.value)
        assert says in str(refused.value) and "Use an admin key" in str(refused.value)
    assert store_snapshot(sqlite_server) == before


def test_runs_record_who_made_them(
    sqlite_server: Server,
) -> None:
    admin = sqlite_server.client()
    local = sqlite_server.local
    local.create_pool("p", "process")
    deploy_hello(local, "p", "a", interval=3600)
    by_key = admin.create_run("hello/a")
    assert by_key.created_by == "key:test-admin"
    assert local.create_run("hello/a").created_by == f"local:{getpass.getuser()}"
    tick(local.store)
    scheduled = [r for r in local.list_runs() if r.schedule_id is not None]
    assert scheduled and {r.created_by for r in scheduled} == {"scheduler"}

    shown = invoker()("flow-run", "inspect", str(by_key.id))
    assert shown.exit_code == 0 and "key:test-admin" in shown.output, shown.output


def test_a_request_cannot_name_the_creator(sqlite_server: Server) -> None:
    local = sqlite_server.local
    local.create_pool("p", "process")
    deploy_hello(local, "p", "a")
    forged = httpx.post(
        sqlite_server.url + API_PREFIX + "/flow-runs",
        json={"deployment": "hello/a", "created_by": "key:someone-else"},
        headers={"Authorization": f"Bearer {sqlite_server.admin_key}", "Idempotency-Key": "f1"},
        timeout=30,
    )
    assert forged.status_code == 422 and "created_by" in forged.text, forged.text
    assert "key:someone-else" not in {r.created_by for r in local.list_runs(limit=100)}


def test_worker_keys_keep_their_share_and_get_no_viewers_reads(sqlite_server: Server) -> None:
    world = _world(sqlite_server)
    worker = sqlite_server.client(world["admin"].create_api_key("w", "worker", ["p"]).key)
    assert worker.get_run(world["run"].id).id == world["run"].id
    for attempt in (worker.list_deployments, worker.list_pools, lambda: worker.usage()):
        with pytest.raises(PermissionDeniedError, match="worker key for p"):
            attempt()


def test_who_calls_is_told_to_the_function_and_is_no_input() -> None:
    told = {route.name: route for route in CLIENT_ROUTES if route.caller}
    assert set(told) == {"create_run", "create_adhoc_run"}
    for route in told.values():
        assert route.signature is not None and route.caller not in route.signature.parameters
        assert route.caller in inspect.signature(route.function()).parameters


def test_the_cli_makes_viewer_and_runner_keys(sqlite_client: LocalClient) -> None:
    cli = invoker()
    made = cli("api-key", "create", "dash", "--role", "viewer")
    assert made.exit_code == 0 and "viewer API key 'dash' for reading" in made.output
    made = cli("api-key", "create", "bot", "--role", "runner", "--deployment", "reports/*")
    assert made.exit_code == 0, made.output
    assert "runner API key 'bot' for reading and running reports/*" in made.output
    refused = cli("api-key", "create", "bot2", "--role", "runner")
    assert refused.exit_code == 1 and "--deployment 'FLOW/NAME'" in refused.output
    listed = cli("api-key", "ls", "--json")
    keys = {k["name"]: k for k in json.loads(listed.output)}
    assert keys["bot"]["deployments"] == ["reports/*"] and keys["dash"]["role"] == "viewer"

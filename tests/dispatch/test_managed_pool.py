"""Managed pools: nobody starts a worker; the dispatcher inside nborch (here: in this
process, and inside a real `nborch server`) runs each run in a process of its own, reports
it like any worker, and the pool's compute-hours quota refuses runs beyond it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from support.deployments import deploy_hello, deploy_notebook
from support.notebooks import sleeping_notebook
from support.processes import wait_for
from support.workers import final_run, logged

from nborch.api.server import BackgroundServer
from nborch.client import LocalClient
from nborch.client.http import HttpClient
from nborch.dispatch import Dispatcher
from nborch.errors import QuotaExceededError, ValidationError
from nborch.models import PoolStatus, StateType

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


@pytest.fixture
def dispatcher(sqlite_client: LocalClient, fast_settings: None) -> Iterator[Dispatcher]:
    running = Dispatcher(sqlite_client, interval=0.2, poll_interval=0.2, echo=lambda _l: None)
    yield running.start()
    running.stop(grace=5)


def test_a_managed_pool_runs_its_runs_with_no_worker_started(
    sqlite_client: LocalClient, dispatcher: Dispatcher, tmp_path: Path
) -> None:
    client = sqlite_client
    client.create_pool("my-managed-pool", "nborch:managed")
    deploy_hello(client, "my-managed-pool", name="demo", tags=["team-a"])
    wait_for(lambda: client.get_pool("my-managed-pool").status is PoolStatus.READY, 30)
    [worker] = client.list_workers("my-managed-pool")
    assert worker.name.startswith("nborch:managed dispatcher ")

    runs = [client.create_run("hello/demo", parameters={"name": n, "times": 2}) for n in "AB"]
    for run in runs:
        done = final_run(client, run)
        assert done.state is StateType.COMPLETED, done.state_message
        assert done.infrastructure_id and done.infrastructure_id.startswith("pid ")
        assert any("Hello" in line.message for line in client.read_logs(run.id))
        assert client.read_output_notebook(run.id) is not None

    usage = client.usage(pool_name="my-managed-pool")
    assert usage.pools[0].runs == 2 and usage.pools[0].hours > 0
    assert [(t.name, t.runs) for t in usage.tags] == [("team-a", 2)]

    # cancelling one
    slow = deploy_notebook(client, sleeping_notebook(tmp_path / "sleepy.ipynb"), "my-managed-pool")
    run = client.create_run(slow.full_name, parameters={"seconds": 60})
    logged(client, run, "started")
    client.cancel_run(run.id)
    assert final_run(client, run).state is StateType.CANCELLED

    # a deleted pool's worker stops
    client.delete_deployment(slow.full_name)
    client.delete_deployment("hello/demo")
    client.delete_pool("my-managed-pool")
    wait_for(lambda: "my-managed-pool" not in dispatcher.served_pools(), 30)


def test_the_quota_refuses_runs_beyond_it(
    sqlite_client: LocalClient, dispatcher: Dispatcher
) -> None:
    client = sqlite_client
    client.create_pool("small", "nborch:managed", quota_hours=0.0001, quota_period="day")
    deploy_hello(client, "small", name="demo")
    first = client.create_run("hello/demo", parameters={"times": 1})
    assert final_run(client, first).state is StateType.COMPLETED  # > 0.36 s: over the quota
    with pytest.raises(QuotaExceededError, match=r"Work pool 'small' has used 0\.00 of its"):
        client.create_run("hello/demo")


def test_kubernetes_pools_are_refused_with_the_reason(sqlite_client: LocalClient) -> None:
    with pytest.raises(ValidationError, match="no cluster could run where nborch is tested"):
        sqlite_client.create_pool("k8s", "kubernetes")


def test_the_server_runs_managed_pools_itself(
    sqlite_client: LocalClient, fast_settings: None
) -> None:
    key = sqlite_client.create_api_key("admin", "admin").key
    with BackgroundServer(echo=lambda _line: None) as server:
        assert server.server is not None and server.server.dispatcher is not None
        server.server.dispatcher.interval = 0.2
        api = HttpClient(server.url, key)
        api.create_pool("managed", "nborch:managed", quota_hours=5)
        deploy_hello(api, "managed", name="demo")
        run = api.create_run("hello/demo", parameters={"name": "Server"})
        done = final_run(api, run)
        assert done.state is StateType.COMPLETED, done.state_message
        assert any("Hello" in line.message for line in api.read_logs(run.id))
        report = api.usage()
        assert report.pools[0].quota_used_hours is not None
        assert report.pools[0].quota_used_hours > 0

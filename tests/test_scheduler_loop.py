"""The scheduler loop: a scheduler that has not been ticking without a break for a grace
period (it just started, or another process held the lease, or the store was away) leaves
the runs of silent workers alone (they could not send their heartbeats meanwhile); a tick
that stopped at its batch is followed at once by the next, not an interval later."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update
from support.api import Server
from support.deployments import deploy_hello
from support.processes import wait_for

from nborch.client import LocalClient
from nborch.models import FlowRun, StateType
from nborch.orchestration.scheduler import LEASE
from nborch.scheduler_loop import SchedulerLoop, tick_until_done
from nborch.settings import get_settings
from nborch.store.tables import LeaseRow, WorkerRow
from nborch.timeutil import utcnow


def silent_worker_run(client: LocalClient) -> FlowRun:
    """A RUNNING run whose worker's last heartbeat is an hour old."""
    client.create_pool("local", "process")
    deploy_hello(client, "local")
    run = client.create_run("hello/demo")
    worker = client.register_worker("silent", "local")
    (claimed,) = client.claim_runs("local", worker.id, 1)
    client.set_state(claimed.id, StateType.RUNNING)
    with client.store.write() as session:  # its last heartbeat, an hour ago
        session.execute(
            update(WorkerRow)
            .where(WorkerRow.id == str(worker.id))
            .values(last_heartbeat=utcnow() - timedelta(hours=1))
        )
    return run


def test_orphaned_runs_are_crashed_only_after_the_grace(sqlite_client: LocalClient) -> None:
    client = sqlite_client
    run = silent_worker_run(client)
    within_grace = SchedulerLoop(client, "server", interval=0.05, orphan_grace=3600).start()
    try:
        wait_for(lambda: within_grace.last, 30)  # it holds the lease and has ticked
    finally:
        within_grace.stop()
    assert within_grace.last is not None and within_grace.last.crashed == 0
    assert client.get_run(run.id).state is StateType.RUNNING

    after_grace = SchedulerLoop(client, "server", interval=0.05, orphan_grace=0).start()
    try:
        crashed = wait_for(
            lambda: (r := client.get_run(run.id)).state is StateType.CRASHED and r, 30
        )
    finally:
        after_grace.stop()
    assert "silent" in crashed.state_message


def test_the_grace_starts_again_when_the_loop_takes_the_lease(
    sqlite_client: LocalClient,
) -> None:
    """Another scheduler held the lease (it may have been away): this one, taking over,
    first gives the workers a grace of its own."""
    client = sqlite_client
    run = silent_worker_run(client)
    with client.store.write() as session:
        session.add(LeaseRow(name=LEASE, holder="another", expires=utcnow() + timedelta(seconds=3)))
    loop = SchedulerLoop(client, "server", interval=0.05, orphan_grace=2.5).start()
    try:
        first = wait_for(lambda: loop.last, 30)  # once the other's lease ran out
        assert first.crashed == 0, "crashed before a grace of unbroken ticks"
        assert client.get_run(run.id).state is StateType.RUNNING
        wait_for(lambda: client.get_run(run.id).state is StateType.CRASHED, 30)
    finally:
        loop.stop()


def deploy_three(client: LocalClient) -> None:
    client.create_pool("local", "process")
    for name in ("a", "b", "c"):
        deploy_hello(client, "local", name, cron="* * * * *")


def scheduled(client: LocalClient) -> int:
    return len(client.list_runs(states=[StateType.SCHEDULED], limit=1000))


def test_the_loop_ticks_again_at_once_while_schedules_are_left(
    sqlite_client: LocalClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = sqlite_client
    monkeypatch.setattr(get_settings(), "scheduler_batch", 1)  # a tick takes one schedule
    deploy_three(client)
    loop = SchedulerLoop(client, "server", interval=3600).start()  # no second tick by time
    try:
        wait_for(lambda: scheduled(client) == 30, 30)
        wait_for(lambda: loop.last is not None and not loop.last.more, 30)
    finally:
        loop.stop()


def test_a_worker_run_from_cron_makes_every_due_run_over_http(
    sqlite_server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(get_settings(), "scheduler_batch", 1)
    deploy_three(sqlite_server.local)
    tick_until_done(sqlite_server.client(), "cron")
    assert scheduled(sqlite_server.local) == 30

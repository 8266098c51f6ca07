"""The scheduler loop of a server that has just started leaves the runs of silent workers
alone for a grace period: while it was down, they could not send it their heartbeats."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update
from support.deployments import deploy_hello
from support.processes import wait_for

from nborch.client import LocalClient
from nborch.models import StateType
from nborch.scheduler_loop import SchedulerLoop
from nborch.store.tables import WorkerRow
from nborch.timeutil import utcnow


def test_orphaned_runs_are_crashed_only_after_the_grace(sqlite_client: LocalClient) -> None:
    client = sqlite_client
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

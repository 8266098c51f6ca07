"""No waiting for a poll: an idle worker whose poll interval is 30 s starts a run created by
another process at once — woken by the store (SQLite, PostgreSQL) or, as a worker of a
server, answered by its long-polling claim — and a run due a little later at its time.
Each run is created only once the worker has said it is idle (its claim found nothing): a
run that its next claim would have found without a wake-up would prove nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from support.api import Server
from support.deployments import deploy_hello
from support.processes import WorkerProcess, wait_for
from support.workers import final_run

from nborch.client import LocalClient
from nborch.models import FlowRun, StateType
from nborch.timeutil import utcnow

pytestmark = pytest.mark.slow

POLL_INTERVAL = 30.0
PROMPTLY = POLL_INTERVAL / 3  # far more than a wake-up takes, far less than a poll


IDLE = "is waiting for runs."  # what a worker says once its claim found nothing


def idle_worker(workers: list[WorkerProcess], env: dict[str, str] | None = None) -> WorkerProcess:
    """A worker of pool `local` that polls every 30 s, once it says it is idle: its claim
    found nothing and it sleeps (or its long-polling claim waits) until woken."""
    worker = WorkerProcess("--pool", "local", "--poll-interval", str(POLL_INTERVAL), env=env)
    workers.append(worker)
    worker.wait_started(60)
    idle_again(worker, 1)
    return worker


def idle_again(worker: WorkerProcess, times: int) -> None:
    """Once the worker has said `times` times that it is idle."""
    wait_for(lambda: sum(IDLE in line for line in worker.lines) >= times, 60, lambda: worker.output)


def lag_to_running(run: FlowRun) -> float:
    assert run.start_time is not None, run.state
    return (run.start_time - run.scheduled_time).total_seconds()


def test_an_idle_worker_starts_a_new_run_at_once(
    client: LocalClient, workers: list[WorkerProcess]
) -> None:
    client.create_pool("local", "process")
    deploy_hello(client, "local")
    worker = idle_worker(workers)
    run = client.create_run("hello/demo", parameters={"times": 1})
    done = final_run(client, run, timeout=60)
    assert done.state is StateType.COMPLETED, done.state_message
    assert 0 <= lag_to_running(done) < PROMPTLY

    # A run due a little later starts at its time, not at the next poll.
    idle_again(worker, 2)  # asleep again: only a wake-up tells it of the run
    due = utcnow() + timedelta(seconds=3)
    run = client.create_run("hello/demo", scheduled_time=due)
    done = final_run(client, run, timeout=60)
    assert done.state is StateType.COMPLETED, done.state_message
    assert 0 <= lag_to_running(done) < PROMPTLY


# A worker of a server sends a new long-polling claim every 5 s (LONG_POLL_MAX) whatever
# wakes the server, so this one starts its run within PROMPTLY even if nothing woke it: the
# server's wake-up is what tests/api/test_long_poll.py's first test checks.
def test_an_idle_worker_of_a_server_starts_a_new_run_at_once(
    sqlite_server: Server, workers: list[WorkerProcess]
) -> None:
    admin = sqlite_server.client()
    admin.create_pool("local", "process")
    deploy_hello(admin, "local")
    key = admin.create_api_key("box", "worker", ["local"]).key
    idle_worker(workers, env={"NBORCH_API_URL": sqlite_server.url, "NBORCH_API_KEY": key})
    run = admin.create_run("hello/demo", parameters={"times": 1})
    done = final_run(sqlite_server.local, run, timeout=60)
    assert done.state is StateType.COMPLETED, done.state_message
    assert 0 <= lag_to_running(done) < PROMPTLY

"""Run ownership on both back ends: a claim binds a run to one worker of its pool and an
attempt; every write of that attempt is refused once the run has moved on; crash detection
leaves alone the workers of a server that is down or just came back."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update
from support.deployments import deploy_hello

from nborch.client import LocalClient
from nborch.errors import ConflictError, NotFoundError, RunLostError
from nborch.models import StateType as S
from nborch.orchestration import claims, crash_detection, workers
from nborch.settings import get_settings
from nborch.store.tables import WorkerRow
from nborch.timeutil import utcnow


def running_run(client: LocalClient, pool: str, worker_id: uuid.UUID, **deploy: Any) -> Any:
    deploy_hello(client, pool, **deploy)
    client.create_run("hello/demo")
    (run,) = client.claim_runs(pool, worker_id, 1)
    client.set_state(run.id, S.RUNNING, attempt=run.attempt)
    return run


def writes(client: LocalClient, run: Any, attempt: int) -> dict[str, Callable[[], object]]:
    """Every write a worker makes about a run, as `attempt`."""
    return {
        "logs": lambda: client.append_logs(run.id, ["late line"], attempt=attempt),
        "infrastructure": lambda: client.record_infrastructure(run.id, "pid 1", attempt=attempt),
        "source commit": lambda: client.record_source_commit(run.id, "abcdef", attempt=attempt),
        "secrets": lambda: client.resolve_run_secrets(run.id, attempt=attempt),
        "output": lambda: client.write_output_notebook(run.id, {"cells": []}, attempt=attempt),
        "state": lambda: client.set_state(run.id, S.COMPLETED, attempt=attempt),
    }


def test_each_claim_is_a_new_attempt(client: LocalClient, pool: str, worker_id: uuid.UUID) -> None:
    run = running_run(client, pool, worker_id, retries=1)
    assert run.attempt == 1
    client.set_state(run.id, S.FAILED, "boom", attempt=1)  # retried: SCHEDULED again
    (again,) = client.claim_runs(pool, worker_id, 1)
    assert again.id == run.id and again.attempt == 2
    held = client.held_runs(worker_id)
    assert [(h.id, h.attempt, h.state) for h in held] == [(run.id, 2, S.PENDING)]


def test_an_earlier_attempt_writes_nothing(
    client: LocalClient, pool: str, worker_id: uuid.UUID
) -> None:
    run = running_run(client, pool, worker_id, retries=1)
    client.set_state(run.id, S.CRASHED, "its worker went silent")  # retried, not yet claimed
    client.claim_runs(pool, worker_id, 1)  # attempt 2 holds it now
    for what, write in writes(client, run, attempt=1).items():
        with pytest.raises(RunLostError, match="attempt 2 holds it now"):
            write()
        assert client.get_run(run.id).state is S.PENDING, what
    assert client.read_logs(run.id) == []


def test_nothing_is_written_about_an_ended_run(
    client: LocalClient, pool: str, worker_id: uuid.UUID
) -> None:
    run = running_run(client, pool, worker_id)
    client.set_state(run.id, S.COMPLETED, attempt=1)
    for write in writes(client, run, attempt=1).values():
        with pytest.raises(RunLostError, match="is COMPLETED"):
            write()
    assert client.read_logs(run.id) == []
    assert client.get_run(run.id).infrastructure_id is None


def test_the_holding_attempt_writes(client: LocalClient, pool: str, worker_id: uuid.UUID) -> None:
    run = running_run(client, pool, worker_id)
    client.append_logs(run.id, ["hello"], attempt=1)
    client.record_infrastructure(run.id, "pid 42", attempt=1)
    assert client.set_state(run.id, S.COMPLETED, attempt=1).state is S.COMPLETED
    assert [line.message for line in client.read_logs(run.id)] == ["hello"]


def test_a_take_over_ends_the_earlier_attempt(
    client: LocalClient, pool: str, worker_id: uuid.UUID
) -> None:
    run = running_run(client, pool, worker_id)
    rescuer = client.register_worker("rescuer", pool).id
    taken = client.take_over_run(run.id, rescuer, from_worker_id=worker_id)
    assert taken.attempt == 2
    with pytest.raises(RunLostError):
        client.set_state(run.id, S.COMPLETED, attempt=1)
    assert client.set_state(run.id, S.COMPLETED, attempt=2).state is S.COMPLETED


def test_claims_only_for_a_registered_running_worker_of_the_pool(
    client: LocalClient, pool: str, worker_id: uuid.UUID
) -> None:
    deploy_hello(client, pool)
    client.create_run("hello/demo")
    client.create_pool("pool-b", "process")
    other = client.register_worker("b-worker", "pool-b").id
    with pytest.raises(ConflictError, match="serves another work pool than 'pool-a'"):
        client.claim_runs(pool, other, 1)
    with pytest.raises(NotFoundError, match="is not registered"):
        client.claim_runs(pool, uuid.uuid4(), 1)
    client.heartbeat(worker_id, stopped=True)
    with pytest.raises(ConflictError, match="has stopped"):
        client.claim_runs(pool, worker_id, 1)
    assert [r.state for r in client.list_runs()] == [S.SCHEDULED]


# ---- crash detection and the servers workers talk through ----------------------------------


def later(seconds: float) -> Any:
    return utcnow() + timedelta(seconds=seconds)


def test_no_crash_while_the_workers_server_is_down(client: LocalClient, pool: str) -> None:
    timeout = get_settings().worker_timeout
    crash_detection.server_seen(client.store, "host:8750", restarted=True)
    worker = workers.register_worker(client.store, "remote", pool, server="host:8750").id
    run = running_run(client, pool, worker, retries=1)
    # The server's last sign of life is as old as the worker's: it is down, not the worker.
    assert crash_detection.crash_orphaned_runs(client.store, now=later(timeout + 5)) == []
    grace = get_settings().server_outage_grace
    # Down for good: its workers stopped their runs long ago.
    gone = crash_detection.crash_orphaned_runs(client.store, now=later(grace + 5))
    assert gone == [str(run.id)]
    assert "its server 'host:8750' has been down" in client.get_run(run.id).history[-2].message


def test_silence_counts_from_the_servers_restart(client: LocalClient, pool: str) -> None:
    timeout = get_settings().worker_timeout
    crash_detection.server_seen(client.store, "host:8750", restarted=True)
    worker = workers.register_worker(client.store, "remote", pool, server="host:8750").id
    run = running_run(client, pool, worker)
    restart = later(timeout + 20)
    crash_detection.server_seen(client.store, "host:8750", restarted=True, now=restart)
    soon = restart + timedelta(seconds=timeout / 2)
    crash_detection.server_seen(client.store, "host:8750", restarted=False, now=soon)
    assert crash_detection.crash_orphaned_runs(client.store, now=soon) == []
    # Up a whole timeout since, and the worker never came back: its run crashed.
    end = restart + timedelta(seconds=timeout + 1)
    crash_detection.server_seen(client.store, "host:8750", restarted=False, now=end)
    assert crash_detection.crash_orphaned_runs(client.store, now=end) == [str(run.id)]


def test_a_server_that_reached_no_store_for_a_while_counts_as_restarted(
    client: LocalClient, pool: str
) -> None:
    timeout = get_settings().worker_timeout
    crash_detection.server_seen(client.store, "host:8750", restarted=True)
    worker = workers.register_worker(client.store, "remote", pool, server="host:8750").id
    running_run(client, pool, worker)
    back = later(timeout + 20)  # the same process, after the store came back
    crash_detection.server_seen(client.store, "host:8750", restarted=False, now=back)
    assert crash_detection.crash_orphaned_runs(client.store, now=back) == []


def test_workers_of_the_store_crash_as_before(
    client: LocalClient, pool: str, worker_id: uuid.UUID
) -> None:
    run = running_run(client, pool, worker_id)
    timeout = get_settings().worker_timeout
    assert crash_detection.crash_orphaned_runs(client.store) == []
    assert crash_detection.crash_orphaned_runs(client.store, now=later(timeout + 1)) == [
        str(run.id)
    ]


def test_a_claim_is_a_sign_of_life(client: LocalClient, pool: str, worker_id: uuid.UUID) -> None:
    """A worker whose heartbeat is late but who claims lives: its run is not crashed for
    its silence a moment after it took it."""
    deploy_hello(client, pool)
    client.create_run("hello/demo")
    with client.store.write() as session:
        session.execute(
            update(WorkerRow)
            .where(WorkerRow.id == str(worker_id))
            .values(last_heartbeat=utcnow() - timedelta(hours=1))
        )
    (run,) = client.claim_runs(pool, worker_id, 1)
    assert crash_detection.crash_orphaned_runs(client.store) == []
    assert client.get_run(run.id).state is S.PENDING


def test_a_worker_taken_for_silent_comes_back_with_its_runs_end(
    client: LocalClient, pool: str, worker_id: uuid.UUID
) -> None:
    """Cut off, not dead: its run finished meanwhile. Its retry is held for it, and its
    late report replaces the verdict, so the run is executed once."""
    run = running_run(client, pool, worker_id, retries=2)
    timeout = get_settings().worker_timeout
    assert crash_detection.crash_orphaned_runs(client.store, now=later(timeout + 1)) == [
        str(run.id)
    ]
    assert client.get_run(run.id).state is S.SCHEDULED
    client.append_logs(run.id, ["its last line"], attempt=1)
    done = client.set_state(run.id, S.COMPLETED, "all good", attempt=1)
    assert (done.state, done.run_count, done.attempt) == (S.COMPLETED, 1, 1)
    assert [h.type for h in done.history][-3:] == [S.CRASHED, S.SCHEDULED, S.COMPLETED]
    assert client.claim_runs(pool, worker_id, 1) == []  # no retry left to run


def test_once_the_retry_is_claimed_the_silent_worker_has_no_word(
    client: LocalClient, pool: str, worker_id: uuid.UUID
) -> None:
    run = running_run(client, pool, worker_id, retries=2)
    timeout = get_settings().worker_timeout
    crash_detection.crash_orphaned_runs(client.store, now=later(timeout + 1))
    rescuer = workers.register_worker(client.store, "rescuer", pool).id
    hold = crash_detection.SILENCE_HOLD_TIMEOUTS * timeout
    (retry,) = claims.claim_runs(client.store, pool, rescuer, 1, now=later(timeout + hold + 2))
    assert retry.attempt == 2
    with pytest.raises(RunLostError):
        client.set_state(run.id, S.COMPLETED, attempt=1)
    assert client.get_run(run.id).state is S.PENDING

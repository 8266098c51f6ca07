"""Taking over a run whose worker is gone (docker reconciliation), on both back ends."""

from __future__ import annotations

import uuid

import pytest
from support.deployments import deploy_hello

from nborch.client import LocalClient
from nborch.errors import ConflictError
from nborch.models import StateType as S


def test_exactly_one_worker_takes_over_a_running_run(
    client: LocalClient, pool: str, worker_id: uuid.UUID
) -> None:
    deploy_hello(client, pool)
    run = client.create_run("hello/demo")
    client.claim_runs(pool, worker_id, 1)
    client.set_state(run.id, S.RUNNING)
    first = client.register_worker("first-taker", pool).id
    second = client.register_worker("second-taker", pool).id

    taken = client.take_over_run(run.id, first, from_worker_id=worker_id)
    assert taken.worker_id == first and taken.worker_name == "first-taker"
    assert taken.state is S.RUNNING
    with pytest.raises(ConflictError, match="cannot be taken over"):
        client.take_over_run(run.id, second, from_worker_id=worker_id)
    assert client.get_run(run.id).worker_id == first
    # The new holder reports its end as any worker does; the history has no extra state.
    client.set_state(run.id, S.COMPLETED)
    assert [h.type for h in client.get_run(run.id).history] == [
        S.SCHEDULED,
        S.PENDING,
        S.RUNNING,
        S.COMPLETED,
    ]


def test_a_run_that_ended_or_waits_is_not_taken_over(
    client: LocalClient, pool: str, worker_id: uuid.UUID
) -> None:
    deploy_hello(client, pool)
    waiting = client.create_run("hello/demo")
    with pytest.raises(ConflictError, match="is SCHEDULED"):
        client.take_over_run(waiting.id, worker_id, from_worker_id=None)
    client.claim_runs(pool, worker_id, 1)
    client.set_state(waiting.id, S.RUNNING)
    client.set_state(waiting.id, S.CRASHED, "worker gone")
    taker = client.register_worker("taker", pool).id
    with pytest.raises(ConflictError, match="is CRASHED"):
        client.take_over_run(waiting.id, taker, from_worker_id=worker_id)
    assert client.get_run(waiting.id).worker_id == worker_id

"""When a request is carried out but its answer is lost, the client sends it again: a claim
still hands its runs to the worker, and a state change is not refused as a conflict."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlparse

import pytest
from support.api import Server
from support.deployments import deploy_hello
from support.lossy_relay import LossyRelay

from nborch.client.http import HttpClient
from nborch.models import FlowRun
from nborch.models import StateType as S


@pytest.fixture
def relay(sqlite_server: Server) -> Iterator[LossyRelay]:
    relay = LossyRelay(urlparse(sqlite_server.url).port or 0)
    yield relay
    relay.close()


@dataclass
class Setup:
    run: FlowRun
    worker: HttpClient  # talks through the relay
    worker_id: uuid.UUID


@pytest.fixture
def waiting_run(sqlite_server: Server, relay: LossyRelay) -> Setup:
    admin = sqlite_server.client()
    admin.create_pool("etl", "process")
    deploy_hello(admin, "etl")
    run = admin.create_run("hello/demo")
    worker = HttpClient(relay.url, sqlite_server.admin_key, retry_for=10)
    return Setup(run, worker, worker.register_worker("w", "etl").id)


def test_a_claim_whose_answer_was_lost_still_hands_over_its_runs(
    sqlite_server: Server, relay: LossyRelay, waiting_run: Setup
) -> None:
    relay.lose_answer_to(b"POST /api/v1/work-pools/etl/claims")
    claimed = waiting_run.worker.claim_runs("etl", waiting_run.worker_id, 5)

    assert [r.id for r in claimed] == [waiting_run.run.id]
    stored = sqlite_server.local.get_run(waiting_run.run.id)
    assert stored.worker_id == waiting_run.worker_id
    assert [h.type for h in stored.history] == [S.SCHEDULED, S.PENDING]


def test_a_state_change_whose_answer_was_lost_is_not_refused_when_sent_again(
    sqlite_server: Server, relay: LossyRelay, waiting_run: Setup
) -> None:
    worker, run = waiting_run.worker, waiting_run.run
    worker.claim_runs("etl", waiting_run.worker_id, 1)
    worker.set_state(run.id, S.RUNNING)

    relay.lose_answer_to(f"POST /api/v1/flow-runs/{run.id}/state".encode())
    done = worker.set_state(run.id, S.COMPLETED)

    assert done.state is S.COMPLETED
    history = [h.type for h in sqlite_server.local.get_run(run.id).history]
    assert history == [S.SCHEDULED, S.PENDING, S.RUNNING, S.COMPLETED]

"""When a request is carried out but its answer is lost, the client sends it again: a claim
still hands its runs to the worker, a state change is not refused as a conflict, and a
request that is not idempotent by itself (a new run, log lines, a new worker) is carried out
once, its copy answered from the first (the Idempotency-Key header)."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlparse

import httpx
import pytest
from support.api import Server
from support.deployments import deploy_hello
from support.lossy_relay import LossyRelay

from nborch.client.http import HttpClient
from nborch.client.routes import API_PREFIX, IDEMPOTENCY_HEADER
from nborch.models import FlowRun
from nborch.models import StateType as S
from nborch.orchestration import request_keys


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


def test_a_new_run_whose_answer_was_lost_is_made_once(
    sqlite_server: Server, relay: LossyRelay, waiting_run: Setup
) -> None:
    admin = HttpClient(relay.url, sqlite_server.admin_key, retry_for=10)
    relay.lose_answer_to(b"POST /api/v1/flow-runs ")
    run = admin.create_run("hello/demo", parameters={"name": "Once"})

    runs = sqlite_server.local.list_runs(deployment="hello/demo")
    assert sorted(r.id for r in runs) == sorted([waiting_run.run.id, run.id])
    assert sqlite_server.local.get_run(run.id).parameters["name"] == "Once"


def test_log_lines_whose_answer_was_lost_are_stored_once(
    sqlite_server: Server, relay: LossyRelay, waiting_run: Setup
) -> None:
    worker, run = waiting_run.worker, waiting_run.run
    worker.claim_runs("etl", waiting_run.worker_id, 1)
    worker.append_logs(run.id, ["one", "two"])

    relay.lose_answer_to(f"POST /api/v1/flow-runs/{run.id}/logs".encode())
    worker.append_logs(run.id, ["three", "four"])
    worker.append_logs(run.id, ["three", "four"])  # a new batch with the same lines: kept

    lines = [line.message for line in sqlite_server.local.read_logs(run.id)]
    assert lines == ["one", "two", "three", "four", "three", "four"]


def test_a_worker_registered_twice_by_a_lost_answer_is_one_worker(
    sqlite_server: Server, relay: LossyRelay, waiting_run: Setup
) -> None:
    relay.lose_answer_to(b"POST /api/v1/workers ")
    again = waiting_run.worker.register_worker("second", "etl")

    workers = sqlite_server.local.list_workers(pool_name="etl")
    assert sorted(w.name for w in workers) == ["second", "w"]
    assert again.id in {w.id for w in workers}


def _post_run(
    server: Server, key: str, name: str, deployment: str = "hello/demo"
) -> httpx.Response:
    return httpx.post(
        f"{server.url}{API_PREFIX}/flow-runs",
        json={"deployment": deployment, "parameters": {"name": name}},
        headers={"Authorization": f"Bearer {server.admin_key}", IDEMPOTENCY_HEADER: key},
        timeout=60,
    )


def test_a_copy_gets_the_first_answer_and_a_reused_key_is_refused(
    sqlite_server: Server, waiting_run: Setup
) -> None:
    first = _post_run(sqlite_server, "key-1", "Ada")
    copy = _post_run(sqlite_server, "key-1", "Ada")
    assert first.status_code == copy.status_code == 201
    assert copy.json()["id"] == first.json()["id"]

    other = _post_run(sqlite_server, "key-1", "Grace")  # the same key, another request
    assert other.status_code == 422
    assert "Idempotency-Key was sent with another request" in other.json()["error"]["message"]

    bad = _post_run(sqlite_server, "no spaces please", "Ada")
    assert bad.status_code == 422 and "is not a key" in bad.json()["error"]["message"]
    names = [r.parameters.get("name") for r in sqlite_server.local.list_runs()]
    assert sorted(n for n in names if n) == ["Ada"]


def test_a_failed_request_leaves_its_key_free_for_its_copy(
    sqlite_server: Server, waiting_run: Setup
) -> None:
    refused = _post_run(sqlite_server, "key-2", "Later", "hello/later")
    assert refused.status_code == 404, refused.text

    deploy_hello(sqlite_server.local, "etl", "later")
    again = _post_run(sqlite_server, "key-2", "Later", "hello/later")
    assert again.status_code == 201, again.text


def test_a_copy_waits_for_the_answer_of_the_first_request_still_at_work(
    sqlite_server: Server, waiting_run: Setup
) -> None:
    # The first request, as the server holds it while carrying it out: reserved, unanswered.
    key, store = "key-3", sqlite_server.local.store
    body = b'{"deployment": "hello/demo", "parameters": {"name": "Slow"}}'
    request = request_keys.fingerprint("POST", "/flow-runs", repr([]) + repr({}), body)
    assert request_keys.reserve(store, f"key:test-admin:{key}", request) is None

    answers: list[httpx.Response] = []
    copy = threading.Thread(
        target=lambda: answers.append(
            httpx.post(
                f"{sqlite_server.url}{API_PREFIX}/flow-runs",
                content=body,
                headers={
                    "Authorization": f"Bearer {sqlite_server.admin_key}",
                    IDEMPOTENCY_HEADER: key,
                },
                timeout=60,
            )
        )
    )
    copy.start()
    copy.join(1.0)
    assert copy.is_alive(), "the copy did not wait for the first request's answer"

    made = b'{"answer": "the first one"}'
    request_keys.record(
        store, f"key:test-admin:{key}", request_keys.Answer(201, "application/json", made)
    )
    copy.join(30)
    assert answers[0].status_code == 201 and answers[0].content == made
    # the copy made no run of its own: there is just the one from the fixture
    assert [r.id for r in sqlite_server.local.list_runs()] == [waiting_run.run.id]

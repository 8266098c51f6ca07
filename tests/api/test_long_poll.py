"""The long-polling claim: `POST /work-pools/{pool}/claims` with `wait` answers as soon as a
run can be claimed, or with nothing when the wait is over; many requests waiting at once
hold none of the server's threads, so it answers everything else meanwhile."""

from __future__ import annotations

import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import httpx
import pytest
from support.api import Server
from support.deployments import deploy_hello

from nborch.client.http import HttpClient
from nborch.client.routes import API_PREFIX, MAX_CLAIM_WAIT
from nborch.timeutil import utcnow

WITHIN = 10.0  # seconds: far beyond an answer's time, far below the waits asked for


@pytest.fixture
def pool(server: Server) -> tuple[Server, HttpClient, uuid.UUID]:
    admin = server.client()
    admin.create_pool("etl", "process")
    deploy_hello(admin, "etl")
    key = admin.create_api_key("box", "worker", ["etl"]).key
    return server, server.client(key), admin.register_worker("w", "etl").id


def test_a_waiting_claim_gets_a_run_as_soon_as_it_is_made(
    pool: tuple[Server, HttpClient, uuid.UUID],
) -> None:
    server, worker, worker_id = pool
    later = threading.Timer(1.0, lambda: server.local.create_run("hello/demo"))
    later.start()
    started = time.monotonic()
    claimed = worker.claim_runs("etl", worker_id, 1, wait=MAX_CLAIM_WAIT)
    assert len(claimed) == 1 and time.monotonic() - started < WITHIN
    later.join()


def test_a_waiting_claim_ends_empty_when_nothing_comes_or_at_the_next_runs_time(
    pool: tuple[Server, HttpClient, uuid.UUID],
) -> None:
    server, worker, worker_id = pool
    started = time.monotonic()
    assert worker.claim_runs("etl", worker_id, 1, wait=1.0) == []
    assert 0.9 <= time.monotonic() - started < WITHIN
    # A run due in 2 s: the claim waiting 30 s gets it at its time.
    server.local.create_run("hello/demo", scheduled_time=utcnow() + timedelta(seconds=2))
    started = time.monotonic()
    claimed = worker.claim_runs("etl", worker_id, 1, wait=MAX_CLAIM_WAIT)
    assert len(claimed) == 1 and 1.5 <= time.monotonic() - started < WITHIN


def test_waiting_claims_hold_no_thread_of_the_server(
    pool: tuple[Server, HttpClient, uuid.UUID],
) -> None:
    """More claims wait at once than the server has threads; it answers the rest at once."""
    server, worker, worker_id = pool
    waiting = 24  # the server's pool has 16 threads
    with ThreadPoolExecutor(waiting) as executor:
        claims = [
            executor.submit(worker.claim_runs, "etl", worker_id, 1, wait=5.0)
            for _ in range(waiting)
        ]
        time.sleep(1.0)
        started = time.monotonic()
        assert worker.get_pool("etl").name == "etl"
        assert time.monotonic() - started < 2.0
        server.local.create_run("hello/demo")
        got = [run for claim in claims for run in claim.result(timeout=60)]
    assert len(got) == 1  # one run, claimed once


def test_a_wait_beyond_the_limit_is_refused(pool: tuple[Server, HttpClient, uuid.UUID]) -> None:
    server, _worker, worker_id = pool
    answer = httpx.post(
        f"{server.url}{API_PREFIX}/work-pools/etl/claims",
        json={"worker_id": str(worker_id), "limit": 1, "wait": MAX_CLAIM_WAIT + 1},
        headers={"Authorization": f"Bearer {server.admin_key}"},
    )
    assert answer.status_code == 422 and "wait" in answer.json()["error"]["message"]

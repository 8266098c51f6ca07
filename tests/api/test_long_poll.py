"""The long-polling claim: `POST /work-pools/{pool}/claims` with `wait` answers as soon as a
run can be claimed, or with nothing when the wait is over; many requests waiting at once
hold none of the server's threads, so it answers everything else meanwhile."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from urllib.parse import urlsplit

import httpx
import psutil
import pytest
from support.api import Server
from support.deployments import deploy_hello
from support.processes import wait_for

from nborch.client.http import HttpClient
from nborch.client.routes import API_PREFIX, MAX_CLAIM_WAIT
from nborch.timeutil import utcnow

WITHIN = 10.0  # seconds: far beyond an answer's time, far below the waits asked for
HELD = 20.0  # seconds a claim waits when nothing comes: longer than WITHIN


@pytest.fixture
def pool(server: Server) -> tuple[Server, HttpClient, uuid.UUID]:
    admin = server.client()
    admin.create_pool("etl", "process")
    deploy_hello(admin, "etl")
    key = admin.create_api_key("box", "worker", ["etl"]).key
    return server, server.client(key), admin.register_worker("w", "etl").id


def held_by_server(server: Server) -> set[int]:
    """The client ports of the connections the server (on a thread of this process) has
    accepted and holds open."""
    port = urlsplit(server.url).port
    return {
        c.raddr.port
        for c in psutil.Process().net_connections("tcp")
        if c.laddr and c.laddr.port == port and c.raddr and c.status == psutil.CONN_ESTABLISHED
    }


def when_waiting(server: Server, count: int, then: Callable[[], object]) -> threading.Thread:
    """`then()` on a thread, once `count` new connections are held by the server (the
    claims sent on them are then waiting there)."""
    before = held_by_server(server)

    def go() -> None:
        wait_for(lambda: len(held_by_server(server) - before) >= count, 60)
        then()

    thread = threading.Thread(target=go, daemon=True)
    thread.start()
    return thread


def test_a_waiting_claim_gets_a_run_as_soon_as_it_is_made(
    pool: tuple[Server, HttpClient, uuid.UUID],
) -> None:
    server, worker, worker_id = pool
    later = when_waiting(server, 1, lambda: server.local.create_run("hello/demo"))
    started = time.monotonic()
    claimed = worker.claim_runs("etl", worker_id, 1, wait=MAX_CLAIM_WAIT)
    # Answered by the wake-up, not at the end of its wait (30 s).
    assert len(claimed) == 1 and time.monotonic() - started < MAX_CLAIM_WAIT / 2
    later.join()


def test_a_waiting_claim_ends_empty_when_nothing_comes_or_at_the_next_runs_time(
    pool: tuple[Server, HttpClient, uuid.UUID],
) -> None:
    server, worker, worker_id = pool
    started = time.monotonic()
    assert worker.claim_runs("etl", worker_id, 1, wait=1.0) == []
    assert 0.9 <= time.monotonic() - started < WITHIN
    # A run due in 2 s: the claim waiting 30 s gets it at its time.
    due = utcnow() + timedelta(seconds=2)
    server.local.create_run("hello/demo", scheduled_time=due)
    started = time.monotonic()
    claimed = worker.claim_runs("etl", worker_id, 1, wait=MAX_CLAIM_WAIT)
    assert len(claimed) == 1 and utcnow() >= due and time.monotonic() - started < WITHIN


def test_waiting_claims_hold_no_thread_of_the_server(
    pool: tuple[Server, HttpClient, uuid.UUID],
) -> None:
    """More claims wait at once than the server has threads; it answers the rest meanwhile."""
    server, worker, worker_id = pool
    waiting = 24  # the server's pool has 16 threads
    arrived = when_waiting(server, waiting, lambda: None)
    with ThreadPoolExecutor(waiting) as executor:
        claims = [
            executor.submit(worker.claim_runs, "etl", worker_id, 1, wait=HELD)
            for _ in range(waiting)
        ]
        arrived.join()
        started = time.monotonic()
        assert worker.get_pool("etl").name == "etl"
        assert time.monotonic() - started < WITHIN
        assert not any(claim.done() for claim in claims)  # answered while they all waited
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

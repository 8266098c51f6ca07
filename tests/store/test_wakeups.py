"""Wake-ups on each back end: whoever watches a pool hears at once of a run created, released
or rescheduled in it (and of a pool resumed), from any process; a rolled-back change wakes
nobody, other pools' work wakes nobody, and a watcher that went away is forgotten."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from support.deployments import deploy_hello
from support.processes import wait_for
from support.threads import blocked_in

from nborch.client import LocalClient
from nborch.models import StateType
from nborch.store.wakeups import FifoWakeups, wake_pool

WITHIN = 10.0  # seconds: far beyond any wake-up, far below a poll interval worth having


class Counter:
    def __init__(self) -> None:
        self.count = 0
        self.event = threading.Event()

    def __call__(self) -> None:
        self.count += 1
        self.event.set()

    def woken(self, timeout: float = WITHIN) -> bool:
        found = self.event.wait(timeout)
        self.event.clear()
        return found


@pytest.fixture
def pools(client: LocalClient) -> LocalClient:
    client.create_pool("etl", "process")
    client.create_pool("other", "process")
    deploy_hello(client, "etl")
    return client


def test_a_new_run_wakes_its_pools_watchers_and_no_other(pools: LocalClient) -> None:
    client = pools
    mine, theirs = Counter(), Counter()
    watches = [client.watch_pool("etl", mine), client.watch_pool("other", theirs)]
    assert all(watches)
    try:
        run = client.create_run("hello/demo")
        assert mine.woken()
        assert not theirs.woken(0.5)
        # Released by its worker (e.g. shutting down): back in the pool, wakes again.
        worker = client.register_worker("w", "etl").id
        [claimed] = client.claim_runs("etl", worker, 1)
        assert claimed.id == run.id
        client.set_state(run.id, StateType.SCHEDULED, "released")
        assert mine.woken()
        # A paused pool resumed: its waiting runs may start now.
        client.update_pool("etl", paused=True)
        client.update_pool("etl", paused=False)
        assert mine.woken()
    finally:
        for watch in watches:
            assert watch is not None
            watch.close()
    count = mine.count
    client.create_run("hello/demo")
    time.sleep(0.5)
    assert mine.count == count  # closed: no more calls


def test_a_rolled_back_change_wakes_nobody(pools: LocalClient) -> None:
    client = pools
    heard = Counter()
    pool_id = str(client.get_pool("etl").id)
    watch = client.watch_pool("etl", heard)
    assert watch is not None
    try:
        with pytest.raises(RuntimeError), client.store.write() as session:
            wake_pool(session, pool_id)
            raise RuntimeError("changed my mind")
        assert not heard.woken(1.0)
        with client.store.write() as session:
            wake_pool(session, pool_id)
        assert heard.woken()
    finally:
        watch.close()


def test_a_run_made_by_another_process_wakes_this_one(
    pools: LocalClient, database_url: str
) -> None:
    """The wake-up crosses processes: a store opened afresh (as another process opens it)
    creates the run."""
    client = pools
    heard = Counter()
    watch = client.watch_pool("etl", heard)
    assert watch is not None
    try:
        code = "from nborch.client import LocalClient; LocalClient().create_run('hello/demo')"
        done = subprocess.run(
            [sys.executable, "-c", code],
            env={**os.environ, "NBORCH_DATABASE_URL": database_url},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        assert heard.woken()
    finally:
        watch.close()


def test_a_long_poll_claim_answers_when_a_run_comes(pools: LocalClient) -> None:
    client = pools
    worker = client.register_worker("w", "etl").id
    started = time.monotonic()
    assert client.claim_runs("etl", worker, 1, wait=0.5) == []  # nothing comes: the wait ends
    assert 0.4 <= time.monotonic() - started < WITHIN
    claiming = threading.current_thread()

    def once_it_waits() -> None:  # a run made then is found by a wake-up, nothing else
        wait_for(lambda: blocked_in(claiming, "claim_waiting", "claims.py"), 60)
        client.create_run("hello/demo")

    later = threading.Thread(target=once_it_waits, daemon=True)
    later.start()
    started = time.monotonic()
    claimed = client.claim_runs("etl", worker, 1, wait=30)
    assert len(claimed) == 1 and time.monotonic() - started < WITHIN
    later.join()


def test_a_watcher_that_died_is_forgotten(tmp_path: Path) -> None:
    """SQLite's wake-ups are named pipes: one nobody reads any more (its process died) is
    removed by the next wake-up of its pool."""
    wakeups = FifoWakeups(tmp_path / "wake")
    folder = tmp_path / "wake" / "pool-1"
    folder.mkdir(parents=True)
    orphan = folder / "12345-dead"
    os.mkfifo(orphan)
    heard = Counter()
    watch = wakeups.watch("pool-1", heard)
    try:
        wakeups.ping(["pool-1"])
        assert heard.woken()
        assert not orphan.exists()
    finally:
        watch.close()
        wakeups.close()
    assert list(folder.iterdir()) == []  # a closed watch leaves nothing behind

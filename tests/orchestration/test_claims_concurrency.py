"""No run is ever claimed twice: 8 worker processes race for a few hundred runs."""

from __future__ import annotations

import multiprocessing
import uuid
from collections import Counter

import pytest
from support.deployments import deploy_hello

from nborch.client import LocalClient
from nborch.models import StateType
from nborch.store.engine import open_store

RUNS = 300
WORKERS = 8


def _work(
    url: str, pool: str, limit_per_claim: int, results: multiprocessing.Queue[list[str]]
) -> None:
    client = LocalClient(open_store(url))
    worker = client.register_worker(f"racer-{uuid.uuid4()}", pool)
    done: list[str] = []
    misses = 0
    while misses < 3:
        claimed = client.claim_runs(pool, worker.id, limit_per_claim)
        if not claimed:
            misses += 1
            continue
        misses = 0
        for run in claimed:
            client.set_state(run.id, StateType.RUNNING)
            client.set_state(run.id, StateType.COMPLETED)
            done.append(str(run.id))
    results.put(done)


@pytest.mark.slow
def test_each_run_is_claimed_and_executed_exactly_once(
    client: LocalClient, database_url: str
) -> None:
    client.create_pool("race", "process")
    deploy_hello(client, "race")
    created = {str(client.create_run("hello/demo").id) for _ in range(RUNS)}
    context = multiprocessing.get_context("spawn")
    results: multiprocessing.Queue[list[str]] = context.Queue()
    processes = [
        context.Process(target=_work, args=(database_url, "race", 1 + i % 3, results))
        for i in range(WORKERS)
    ]
    for process in processes:
        process.start()
    per_worker = [results.get(timeout=240) for _ in processes]
    for process in processes:
        process.join(timeout=30)
        assert process.exitcode == 0
    executed = Counter(run_id for done in per_worker for run_id in done)
    assert set(executed) == created
    assert max(executed.values()) == 1
    assert sum(1 for done in per_worker if done) > 1  # the work really was shared
    for run in client.list_runs(limit=RUNS):
        kinds = [h.type for h in client.get_run(run.id).history]
        assert kinds.count(StateType.PENDING) == 1 and kinds[-1] is StateType.COMPLETED

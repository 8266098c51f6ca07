"""No run is ever claimed twice: 8 worker processes, released together by a barrier, race
for a few hundred runs.

On PostgreSQL the claim is what keeps it so (the pool row locked, a run taken only while
it still waits): a claim made non-atomic on purpose fails here within seconds. On SQLite,
write transactions are serial, so the same broken claim still passes there: the SQLite
variant shows that serialisation, not the claim's own care, is what makes it safe."""

from __future__ import annotations

import multiprocessing
import queue
import time
import traceback
import uuid
from collections import Counter
from multiprocessing.synchronize import Barrier
from typing import Any

import pytest
from support.deployments import deploy_hello

from nborch.client import LocalClient
from nborch.models import StateType
from nborch.store.engine import open_store

RUNS = 300
WORKERS = 8
DEADLINE = 120.0  # seconds: bounds a failure only; the race takes a few


def _work(url: str, pool: str, limit: int, go: Barrier, results: Any) -> None:
    """Claim and finish runs until three claims in a row get none; put back ("ok", claimed)
    or ("error", claimed, traceback): a worker's exception is the test's failure."""
    claimed: list[str] = []
    try:
        client = LocalClient(open_store(url))
        worker = client.register_worker(f"racer-{uuid.uuid4()}", pool)
        go.wait(timeout=60)  # every racer is connected and registered: all go at once
        misses = 0
        while misses < 3:
            runs = client.claim_runs(pool, worker.id, limit)
            misses = 0 if runs else misses + 1
            claimed.extend(str(run.id) for run in runs)
            for run in runs:
                client.set_state(run.id, StateType.RUNNING)
                client.set_state(run.id, StateType.COMPLETED)
        results.put(("ok", claimed, ""))
    except BaseException:
        results.put(("error", claimed, traceback.format_exc()))


@pytest.mark.slow
def test_each_run_is_claimed_and_executed_exactly_once(
    client: LocalClient, database_url: str
) -> None:
    client.create_pool("race", "process")
    deploy_hello(client, "race")
    created = {str(client.create_run("hello/demo").id) for _ in range(RUNS)}
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    go = context.Barrier(WORKERS)
    processes = [
        context.Process(target=_work, args=(database_url, "race", 1 + i % 3, go, results))
        for i in range(WORKERS)
    ]
    for process in processes:
        process.start()
    answers: list[tuple[str, list[str], str]] = []
    deadline = time.monotonic() + DEADLINE
    while len(answers) < WORKERS:
        try:
            answers.append(results.get(timeout=0.5))
        except queue.Empty:
            silent = [p.exitcode for p in processes if p.exitcode not in (None, 0)]
            assert not silent, f"a racer died without a word: exit codes {silent}"
            assert time.monotonic() < deadline, f"{len(answers)} of {WORKERS} racers done"
    for process in processes:
        process.join(timeout=30)

    claims = Counter(run_id for _, claimed, _ in answers for run_id in claimed)
    twice = {run_id: n for run_id, n in claims.items() if n > 1}
    assert not twice, f"{len(twice)} runs claimed more than once: {sorted(twice.items())[:5]}"
    errors = [trace for outcome, _, trace in answers if outcome == "error"]
    assert not errors, f"{len(errors)} racers failed; the first:\n{errors[0]}"
    assert set(claims) == created
    sharing = sum(1 for _, claimed, _ in answers if claimed)
    assert sharing >= WORKERS * 3 // 4, f"only {sharing} of {WORKERS} racers claimed a run"
    for run in client.list_runs(limit=RUNS):
        kinds = [h.type for h in client.get_run(run.id).history]
        assert kinds.count(StateType.PENDING) == 1 and kinds[-1] is StateType.COMPLETED

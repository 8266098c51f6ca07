"""Handing due runs to workers: atomically, each to one worker, within the pool's, queue's
and deployment's concurrency limits; and when a pool's next run is due."""

from __future__ import annotations

import heapq
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from itertools import groupby
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from nborch.errors import ConflictError, NotFoundError
from nborch.models import FlowRun, Watch
from nborch.models import StateType as S
from nborch.orchestration.lookup import pool_by_name
from nborch.orchestration.quotas import is_over_quota
from nborch.orchestration.runs import ACTIVE, WAITING, load_runs
from nborch.store.engine import Store
from nborch.store.tables import (
    DeploymentRow,
    FlowRunRow,
    FlowRunStateRow,
    WorkerRow,
    WorkPoolRow,
    WorkQueueRow,
)
from nborch.timeutil import utcnow


def claim_runs(
    store: Store,
    pool_name: str,
    worker_id: uuid.UUID,
    limit: int,
    *,
    now: datetime | None = None,
    lookahead: float = 0.0,
) -> list[FlowRun]:
    """Hand up to `limit` due runs of the pool to the worker, each to exactly one worker.

    Claims of one pool are serialised (the pool row is locked on PostgreSQL; SQLite's
    write transactions are serial), so pool, queue and deployment limits hold exactly.
    `lookahead` also hands out runs due that many seconds from now, for workers that
    prepare a run early.
    """
    now = now or utcnow()
    if limit <= 0:
        return []
    with store.write() as session:
        pool = pool_by_name(session, pool_name, for_update=True)
        _check_worker(session, worker_id, pool, now)
        if pool.paused or is_over_quota(session, pool, now):
            return []  # a pool over its compute-hours quota starts nothing until it resets
        held = session.execute(
            select(FlowRunRow.queue_id, FlowRunRow.deployment_id).where(
                FlowRunRow.pool_id == pool.id, FlowRunRow.state.in_(ACTIVE)
            )
        ).all()
        by_queue = Counter(q for q, _ in held)
        by_deployment = Counter(d for _, d in held)
        budget = limit
        if pool.concurrency_limit is not None:
            budget = min(budget, pool.concurrency_limit - len(held))
        if budget <= 0:
            return []
        until = now + timedelta(seconds=lookahead)
        claimed: list[str] = []
        for row, queue_limit, deployment_limit in _due_in_order(session, pool.id, until, budget):
            if len(claimed) >= budget:
                break
            if queue_limit is not None and by_queue[row.queue_id] >= queue_limit:
                continue
            if (
                deployment_limit is not None
                and by_deployment[row.deployment_id] >= deployment_limit
            ):
                continue
            result: Any = session.execute(
                update(FlowRunRow)
                .where(FlowRunRow.id == row.id, FlowRunRow.state.in_(WAITING))
                .values(
                    state=S.PENDING.value,
                    state_message="",
                    worker_id=str(worker_id),
                    attempt=FlowRunRow.attempt + 1,  # the writes of earlier claims end here
                )
            )
            taken = result.rowcount
            if taken != 1:
                continue
            session.add(
                FlowRunStateRow(run_id=row.id, type=S.PENDING.value, message="", timestamp=now)
            )
            by_queue[row.queue_id] += 1
            by_deployment[row.deployment_id] += 1
            claimed.append(row.id)
        session.flush()
        session.expire_all()
        return load_runs(session, claimed, with_history=False)


def _check_worker(session: Session, worker_id: uuid.UUID, pool: WorkPoolRow, now: datetime) -> None:
    """Runs go only to a registered, running worker of the pool that hands them out; its
    claim is a sign of life (or a run it takes could be crashed for its silence at once)."""
    worker = session.get(WorkerRow, str(worker_id))
    if worker is None:
        raise NotFoundError(
            f"Worker '{worker_id}' is not registered, so it may claim no run of work pool "
            f"'{pool.name}'. A worker registers when it starts: nborch worker start --pool "
            f"{pool.name}"
        )
    if worker.pool_id != pool.id:
        raise ConflictError(
            f"Worker '{worker.name}' serves another work pool than '{pool.name}': it may claim "
            f"only its own pool's runs. Start a worker of this pool: nborch worker start "
            f"--pool {pool.name}"
        )
    if worker.stopped:
        raise ConflictError(
            f"Worker '{worker.name}' has stopped: it may claim no more runs. Start it again."
        )
    worker.last_heartbeat = max(worker.last_heartbeat, now)


def _due_in_order(
    session: Session, pool_id: str, until: datetime, budget: int
) -> Iterator[tuple[FlowRunRow, int | None, int | None]]:
    """The pool's runs due by `until`, in the order they are served: queue by queue in
    priority order (queues of one priority together), each by time;
    runs whose queue is gone come last. Paused queues and deployments are left out. Each
    with its queue's and deployment's concurrency limits.

    A few runs per queue and waiting state, each read in the order of the index on (pool,
    state, time): a claim costs the same with 10,000 runs due as with ten (ordering them
    all by their queue's priority in one query took 110 ms on PostgreSQL with 10,000)."""
    wanted = budget * 4 + 20  # runs over a queue's or deployment's limit are skipped
    queues = session.execute(
        select(WorkQueueRow.id, WorkQueueRow.priority, WorkQueueRow.concurrency_limit).where(
            WorkQueueRow.pool_id == pool_id, ~WorkQueueRow.paused
        )
    ).all()
    by_priority = groupby(sorted(queues, key=lambda q: q.priority), key=lambda q: q.priority)
    tiers: list[list[tuple[str | None, int | None]]] = [
        [(q.id, q.concurrency_limit) for q in tier] for _, tier in by_priority
    ]
    tiers.append([(None, None)])  # runs whose queue was deleted
    for tier in tiers:
        streams = [
            [
                (run, queue_limit, deployment_limit)
                for run, deployment_limit in _waiting(
                    session, pool_id, queue_id, state, until, wanted
                )
            ]
            for queue_id, queue_limit in tier
            for state in WAITING
        ]
        yield from heapq.merge(*streams, key=lambda c: c[0].scheduled_time)


def _waiting(
    session: Session, pool_id: str, queue_id: str | None, state: str, until: datetime, most: int
) -> list[tuple[FlowRunRow, int | None]]:
    """The first `most` runs of a queue (None: of no queue) in `state` due by `until`, by
    time, each with its deployment's concurrency limit; none of a paused deployment."""
    in_queue = FlowRunRow.queue_id == queue_id if queue_id else FlowRunRow.queue_id.is_(None)
    rows = session.execute(
        select(FlowRunRow, DeploymentRow.concurrency_limit)
        .outerjoin(DeploymentRow, FlowRunRow.deployment_id == DeploymentRow.id)
        .where(
            FlowRunRow.pool_id == pool_id,
            in_queue,
            FlowRunRow.state == state,
            FlowRunRow.scheduled_time <= until,
            or_(DeploymentRow.id.is_(None), ~DeploymentRow.paused),
        )
        # By time alone, the index's order, so that the database stops after `most` (with
        # a second key it sorted every due run first); runs due at the same moment may
        # come in any order.
        .order_by(FlowRunRow.scheduled_time)
        .limit(most)
    ).all()
    return [(run, limit) for run, limit in rows]


def next_run_time(
    store: Store, pool_name: str, *, lookahead: float = 0.0, now: datetime | None = None
) -> datetime | None:
    """When the pool's next waiting run is due, if that is beyond `lookahead` seconds from
    now (idle workers sleep until then rather than a whole poll interval; runs within the
    look-ahead were offered to the last claim already)."""
    now = (now or utcnow()) + timedelta(seconds=lookahead)
    with store.read() as session:
        pool = pool_by_name(session, pool_name)
        # One state at a time, the first by time: the first entry of the index on (pool,
        # state, time) past `now`. With `state IN (...)` or `min()` PostgreSQL could read
        # every waiting run instead (65-95 ms with the 100,000 runs that 10,000 minute
        # crons keep ahead, before it had statistics on them).
        soonest = [
            session.scalar(
                select(FlowRunRow.scheduled_time)
                .where(
                    FlowRunRow.pool_id == pool.id,
                    FlowRunRow.state == state,
                    FlowRunRow.scheduled_time > now,
                )
                .order_by(FlowRunRow.scheduled_time)
                .limit(1)
            )
            for state in WAITING
        ]
        return min((t for t in soonest if t is not None), default=None)


def watch_pool(store: Store, pool_name: str, on_work: Callable[[], None]) -> Watch:
    """Call `on_work` whenever the pool may have new work (see `nborch.store.wakeups`)."""
    with store.read() as session:
        pool_id = pool_by_name(session, pool_name).id
    return store.wakeups.watch(pool_id, on_work)


def claim_waiting(
    store: Store, pool_name: str, claim: Callable[[], list[FlowRun]], wait: float
) -> list[FlowRun]:
    """`claim()`, and while it gets nothing, again each time the pool is woken, for up to
    `wait` seconds (a long poll, for callers that block a thread on it)."""
    woken = threading.Event()
    deadline = time.monotonic() + wait
    watch = watch_pool(store, pool_name, woken.set)  # before the first claim: nothing missed
    try:
        while True:
            woken.clear()
            runs = claim()
            remaining = deadline - time.monotonic()
            if runs or remaining <= 0:
                return runs
            woken.wait(remaining)
    finally:
        watch.close()


def claim_runs_or_wait(
    store: Store,
    pool_name: str,
    worker_id: uuid.UUID,
    limit: int,
    *,
    lookahead: float = 0.0,
    wait: float = 0.0,
) -> list[FlowRun]:
    """The claim operation: `claim_runs`, and with `wait`, while none is due, a long poll
    for up to that many seconds (see `claim_waiting`)."""

    def claim() -> list[FlowRun]:
        return claim_runs(store, pool_name, worker_id, limit, lookahead=lookahead)

    return claim_waiting(store, pool_name, claim, wait) if wait > 0 else claim()

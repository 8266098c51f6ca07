"""Work queues inside a pool: priority (1 is served first) and a concurrency limit each."""

from __future__ import annotations

import uuid
from types import EllipsisType

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from nborch.errors import AlreadyExistsError, ConflictError, ValidationError
from nborch.models import WorkQueue
from nborch.orchestration.lookup import DEFAULT_QUEUE, pool_by_name, queue_by_name
from nborch.orchestration.names import check_name
from nborch.orchestration.pools import check_limit
from nborch.store.engine import Store
from nborch.store.tables import WorkPoolRow, WorkQueueRow
from nborch.store.wakeups import wake_pool


def _to_model(row: WorkQueueRow, pool_name: str) -> WorkQueue:
    return WorkQueue(
        id=uuid.UUID(row.id),
        pool_name=pool_name,
        name=row.name,
        priority=row.priority,
        concurrency_limit=row.concurrency_limit,
        paused=row.paused,
        description=row.description,
    )


def _check_priority(priority: int) -> int:
    if not isinstance(priority, int) or priority < 1:
        raise ValidationError(f"Queue priority must be a whole number >= 1, got {priority!r}.")
    return priority


def create_queue(
    store: Store,
    pool_name: str,
    name: str,
    *,
    priority: int = 1,
    concurrency_limit: int | None = None,
    description: str = "",
) -> WorkQueue:
    check_name("Work queue", name)
    _check_priority(priority)
    check_limit(concurrency_limit, f"work queue '{name}'")
    try:
        with store.write() as session:
            pool = pool_by_name(session, pool_name)
            row = WorkQueueRow(
                id=str(uuid.uuid4()),
                pool_id=pool.id,
                name=name,
                priority=priority,
                concurrency_limit=concurrency_limit,
                paused=False,
                description=description,
            )
            session.add(row)
            session.flush()
            return _to_model(row, pool.name)
    except IntegrityError:
        raise AlreadyExistsError(
            f"Work queue '{name}' already exists in pool '{pool_name}'. "
            f"List queues with: nborch work-queue ls --pool {pool_name}"
        ) from None


def list_queues(store: Store, pool_name: str) -> list[WorkQueue]:
    with store.read() as session:
        pool = pool_by_name(session, pool_name)
        rows = session.scalars(
            select(WorkQueueRow)
            .where(WorkQueueRow.pool_id == pool.id)
            .order_by(WorkQueueRow.priority, WorkQueueRow.name)
        ).all()
        return [_to_model(row, pool.name) for row in rows]


def get_queue(store: Store, pool_name: str, name: str) -> WorkQueue:
    with store.read() as session:
        pool = pool_by_name(session, pool_name)
        return _to_model(queue_by_name(session, pool, name), pool.name)


def update_queue(
    store: Store,
    pool_name: str,
    name: str,
    *,
    paused: bool | None = None,
    priority: int | None = None,
    concurrency_limit: int | None | EllipsisType = ...,
) -> WorkQueue:
    if priority is not None:
        _check_priority(priority)
    if concurrency_limit is not ...:
        check_limit(concurrency_limit, f"work queue '{name}'")
    with store.write() as session:
        pool: WorkPoolRow = pool_by_name(session, pool_name)
        row = queue_by_name(session, pool, name)
        if paused is not None:
            row.paused = paused
        if paused is False or concurrency_limit is not ...:
            wake_pool(session, pool.id)  # its waiting runs may start now
        if priority is not None:
            row.priority = priority
        if concurrency_limit is not ...:
            row.concurrency_limit = concurrency_limit
        session.flush()
        return _to_model(row, pool.name)


def delete_queue(store: Store, pool_name: str, name: str) -> None:
    if name == DEFAULT_QUEUE:
        raise ConflictError(
            f"The default queue of pool '{pool_name}' cannot be deleted; pause it instead: "
            f"nborch work-queue pause default --pool {pool_name}"
        )
    with store.write() as session:
        pool = pool_by_name(session, pool_name)
        session.delete(queue_by_name(session, pool, name))

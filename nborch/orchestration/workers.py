"""Workers as the store knows them: registration, heartbeats, and who is online."""

from __future__ import annotations

import socket
import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update

from nborch.errors import NotFoundError
from nborch.models import ACTIVE_STATES, Worker, WorkerStatus
from nborch.orchestration.lookup import pool_by_name
from nborch.settings import get_settings
from nborch.store.engine import Store
from nborch.store.tables import FlowRunRow, WorkerRow, WorkPoolRow
from nborch.timeutil import utcnow


def register_worker(
    store: Store,
    name: str,
    pool_name: str | None,
    *,
    pid: int | None = None,
    worker_id: uuid.UUID | None = None,
    hostname: str | None = None,
    server: str | None = None,
) -> Worker:
    """Record a worker that has started; it counts as online from its first heartbeat.
    `hostname` is where it runs (default: here); `server` the server it talks through."""
    now = utcnow()
    with store.write() as session:
        pool_id = pool_by_name(session, pool_name).id if pool_name else None
        row = WorkerRow(
            id=str(worker_id or uuid.uuid4()),
            name=name,
            pool_id=pool_id,
            hostname=hostname or socket.gethostname(),
            pid=pid,
            last_heartbeat=now,
            stopped=False,
            server=server,
        )
        session.add(row)
    return Worker(
        id=uuid.UUID(row.id),
        name=name,
        pool_name=pool_name,
        hostname=row.hostname,
        pid=pid,
        last_heartbeat=now,
        server=server,
    )


def heartbeat(
    store: Store, worker_id: uuid.UUID, *, stopped: bool = False, server: str | None = None
) -> None:
    """The worker lives (`server`: the server its heartbeat came through, if any)."""
    with store.write() as session:
        result: Any = session.execute(
            update(WorkerRow)
            .where(WorkerRow.id == str(worker_id))
            .values(last_heartbeat=utcnow(), stopped=stopped, server=server)
        )
    if not result.rowcount:
        raise NotFoundError(
            f"Worker '{worker_id}' is not registered (its pool was deleted?). Restart it."
        )


def list_workers(
    store: Store,
    pool_name: str | None = None,
    *,
    include_offline: bool = True,
    now: datetime | None = None,
    worker_id: uuid.UUID | None = None,
) -> list[Worker]:
    cutoff = (now or utcnow()) - timedelta(seconds=get_settings().worker_timeout)
    with store.read() as session:
        query = (
            select(WorkerRow, WorkPoolRow.name)
            .outerjoin(WorkPoolRow, WorkerRow.pool_id == WorkPoolRow.id)
            .order_by(WorkerRow.last_heartbeat.desc())
        )
        if pool_name:
            query = query.where(WorkerRow.pool_id == pool_by_name(session, pool_name).id)
        if worker_id is not None:
            query = query.where(WorkerRow.id == str(worker_id))
        if not include_offline:
            query = query.where(WorkerRow.last_heartbeat >= cutoff, ~WorkerRow.stopped)
        rows = session.execute(query).all()
        active_query = (
            select(FlowRunRow.worker_id, func.count())
            .where(FlowRunRow.state.in_([s.value for s in ACTIVE_STATES]))
            .group_by(FlowRunRow.worker_id)
        )
        if worker_id is not None:
            active_query = active_query.where(FlowRunRow.worker_id == str(worker_id))
        active = dict(session.execute(active_query).all())
    return [
        Worker(
            id=uuid.UUID(row.id),
            name=row.name,
            pool_name=pool,
            hostname=row.hostname,
            pid=row.pid,
            last_heartbeat=row.last_heartbeat,
            status=(
                WorkerStatus.ONLINE
                if row.last_heartbeat >= cutoff and not row.stopped
                else WorkerStatus.OFFLINE
            ),
            active_runs=active.get(row.id, 0),
            server=row.server,
        )
        for row, pool in rows
    ]


def get_worker(store: Store, worker_id: uuid.UUID) -> Worker:
    found = list_workers(store, worker_id=worker_id)
    if not found:
        raise NotFoundError(f"Worker '{worker_id}' not found. List the workers: nborch worker ls")
    return found[0]

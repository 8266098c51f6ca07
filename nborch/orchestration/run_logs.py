"""A run's log lines: appended in batches by its worker, read back in order."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select

from nborch.models import LogLine
from nborch.orchestration.fencing import held_run
from nborch.orchestration.lookup import run_by_id
from nborch.store.engine import Store
from nborch.store.tables import FlowRunLogRow
from nborch.timeutil import utcnow


def append_logs(
    store: Store,
    run_id: str | uuid.UUID,
    lines: Sequence[str],
    *,
    attempt: int | None = None,
    now: datetime | None = None,
) -> None:
    """Add lines to the run's logs; refused once `attempt` (a worker's) no longer holds it."""
    if not lines:
        return
    now = now or utcnow()
    with store.write() as session:
        if attempt is not None:
            held_run(session, run_id, attempt)
        session.add_all(
            FlowRunLogRow(run_id=str(run_id), timestamp=now, message=line) for line in lines
        )


def read_logs(
    store: Store, run_id: str | uuid.UUID, *, after: int = 0, limit: int | None = None
) -> list[LogLine]:
    """Log lines with sequence numbers above `after`, oldest first."""
    with store.read() as session:
        run_by_id(session, str(run_id))
        query = (
            select(FlowRunLogRow)
            .where(FlowRunLogRow.run_id == str(run_id), FlowRunLogRow.id > after)
            .order_by(FlowRunLogRow.id)
        )
        if limit:
            query = query.limit(limit)
        return [
            LogLine(seq=row.id, timestamp=row.timestamp, message=row.message)
            for row in session.scalars(query)
        ]

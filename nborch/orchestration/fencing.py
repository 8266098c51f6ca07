"""Run ownership, fenced: each hand-over of a run to a worker (a claim, `nborch run`, a
take-over) counts the run's `attempt` up, and every write about the run from its worker
(state, logs, output notebook, infrastructure, source commit, secrets) carries that number.
A write of an attempt that no longer holds the run — it ended, was marked CRASHED, or
another worker has it now — is refused with `RunLostError`; the worker then stops the run.

Writes without an attempt come from people and admins (cancel, inspect); the API requires
one from worker keys."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from nborch.errors import RunLostError
from nborch.models import ACTIVE_STATES, WAITING_STATES, HeldRun, StateType
from nborch.orchestration.lookup import run_by_id
from nborch.store.engine import Store
from nborch.store.tables import FlowRunRow

_ACTIVE = [s.value for s in ACTIVE_STATES]


def held_run(
    session: Session, run_id: str | uuid.UUID, attempt: int | None, *, for_update: bool = False
) -> FlowRunRow:
    """The run's row, when `attempt` (if given) still holds it; RunLostError when not."""
    row = run_by_id(session, str(run_id), for_update=for_update)
    if attempt is None:
        return row
    if row.attempt != attempt:
        raise RunLostError(
            f"Flow run '{row.name}' is no longer in the hands of attempt {attempt}: attempt "
            f"{row.attempt} holds it now ({row.state}). Its worker stops attempt {attempt}."
        )
    if StateType(row.state) not in ACTIVE_STATES and not held_for_its_worker(row):
        raise RunLostError(
            f"Flow run '{row.name}' is {row.state}: attempt {attempt} may write nothing more "
            "about it. Its worker stops the run."
        )
    return row


def held_for_its_worker(row: FlowRunRow) -> bool:
    """A run whose worker was taken for silent (`crash_detection`) waits for its retry with
    that worker still named: until another claim takes it, the attempt may still report
    what became of it (its end, its logs, its output notebook)."""
    return StateType(row.state) in WAITING_STATES and row.worker_id is not None


def held_runs(store: Store, worker_id: uuid.UUID) -> list[HeldRun]:
    """The runs the store says `worker_id` holds, each with its attempt and state: a run the
    worker has in hand but is not among them (or under another attempt) is lost to it."""
    with store.read() as session:
        rows = session.execute(
            select(FlowRunRow.id, FlowRunRow.attempt, FlowRunRow.state).where(
                FlowRunRow.worker_id == str(worker_id), FlowRunRow.state.in_(_ACTIVE)
            )
        ).all()
    return [
        HeldRun(id=uuid.UUID(run_id), attempt=attempt, state=StateType(state))
        for run_id, attempt, state in rows
    ]

"""Runs whose worker went silent are marked CRASHED (and retried when they may be) — but
only silence that is the worker's own.

A worker's heartbeat is silent for `worker_timeout` seconds, and:

- it uses the store itself: its silence counts from its last heartbeat, but only while the
  scheduler that detects it has been ticking all that time (`nborch.scheduler_loop` asks for
  crash detection only after a timeout of unbroken ticks), so a store that was down (a
  PostgreSQL restart) gives every worker a timeout to heartbeat again;
- it talks through a server: the server keeps a row alive (`server_seen`). While that
  server is down its workers' silence is not theirs, and nothing is marked CRASHED; once it
  is up again their silence counts from its (re)start. A server down for
  `server_outage_grace` seconds is taken for gone for good: its workers' runs are CRASHED.

A worker only silent (it lives, its server lives) may merely be cut off, its run finished
and unreported: the run's retry is held for `SILENCE_HOLD_TIMEOUTS` timeouts, with the
worker still named, and if the worker comes back meanwhile its word on the attempt (the
run's end, its logs) replaces the verdict (`fencing.held_for_its_worker`); once another
worker claims the retry, it can no longer. Whatever the store concludes, a worker that has
reached neither its server nor its store
for 60% of `worker_timeout` has stopped its runs itself (`nborch.workers.base`): no run is
retried while its previous attempt may still be running, and a worker that comes back
finds its runs' later writes refused (`nborch.orchestration.fencing`).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import or_, select

from nborch.models import ACTIVE_STATES
from nborch.models import StateType as S
from nborch.orchestration.runs import transition
from nborch.settings import get_settings
from nborch.store.engine import Store
from nborch.store.tables import FlowRunRow, ServerRow, WorkerRow
from nborch.timeutil import ago, utcnow

_ACTIVE = [s.value for s in ACTIVE_STATES]
# A retry after a worker's silence waits this many worker timeouts: the worker may only be
# cut off (a network partition), its run finished, and come back to say so.
SILENCE_HOLD_TIMEOUTS = 3


def server_down_after() -> float:
    """Seconds without a sign of life after which a server counts as down: short enough
    that its workers' last heartbeats are not yet a timeout old when it is seen down."""
    settings = get_settings()
    return max(settings.worker_timeout - settings.heartbeat_interval, settings.worker_timeout / 2)


def server_seen(store: Store, name: str, *, restarted: bool, now: datetime | None = None) -> None:
    """Server `name` is up (called every half heartbeat interval). `restarted`: its first
    call since it started; its workers' silence counts from now on."""
    now = now or utcnow()
    with store.write() as session:
        row = session.get(ServerRow, name, with_for_update=True)
        if row is None:
            session.add(ServerRow(name=name, started=now, last_seen=now))
            return
        if restarted or row.last_seen < now - timedelta(seconds=server_down_after()):
            row.started = now  # it was down (or could not reach the store): a fresh start
        row.last_seen = now


def crash_orphaned_runs(store: Store, *, now: datetime | None = None) -> list[str]:
    """Runs held by a worker that is gone, stopped, or silent for a timeout of its own
    making become CRASHED (CANCELLED when they were being cancelled) and are retried when
    they may be. Returns their ids."""
    now = now or utcnow()
    settings = get_settings()
    cutoff = now - timedelta(seconds=settings.worker_timeout)
    with store.write() as session:
        candidates = session.execute(
            select(FlowRunRow, WorkerRow, ServerRow)
            .outerjoin(WorkerRow, FlowRunRow.worker_id == WorkerRow.id)
            .outerjoin(ServerRow, WorkerRow.server == ServerRow.name)
            .where(
                FlowRunRow.state.in_(_ACTIVE),
                or_(WorkerRow.id.is_(None), WorkerRow.last_heartbeat < cutoff, WorkerRow.stopped),
            )
            .with_for_update(of=FlowRunRow)
        ).all()
        crashed = []
        hold = SILENCE_HOLD_TIMEOUTS * settings.worker_timeout
        for row, worker, server in candidates:
            reason = _why_orphaned(worker, server, now, cutoff)
            if reason is None:
                continue
            if row.state == S.CANCELLING.value:
                transition(session, row, S.CANCELLED, f"Cancelled; {reason}", now)
            else:
                # Only silent (it lives, its server lives): the worker may come back.
                silent = worker is not None and not worker.stopped and server_alive(server, now)
                transition(
                    session,
                    row,
                    S.CRASHED,
                    f"Crashed: {reason}",
                    now,
                    worker_vanished=True,
                    hold=hold if silent else 0.0,
                )
            crashed.append(row.id)
        return crashed


def server_alive(server: ServerRow | None, now: datetime) -> bool:
    """The server (if any) has shown a sign of life lately."""
    return server is None or (now - server.last_seen).total_seconds() <= server_down_after()


def _why_orphaned(
    worker: WorkerRow | None,
    server: ServerRow | None,
    now: datetime,
    cutoff: datetime,
) -> str | None:
    """Why the worker's runs are orphaned, or None while its silence may not be its own."""
    if worker is None:
        return "its worker is gone"
    if worker.stopped:
        return f"worker '{worker.name}' stopped"
    silent = f"worker '{worker.name}' stopped heartbeating (last {ago(worker.last_heartbeat, now)})"
    if server is not None:
        if not server_alive(server, now):
            down_for = (now - server.last_seen).total_seconds()
            if down_for < get_settings().server_outage_grace:
                return None  # the server's outage, not the worker's silence
            return f"{silent}, and its server '{server.name}' has been down for {down_for:.0f} s"
        if server.started >= cutoff:
            return None  # the server came up less than a timeout ago
    return silent

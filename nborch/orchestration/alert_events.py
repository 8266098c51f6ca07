"""Queueing alerts: a run entering a state some rule watches gets a message in the outbox,
written by the transaction that stores the state change, so that a process dying right
after the change loses no alert. Called from the one place a run's state is stored
(`runs.transition`) and from the scheduler's bulk changes (LATE, CANCELLED when skipped);
runs RUNNING longer than a rule allows are found by the scheduler's tick (`queue_long_runs`).

One message per (rule, run, state, attempt of the run): the store refuses a second, so an
event stored twice (two schedulers, a retried request) is sent once.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from nborch.alert_models import ALERT_STATES
from nborch.models import StateType
from nborch.store.engine import Store
from nborch.store.tables import AlertMessageRow, AlertRuleRow, FlowRunRow

_WATCHED = {s.value for s in ALERT_STATES}


def _rules_for(
    session: Session, state: str
) -> list[tuple[str, str | None, str | None, str | None]]:
    """(id, deployment id, pool id, tag) of the rules that watch `state`."""
    return [
        (rule_id, deployment_id, pool_id, tag)
        for rule_id, states, deployment_id, pool_id, tag in session.execute(
            select(
                AlertRuleRow.id,
                AlertRuleRow.states,
                AlertRuleRow.deployment_id,
                AlertRuleRow.pool_id,
                AlertRuleRow.tag,
            )
        )
        if state in states
    ]


def _matches(rule: tuple[str, str | None, str | None, str | None], run: Any) -> bool:
    _id, deployment_id, pool_id, tag = rule
    return (
        (deployment_id is None or deployment_id == run.deployment_id)
        and (pool_id is None or pool_id == run.pool_id)
        and (tag is None or tag in (run.tags or []))
    )


# What a rule matches a run on, and what its message keeps of it.
_RUN_FACTS = (
    FlowRunRow.id,
    FlowRunRow.deployment_id,
    FlowRunRow.pool_id,
    FlowRunRow.tags,
    FlowRunRow.run_count,
)


def _insert(session: Session, messages: list[dict[str, Any]]) -> None:
    """Add the messages (500 a statement); one already there (the same event) is skipped."""
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    for start in range(0, len(messages), 500):
        session.execute(
            insert(AlertMessageRow)
            .values(messages[start : start + 500])
            .on_conflict_do_nothing(index_elements=["rule_id", "run_id", "state", "run_count"])
        )


def _message(rule_id: str, run: Any, state: str, text: str, now: datetime) -> dict[str, Any]:
    return {
        "rule_id": rule_id,
        "run_id": run.id,
        "state": state,
        "run_count": run.run_count,
        "message": text,
        "created": now,
        "status": "pending",
        "attempts": 0,
        "next_attempt": now,
        "digest_count": 1,
    }


def queue_alerts(
    session: Session, run: FlowRunRow, state: StateType, message: str, now: datetime
) -> None:
    """Queue a message for each rule that watches `run` entering `state`."""
    if state.value not in _WATCHED:
        return
    rules = _rules_for(session, state.value)
    _insert(
        session,
        [_message(r[0], run, state.value, message, now) for r in rules if _matches(r, run)],
    )


def queue_alerts_of_runs(
    session: Session, run_ids: Sequence[str], state: StateType, message: str, now: datetime
) -> None:
    """The same for many runs that entered `state` at once (the scheduler's bulk changes)."""
    if not run_ids or state.value not in _WATCHED:
        return
    rules = _rules_for(session, state.value)
    if not rules:
        return
    messages = []
    for start in range(0, len(run_ids), 500):
        runs = session.execute(
            select(*_RUN_FACTS).where(FlowRunRow.id.in_(run_ids[start : start + 500]))
        ).all()
        messages += [
            _message(r[0], run, state.value, message, now)
            for run in runs
            for r in rules
            if _matches(r, run)
        ]
    _insert(session, messages)


def queue_long_runs(store: Store, now: datetime) -> int:
    """Runs RUNNING longer than a rule's `longer_than` get its message, once per attempt of
    the run (a scheduler's tick calls this: no state change marks the moment). Returns how
    many messages it offered (those queued before are skipped by the store)."""
    with store.read() as session:
        rules = session.execute(
            select(
                AlertRuleRow.id,
                AlertRuleRow.deployment_id,
                AlertRuleRow.pool_id,
                AlertRuleRow.tag,
                AlertRuleRow.longer_than,
            ).where(AlertRuleRow.longer_than.is_not(None))
        ).all()
    if not rules:
        return 0
    shortest = min(rule.longer_than for rule in rules)
    with store.write() as session:
        runs = session.execute(
            select(*_RUN_FACTS, FlowRunRow.start_time).where(
                FlowRunRow.state == StateType.RUNNING.value,
                FlowRunRow.start_time < now - timedelta(seconds=shortest),
            )
        ).all()
        messages = [
            _message(
                rule.id,
                run,
                StateType.RUNNING.value,
                f"Running for {(now - run.start_time).total_seconds():.0f} s, longer than "
                f"the {rule.longer_than:g} s alert rule's limit",
                now,
            )
            for run in runs
            for rule in rules
            if (now - run.start_time).total_seconds() > rule.longer_than and _matches(rule[:4], run)
        ]
        _insert(session, messages)
        return len(messages)

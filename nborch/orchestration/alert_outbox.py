"""Sending the outbox (`alert_events` fills it): due messages are claimed (a sender holds
them for a while, so two senders never send one twice), rendered (`alert_messages`),
delivered (`alert_channels`), and every attempt is recorded (`nborch alert history`).

- A failed attempt is tried again with exponential backoff (and jitter), up to
  MAX_ATTEMPTS; then the message is `failed`, still listed.
- A rule sends at most `max_per_minute` messages a minute. When more than DIGEST_AFTER of
  its messages are due at once (a storm), they become one digest that counts them; a rule
  over its limit waits for the minute to free a message.
- Nothing here runs in a store transaction while a receiver is being waited for: claims
  and records are short transactions of their own.

`alert_sender` runs `send_due` beside the scheduler, in whichever process holds its lease.
"""

from __future__ import annotations

import random
import uuid
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select, update

from nborch.alert_models import AlertChannel, AlertDelivery, AlertRule, AlertRuleSpec
from nborch.errors import NborchError
from nborch.models import StateType
from nborch.orchestration.alert_channels import send_email, send_webhook
from nborch.orchestration.alert_messages import Message, digest_message, run_message, test_message
from nborch.orchestration.alerts import addresses
from nborch.orchestration.secrets import secret_values, secret_values_of_run
from nborch.secret_references import secret_names
from nborch.settings import get_settings
from nborch.store.engine import Store
from nborch.store.tables import (
    AlertDeliveryRow,
    AlertMessageRow,
    AlertRuleRow,
    DeploymentRow,
    FlowRow,
    FlowRunRow,
)
from nborch.timeutil import utcnow

MAX_ATTEMPTS = 8
FIRST_RETRY = 5.0  # seconds; doubled after each failed attempt, at most an hour
DIGEST_AFTER = 3
WINDOW = timedelta(minutes=1)
CLAIM_BATCH = 5000


def backoff(attempts: int) -> timedelta:
    """How long after its `attempts`-th failed attempt a message is tried again."""
    seconds = min(FIRST_RETRY * 2 ** (attempts - 1), 3600.0)
    return timedelta(seconds=seconds * random.uniform(0.8, 1.2))


def _claim(store: Store, now: datetime) -> dict[str, list[AlertMessageRow]]:
    """Due messages this sender now holds, by rule, oldest first."""
    hold = timedelta(seconds=2 * get_settings().alert_timeout + 30)
    free = or_(AlertMessageRow.claimed_until.is_(None), AlertMessageRow.claimed_until < now)
    with store.write() as session:
        due = select(AlertMessageRow.id).where(
            AlertMessageRow.status == "pending", AlertMessageRow.next_attempt <= now, free
        )
        ids = list(session.scalars(due.order_by(AlertMessageRow.id).limit(CLAIM_BATCH)))
        if not ids:
            return {}
        held = list(
            session.scalars(
                update(AlertMessageRow)
                .where(AlertMessageRow.id.in_(ids), free)
                .values(claimed_until=now + hold)
                .returning(AlertMessageRow.id)
                .execution_options(synchronize_session=False)
            )
        )
        by_rule: dict[str, list[AlertMessageRow]] = defaultdict(list)
        rows = session.scalars(
            select(AlertMessageRow).where(AlertMessageRow.id.in_(held)).order_by(AlertMessageRow.id)
        )
        for row in rows:
            session.expunge(row)
            by_rule[row.rule_id].append(row)
        return by_rule


def _sent_in_window(store: Store, rule_id: str, now: datetime) -> list[datetime]:
    with store.read() as session:
        return list(
            session.scalars(
                select(AlertDeliveryRow.attempted)
                .where(
                    AlertDeliveryRow.rule_id == rule_id,
                    AlertDeliveryRow.ok,
                    AlertDeliveryRow.message_id.is_not(None),
                    AlertDeliveryRow.attempted > now - WINDOW,
                )
                .order_by(AlertDeliveryRow.attempted)
            )
        )


def _release(store: Store, ids: list[int], until: datetime) -> None:
    with store.write() as session:
        session.execute(
            update(AlertMessageRow)
            .where(AlertMessageRow.id.in_(ids))
            .values(claimed_until=None, next_attempt=until)
        )


def _make_digest(store: Store, messages: list[AlertMessageRow]) -> AlertMessageRow:
    """The first message carries the others (and what they carried already)."""
    lead, ids = messages[0], [m.id for m in messages]
    with store.write() as session:
        session.execute(
            update(AlertMessageRow)
            .where(or_(AlertMessageRow.id.in_(ids), AlertMessageRow.digest_id.in_(ids)))
            .values(digest_id=lead.id)
        )
        session.execute(
            update(AlertMessageRow)
            .where(AlertMessageRow.id.in_(ids[1:]))
            .values(status="digested", claimed_until=None)
        )
        count = session.scalar(select(func.count()).where(AlertMessageRow.digest_id == lead.id))
        session.execute(
            update(AlertMessageRow).where(AlertMessageRow.id == lead.id).values(digest_count=count)
        )
    lead.digest_id, lead.digest_count = lead.id, int(count or 1)
    return lead


def _render(store: Store, rule: AlertRuleRow, row: AlertMessageRow) -> Message:
    from nborch.orchestration.output_notebooks import read_output_notebook
    from nborch.orchestration.runs import get_run

    if row.digest_count > 1:
        with store.read() as session:
            events = session.execute(
                select(
                    FlowRunRow.name,
                    FlowRow.name,
                    DeploymentRow.name,
                    AlertMessageRow.state,
                    AlertMessageRow.created,
                )
                .join(FlowRunRow, AlertMessageRow.run_id == FlowRunRow.id)
                .join(FlowRow, FlowRunRow.flow_id == FlowRow.id)
                .outerjoin(DeploymentRow, FlowRunRow.deployment_id == DeploymentRow.id)
                .where(AlertMessageRow.digest_id == row.id)
                .order_by(AlertMessageRow.id)
            ).all()
        return digest_message(
            rule.name,
            [(run, f"{flow}/{dep}" if dep else None, state) for run, flow, dep, state, _ in events],
            min(e[4] for e in events),
            max(e[4] for e in events),
        )
    run = get_run(store, row.run_id)
    secrets = list(secret_values_of_run(store, run.id).values())
    notebook = read_output_notebook(store, run.id) if run.failure is not None else None
    return run_message(run, row.state, row.message, rule.name, secrets, notebook)


def deliver(store: Store, rule: AlertRuleRow | AlertRuleSpec, message: Message) -> tuple[bool, str]:
    """Send `message` by the rule's channel; (ok, what happened). Never raises."""
    channel = AlertChannel(rule.channel)
    try:
        if channel is AlertChannel.EMAIL:
            return send_email(message, addresses(rule.target))
        names = secret_names(rule.target) | ({rule.hmac_secret} if rule.hmac_secret else set())
        with store.read() as session:
            values = secret_values(session, names, user=f"alert rule '{rule.name}'")
        return send_webhook(channel, rule.target, message, values, rule.hmac_secret)
    except NborchError as err:
        return False, err.message


def _record(store: Store, rule_id: str, row: AlertMessageRow, ok: bool, detail: str) -> None:
    now = utcnow()
    with store.write() as session:
        session.add(
            AlertDeliveryRow(
                rule_id=rule_id,
                message_id=row.id,
                attempt=row.attempts + 1,
                attempted=now,
                ok=ok,
                detail=detail[:2000],
            )
        )
        attempts = row.attempts + 1
        values: dict[str, Any] = {"attempts": attempts, "claimed_until": None}
        if ok:
            values.update(status="sent", sent=now)
        elif attempts >= MAX_ATTEMPTS:
            values.update(status="failed")
        else:
            values.update(next_attempt=now + backoff(attempts))
        session.execute(update(AlertMessageRow).where(AlertMessageRow.id == row.id).values(values))


def _send_one(store: Store, rule: AlertRuleRow, row: AlertMessageRow) -> bool:
    try:
        message = _render(store, rule, row)
    except Exception as err:  # a run gone meanwhile, a bug: recorded, tried again
        _record(store, rule.id, row, False, f"could not write the message: {err}")
        return False
    ok, detail = deliver(store, rule, message)
    _record(store, rule.id, row, ok, detail)
    return ok


def _send_rule(store: Store, rule: AlertRuleRow, messages: list[AlertMessageRow]) -> int:
    now = utcnow()
    sent = _sent_in_window(store, rule.id, now)
    budget = rule.max_per_minute - len(sent)
    if budget <= 0:  # over the limit: wait until the oldest of the minute leaves it
        _release(store, [m.id for m in messages], sent[0] + WINDOW)
        return 0
    if len(messages) > min(budget, DIGEST_AFTER):
        messages = [_make_digest(store, messages)]
    return sum(_send_one(store, rule, row) for row in messages)


def send_due(store: Store) -> int:
    """Send every message due now; returns how many were delivered."""
    claimed = _claim(store, utcnow())
    if not claimed:
        return 0
    with store.read() as session:
        rules = {
            r.id: r
            for r in session.scalars(select(AlertRuleRow).where(AlertRuleRow.id.in_(claimed)))
        }
        for rule in rules.values():
            session.expunge(rule)
    return sum(
        _send_rule(store, rules[rule_id], rows)
        for rule_id, rows in claimed.items()
        if rule_id in rules
    )


def send_test(store: Store, rule: AlertRule | AlertRuleSpec) -> AlertDelivery:
    """Deliver a test message now; a stored rule keeps the attempt in its history."""
    ok, detail = deliver(store, rule, test_message(rule.name))
    now = utcnow()
    if isinstance(rule, AlertRule):
        with store.write() as session:
            session.add(
                AlertDeliveryRow(
                    rule_id=str(rule.id),
                    message_id=None,
                    attempt=1,
                    attempted=now,
                    ok=ok,
                    detail=detail[:2000],
                )
            )
    return AlertDelivery(
        rule=rule.name, attempt=1, attempted=now, ok=ok, detail=detail, status="test"
    )


def alert_history(store: Store, *, rule: str | None = None, limit: int = 50) -> list[AlertDelivery]:
    """Delivery attempts, newest first (of one rule, or of all)."""
    query = (
        select(AlertDeliveryRow, AlertRuleRow.name, AlertMessageRow, FlowRunRow.name)
        .join(AlertRuleRow, AlertDeliveryRow.rule_id == AlertRuleRow.id)
        .outerjoin(AlertMessageRow, AlertDeliveryRow.message_id == AlertMessageRow.id)
        .outerjoin(FlowRunRow, AlertMessageRow.run_id == FlowRunRow.id)
        .order_by(AlertDeliveryRow.id.desc())
        .limit(limit)
    )
    with store.read() as session:
        if rule is not None:
            from nborch.orchestration.alerts import get_alert_rule

            get_alert_rule(store, rule)  # not found: says so
            query = query.where(AlertRuleRow.name == rule)
        return [
            AlertDelivery(
                rule=name,
                run_id=uuid.UUID(message.run_id) if message else None,
                run_name=run_name,
                state=StateType(message.state) if message else None,
                digest_count=message.digest_count if message else 1,
                attempt=delivery.attempt,
                attempted=delivery.attempted,
                ok=delivery.ok,
                detail=delivery.detail,
                status=message.status if message else "test",
            )
            for delivery, name, message, run_name in session.execute(query)
        ]

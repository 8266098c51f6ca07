"""Alert rules: what to watch (runs of a deployment, a pool, a tag, or every run, entering
some states) and where to send it. Every input is checked before anything is stored, with
an error that names the rule and the fix. Events are queued by `alert_events`, sent by
`alert_outbox`; messages are made in `alert_messages`, delivered by `alert_channels`."""

from __future__ import annotations

import re
import uuid
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from nborch.alert_models import ALERT_STATES, AlertChannel, AlertDelivery, AlertRule, AlertRuleSpec
from nborch.errors import AlreadyExistsError, NotFoundError, ValidationError
from nborch.models import StateType
from nborch.orchestration.lookup import deployment_by_name, pool_by_name
from nborch.orchestration.names import check_name
from nborch.orchestration.secrets import require_secrets
from nborch.secret_references import SECRET_REFERENCE
from nborch.settings import get_settings
from nborch.store.engine import Store
from nborch.store.tables import AlertRuleRow, DeploymentRow, FlowRow, WorkPoolRow
from nborch.timeutil import utcnow

_ADDRESS = re.compile(r"^[^@\s,<>]+@[^@\s,<>]+\.[^@\s,<>]+$")


def addresses(target: str) -> list[str]:
    """An email rule's addresses (its target, comma-separated)."""
    return [part.strip() for part in target.split(",") if part.strip()]


def _check_target(spec: AlertRuleSpec, owner: str) -> None:
    if spec.channel is AlertChannel.EMAIL:
        found = addresses(spec.target)
        wrong = [a for a in found if not _ADDRESS.fullmatch(a)] or ([] if found else [""])
        if wrong:
            raise ValidationError(
                f"{owner} has {wrong[0]!r}, which is not an email address: give addresses "
                "like ops@example.com, comma-separated."
            )
        if not get_settings().smtp_url:
            raise ValidationError(
                f"{owner} sends email, but no SMTP server is set: set NBORCH_SMTP_URL "
                "(smtp://USER@HOST:PORT) where nborch's scheduler runs."
            )
        if spec.hmac_secret:
            raise ValidationError(f"{owner}: --hmac-secret signs webhooks only; drop it.")
        return
    shape = SECRET_REFERENCE.sub("x", spec.target)  # a reference stands for a word
    parts = urlsplit(shape)
    if parts.scheme not in ("http", "https") or not parts.hostname or " " in shape:
        raise ValidationError(
            f"{owner} has {spec.target!r}, which is not a webhook URL: give http(s)://HOST/PATH "
            "(a secret in it as {{ secret.NAME }})."
        )


def _scope(session: Session, spec: AlertRuleSpec) -> tuple[str | None, str | None]:
    """The ids of the rule's deployment and pool (None: any)."""
    try:
        deployment = deployment_by_name(session, spec.deployment)[0] if spec.deployment else None
        pool_id = pool_by_name(session, spec.pool).id if spec.pool else None
    except NotFoundError as err:
        raise NotFoundError(f"Alert rule '{spec.name}': {err.message}") from None
    return (deployment.id if deployment else None), pool_id


def check_rule(session: Session, spec: AlertRuleSpec) -> tuple[str | None, str | None]:
    """Refuse a rule that could never send, naming it and the fix; returns its scope."""
    check_name("Alert rule", spec.name)
    owner = f"Alert rule '{spec.name}'"
    wrong_states = [s.value for s in spec.states if s not in ALERT_STATES]
    if wrong_states or not (spec.states or spec.longer_than):
        allowed = ", ".join(sorted(s.value for s in ALERT_STATES))
        raise ValidationError(
            f"{owner} watches {', '.join(wrong_states) or 'no state'}: choose among {allowed}."
        )
    _check_target(spec, owner)
    require_secrets(session, spec.target, owner=f"alert rule '{spec.name}'")
    if spec.hmac_secret:
        require_secrets(session, f"{{{{ secret.{spec.hmac_secret} }}}}", owner=owner)
    return _scope(session, spec)


def create_alert_rule(store: Store, spec: AlertRuleSpec, *, test: bool = False) -> AlertRule:
    """Store the rule; refused, with nothing stored, on bad input (and, with `test`, when a
    test message cannot be delivered)."""
    with store.read() as session:
        check_rule(session, spec)
    if test:
        from nborch.orchestration.alert_outbox import send_test

        delivery = send_test(store, spec)
        if not delivery.ok:
            raise ValidationError(
                f"Alert rule '{spec.name}' was not created: its test message could not be "
                f"delivered ({delivery.detail}). Check the {spec.channel.value} target."
            )
    try:
        with store.write() as session:
            deployment_id, pool_id = check_rule(session, spec)
            row = AlertRuleRow(
                id=str(uuid.uuid4()),
                name=spec.name,
                channel=spec.channel.value,
                target=spec.target,
                states=[s.value for s in spec.states],
                deployment_id=deployment_id,
                pool_id=pool_id,
                tag=spec.tag,
                hmac_secret=spec.hmac_secret,
                max_per_minute=spec.max_per_minute,
                longer_than=spec.longer_than,
                created=utcnow(),
            )
            session.add(row)
            session.flush()
    except IntegrityError:
        raise AlreadyExistsError(
            f"Alert rule '{spec.name}' exists already: delete it first "
            f"(nborch alert delete {spec.name}) or choose another name."
        ) from None
    return get_alert_rule(store, spec.name)


def _to_model(row: AlertRuleRow, deployment: str | None, pool: str | None) -> AlertRule:
    return AlertRule(
        id=uuid.UUID(row.id),
        name=row.name,
        channel=AlertChannel(row.channel),
        target=row.target,
        states=[StateType(s) for s in row.states],
        deployment=deployment,
        pool=pool,
        tag=row.tag,
        hmac_secret=row.hmac_secret,
        max_per_minute=row.max_per_minute,
        longer_than=row.longer_than,
        created=row.created,
    )


def _rules_query():  # type: ignore[no-untyped-def]
    return (
        select(AlertRuleRow, FlowRow.name, DeploymentRow.name, WorkPoolRow.name)
        .outerjoin(DeploymentRow, AlertRuleRow.deployment_id == DeploymentRow.id)
        .outerjoin(FlowRow, DeploymentRow.flow_id == FlowRow.id)
        .outerjoin(WorkPoolRow, AlertRuleRow.pool_id == WorkPoolRow.id)
        .order_by(AlertRuleRow.name)
    )


def load_rules(session: Session, query=None) -> list[AlertRule]:  # type: ignore[no-untyped-def]
    return [
        _to_model(row, f"{flow}/{dep}" if dep else None, pool)
        for row, flow, dep, pool in session.execute(query if query is not None else _rules_query())
    ]


def list_alert_rules(store: Store) -> list[AlertRule]:
    with store.read() as session:
        return load_rules(session)


def get_alert_rule(store: Store, name: str) -> AlertRule:
    with store.read() as session:
        found = load_rules(session, _rules_query().where(AlertRuleRow.name == name))
    if not found:
        raise NotFoundError(f"Alert rule '{name}' not found. List rules with: nborch alert ls")
    return found[0]


def delete_alert_rule(store: Store, name: str) -> None:
    """Its queued messages and its history go with it."""
    with store.write() as session:
        row = session.scalars(select(AlertRuleRow).where(AlertRuleRow.name == name)).first()
        if row is None:
            raise NotFoundError(f"Alert rule '{name}' not found. List rules with: nborch alert ls")
        session.delete(row)


def test_alert_rule(store: Store, name: str) -> AlertDelivery:
    """Send a test message to the rule's target now; refused with the reason when it cannot
    be delivered (kept in its history either way)."""
    from nborch.orchestration.alert_outbox import send_test

    rule = get_alert_rule(store, name)
    delivery = send_test(store, rule)
    if not delivery.ok:
        raise ValidationError(
            f"Alert rule '{name}' could not deliver a test message: {delivery.detail}. "
            f"Check its {rule.channel.value} target (nborch alert ls), then test again."
        )
    return delivery

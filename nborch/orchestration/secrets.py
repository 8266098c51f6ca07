"""Secrets: values stored encrypted (see `secret_box`), referenced as ``{{ secret.NAME }}``
in parameters and job variables (see `nborch.secret_references`).

The store holds a value only in the secrets table, encrypted; deployments, schedules and
runs keep the reference text. A reference to a secret that does not exist is refused when
it is stored; the values are handed out only for a run in a worker's hands, and only those
its parameters and job variables reference.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from nborch.errors import ConflictError, NotFoundError, ValidationError
from nborch.models import ACTIVE_STATES, SecretInfo, StateType
from nborch.orchestration.fencing import held_run
from nborch.orchestration.lookup import run_by_id
from nborch.orchestration.names import check_name
from nborch.orchestration.secret_box import secret_box
from nborch.secret_references import check_reference_syntax, secret_names
from nborch.store.engine import Store
from nborch.store.tables import FlowRunRow, SecretRow
from nborch.timeutil import utcnow


def _not_found(name: str) -> NotFoundError:
    return NotFoundError(f"Secret '{name}' not found. Set it with: nborch secret set {name}")


def _to_model(row: SecretRow) -> SecretInfo:
    return SecretInfo(name=row.name, created=row.created, updated=row.updated)


def set_secret(store: Store, name: str, value: str) -> SecretInfo:
    """Create the secret, or replace its value."""
    check_name("Secret", name)
    if not isinstance(value, str) or not value:
        raise ValidationError(
            f"Secret '{name}' needs a value: an empty one is refused. Pipe it in "
            f"(printf %s VALUE | nborch secret set {name}) or type it at the prompt."
        )
    ciphertext = secret_box().encrypt(value)
    for attempt in range(2):  # a second try when another process made it meanwhile
        now = utcnow()
        try:
            with store.write() as session:
                row = session.get(SecretRow, name, with_for_update=True)
                if row is None:
                    row = SecretRow(name=name, ciphertext=ciphertext, created=now, updated=now)
                    session.add(row)
                else:
                    row.ciphertext = ciphertext
                    row.updated = now
                session.flush()
                return _to_model(row)
        except IntegrityError:
            if attempt:
                raise
    raise AssertionError("unreachable")


def list_secrets(store: Store) -> list[SecretInfo]:
    with store.read() as session:
        return [
            _to_model(row) for row in session.scalars(select(SecretRow).order_by(SecretRow.name))
        ]


def delete_secret(store: Store, name: str) -> None:
    """Runs that reference it fail to start afterwards, naming it."""
    with store.write() as session:
        row = session.get(SecretRow, name)
        if row is None:
            raise NotFoundError(f"Secret '{name}' not found. List them with: nborch secret ls")
        session.delete(row)


def require_secrets(session: Session, *values: Any, owner: str) -> None:
    """Refuse malformed references and references to secrets that do not exist in
    `values` (parameters, job variables), inside the transaction that stores them."""
    check_reference_syntax(*values, owner=owner)
    names = secret_names(*values)
    if not names:
        return
    found = set(session.scalars(select(SecretRow.name).where(SecretRow.name.in_(names))))
    missing = sorted(names - found)
    if missing:
        raise _not_found(missing[0])


def resolve_run_secrets(
    store: Store, run_id: str | uuid.UUID, *, attempt: int | None = None
) -> dict[str, str]:
    """The values of the secrets the run's parameters and job variables reference, and no
    others; only while the run is in a worker's hands (PENDING, RUNNING, CANCELLING), and
    with an `attempt`, only to the worker of that attempt."""
    with store.read() as session:
        run = held_run(session, run_id, attempt)
        if StateType(run.state) not in ACTIVE_STATES:
            raise ConflictError(
                f"Flow run '{run.name}' is {run.state}: its secrets are handed only to the "
                "worker that runs it, while it runs."
            )
        return _values(session, run)


def secret_values_of_run(store: Store, run_id: str | uuid.UUID) -> dict[str, str]:
    """The same values in any state of the run: to mask them in what the run left."""
    with store.read() as session:
        return _values(session, run_by_id(session, str(run_id)))


def _values(session: Session, run: FlowRunRow) -> dict[str, str]:
    names = secret_names(run.parameters, run.job_variables)
    return secret_values(session, names, user=f"flow run '{run.name}'")


def secret_values(session: Session, names: set[str], *, user: str) -> dict[str, str]:
    """The values of secrets `names`, which `user` (e.g. "flow run 'x'") references."""
    if not names:
        return {}
    rows = {
        row.name: row for row in session.scalars(select(SecretRow).where(SecretRow.name.in_(names)))
    }
    for name in sorted(names):
        if name not in rows:
            raise NotFoundError(
                f"Secret '{name}' not found: {user} references it. "
                f"Set it with: nborch secret set {name}"
            )
    box = secret_box()
    return {name: box.decrypt(name, rows[name].ciphertext) for name in sorted(names)}

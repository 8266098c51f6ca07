"""API keys for the HTTP server: an admin key may do anything, a worker key only what a
worker of its pools needs, a viewer key read what is not secret, a runner key that and run
the deployments its patterns match. Only a hash of each key is stored. Which operation
admits which role is declared per operation; `nborch.api.roles` applies it.

A key reads ``nbk_<prefix>_<secret>``: the prefix (not secret) finds the row, the secret
(32 random bytes) is compared with the stored SHA-256 in constant time. A slow hash buys
nothing for random keys of that size and would cost every request.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from fnmatch import fnmatchcase

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from nborch.errors import AlreadyExistsError, NotFoundError, ValidationError
from nborch.models import ApiKey, ApiKeyRole, NewApiKey
from nborch.orchestration.lookup import pool_by_name
from nborch.orchestration.names import check_name
from nborch.store.engine import Store
from nborch.store.tables import ApiKeyRow
from nborch.timeutil import utcnow

_KEY_PREFIX = "nbk"
# `last_used` is written at most this often per key, so requests stay reads.
_TOUCH_EVERY = timedelta(minutes=1)


@dataclass(frozen=True)
class Principal:
    """Who is calling: an API key (`source` "key") or a Jupyter user ("jupyter"), with the
    role it has. `role` None: a Jupyter user with no nborch role (refused everything);
    `limits` says why a Jupyter user has less than its configured role."""

    name: str
    role: ApiKeyRole | None
    pools: frozenset[str] = field(default_factory=frozenset)
    deployments: tuple[str, ...] = ()  # a runner's FLOW/NAME patterns (fnmatch)
    source: str = "key"
    limits: str = ""

    @property
    def is_admin(self) -> bool:
        return self.role is ApiKeyRole.ADMIN

    @property
    def identity(self) -> str:
        """`key:NAME` or `jupyter:USER`: what a run it creates records as its creator."""
        return f"{self.source}:{self.name}"

    @property
    def title(self) -> str:
        """How messages name it: API key 'ops', Jupyter user 'alice'."""
        return f"{'API key' if self.source == 'key' else 'Jupyter user'} '{self.name}'"

    def may_use_pool(self, pool_name: str | None) -> bool:
        return self.is_admin or (pool_name is not None and pool_name in self.pools)

    def may_run(self, deployment: str) -> bool:
        """Whether a runner's patterns match deployment FLOW/NAME."""
        return any(fnmatchcase(deployment, pattern) for pattern in self.deployments)


ADMIN = Principal("admin", ApiKeyRole.ADMIN)


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _to_model(row: ApiKeyRow) -> ApiKey:
    return ApiKey(
        id=uuid.UUID(row.id),
        name=row.name,
        prefix=row.prefix,
        role=ApiKeyRole(row.role),
        pools=list(row.pools),
        deployments=list(row.deployments or []),
        created=row.created,
        last_used=row.last_used,
        revoked=row.revoked,
    )


def create_api_key(
    store: Store,
    name: str,
    role: str | ApiKeyRole,
    pools: Sequence[str] = (),
    deployments: Sequence[str] = (),
) -> NewApiKey:
    """Make a key; the returned `key` is the only time its secret is seen. A worker key
    serves `pools`; a runner key runs the deployments matching `deployments` (FLOW/NAME
    patterns, `*` for any part)."""
    check_name("API key", name)
    try:
        role = ApiKeyRole(role)
    except ValueError:
        choices = ", ".join(r.value for r in ApiKeyRole)
        raise ValidationError(f"Unknown API key role '{role}'. Choose one of: {choices}.") from None
    if role is ApiKeyRole.WORKER and not pools:
        raise ValidationError(
            f"Worker API key '{name}' needs the pools it may serve: --pool NAME (repeatable)."
        )
    if role is not ApiKeyRole.WORKER and pools:
        raise ValidationError(
            f"{role.value.capitalize()} API key '{name}' serves no pool: drop --pool "
            "(only worker keys have pools)."
        )
    if role is ApiKeyRole.RUNNER and not deployments:
        raise ValidationError(
            f"Runner API key '{name}' needs the deployments it may run: --deployment "
            "'FLOW/NAME' (repeatable; * matches any part, e.g. 'reports/*')."
        )
    if role is not ApiKeyRole.RUNNER and deployments:
        raise ValidationError(
            f"{role.value.capitalize()} API key '{name}' runs no deployment by pattern: drop "
            "--deployment (only runner keys have deployments)."
        )
    for pattern in deployments:
        if "/" not in pattern or len(pattern) > 401:
            raise ValidationError(
                f"Deployment pattern '{pattern[:100]}' of API key '{name}' must read "
                "FLOW/NAME (either part may use *), e.g. 'reports/*'."
            )
    prefix, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
    with store.write() as session:
        for pool in pools:
            pool_by_name(session, pool)
        row = ApiKeyRow(
            name=name,
            prefix=prefix,
            key_hash=_hash(secret),
            role=role.value,
            pools=sorted(set(pools)),
            deployments=sorted(set(deployments)),
            created=utcnow(),
        )
        session.add(row)
        try:
            session.flush()
        except IntegrityError:
            raise AlreadyExistsError(
                f"API key '{name}' exists already. Revoke it first (nborch api-key revoke "
                f"{name}) or choose another name."
            ) from None
        model = _to_model(row)
    return NewApiKey(**model.model_dump(), key=f"{_KEY_PREFIX}_{prefix}_{secret}")


def list_api_keys(store: Store) -> list[ApiKey]:
    with store.read() as session:
        rows = session.scalars(select(ApiKeyRow).order_by(ApiKeyRow.created)).all()
        return [_to_model(row) for row in rows]


def revoke_api_key(store: Store, name: str) -> ApiKey:
    with store.write() as session:
        row = session.scalars(select(ApiKeyRow).where(ApiKeyRow.name == name)).first()
        if row is None:
            raise NotFoundError(f"API key '{name}' not found. List the keys: nborch api-key ls")
        if row.revoked is None:
            row.revoked = utcnow()
        return _to_model(row)


def authenticate(store: Store, key: str) -> Principal | None:
    """The principal a presented key stands for, or None if it is unknown or revoked."""
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != _KEY_PREFIX:
        return None
    _, prefix, secret = parts
    with store.read() as session:
        row = session.scalars(select(ApiKeyRow).where(ApiKeyRow.prefix == prefix)).first()
        if row is None or row.revoked is not None:
            return None
        if not hmac.compare_digest(row.key_hash, _hash(secret)):
            return None
        principal = Principal(
            row.name,
            ApiKeyRole(row.role),
            frozenset(row.pools),
            tuple(row.deployments or ()),
        )
        stale = row.last_used is None or utcnow() - row.last_used > _TOUCH_EVERY
    if stale:
        with store.write() as session:
            session.execute(
                update(ApiKeyRow).where(ApiKeyRow.prefix == prefix).values(last_used=utcnow())
            )
    return principal

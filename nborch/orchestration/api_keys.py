"""API keys for the HTTP server: an admin key may do anything, a worker key only what a
worker of its pools needs. Only a hash of each key is stored.

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
    """Who is calling: an admin, or a worker limited to some pools."""

    name: str
    role: ApiKeyRole
    pools: frozenset[str] = field(default_factory=frozenset)

    @property
    def is_admin(self) -> bool:
        return self.role is ApiKeyRole.ADMIN

    def may_use_pool(self, pool_name: str | None) -> bool:
        return self.is_admin or (pool_name is not None and pool_name in self.pools)


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
        created=row.created,
        last_used=row.last_used,
        revoked=row.revoked,
    )


def create_api_key(
    store: Store, name: str, role: str | ApiKeyRole, pools: Sequence[str] = ()
) -> NewApiKey:
    """Make a key; the returned `key` is the only time its secret is seen."""
    check_name("API key", name)
    try:
        role = ApiKeyRole(role)
    except ValueError:
        raise ValidationError(
            f"Unknown API key role '{role}'. Choose one of: admin, worker."
        ) from None
    if role is ApiKeyRole.WORKER and not pools:
        raise ValidationError(
            f"Worker API key '{name}' needs the pools it may serve: --pool NAME (repeatable)."
        )
    if role is ApiKeyRole.ADMIN and pools:
        raise ValidationError(f"Admin API key '{name}' reaches every pool: drop --pool.")
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
        principal = Principal(row.name, ApiKeyRole(row.role), frozenset(row.pools))
        stale = row.last_used is None or utcnow() - row.last_used > _TOUCH_EVERY
    if stale:
        with store.write() as session:
            session.execute(
                update(ApiKeyRow).where(ApiKeyRow.prefix == prefix).values(last_used=utcnow())
            )
    return principal

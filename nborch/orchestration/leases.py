"""Leases in the store: one holder at a time for a singleton job, taken over when the
holder stops renewing it (its process died)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from nborch.store.engine import Store
from nborch.store.tables import LeaseRow


def acquire_lease(store: Store, name: str, holder: str, ttl: float, now: datetime) -> bool:
    """Take or renew the lease; False while someone else holds it unexpired."""
    try:
        with store.write() as session:
            row = session.scalars(
                select(LeaseRow).where(LeaseRow.name == name).with_for_update()
            ).one_or_none()
            expires = now + timedelta(seconds=ttl)
            if row is None:
                session.add(LeaseRow(name=name, holder=holder, expires=expires))
            elif row.holder == holder or row.expires < now:
                row.holder = holder
                row.expires = expires
            else:
                return False
    except IntegrityError:  # another process created it at the same moment
        return False
    return True


def release_lease(store: Store, name: str, holder: str) -> None:
    with store.write() as session:
        session.execute(delete(LeaseRow).where(LeaseRow.name == name, LeaseRow.holder == holder))

"""A request sent again is answered, not carried out twice (the `Idempotency-Key` header).

A client whose answer was lost (a cut connection, a server that died just after its commit)
sends the same request again with the same key. The key is reserved in a transaction of its
own before the request is carried out, so a copy that arrives while the first is still at
work waits for the first one's answer instead of doing the work a second time; the answer is
recorded once there is one. A request that failed leaves no key behind: it changed nothing,
and its copy is carried out anew. Keys are kept for a day.
"""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError

from nborch.errors import ConflictError, ValidationError
from nborch.store.engine import Store
from nborch.store.tables import RequestKeyRow
from nborch.timeutil import utcnow

KEEP = timedelta(days=1)
COPY_WAITS = 30.0  # seconds a copy waits for the first request's answer
MAX_KEY_LENGTH = 200

_purged: dict[str, float] = {}  # store URL -> when its old keys were last deleted (monotonic)
_purged_lock = threading.Lock()


@dataclass(frozen=True)
class Answer:
    status: int
    content_type: str
    body: bytes


def fingerprint(method: str, path: str, query: str, body: bytes) -> str:
    """What makes two requests the same request."""
    digest = hashlib.sha256(f"{method} {path}?{query}\n".encode())
    digest.update(body)
    return digest.hexdigest()


def check_key(key: str) -> None:
    if not 0 < len(key) <= MAX_KEY_LENGTH or any(not "!" <= c <= "~" for c in key):
        raise ValidationError(
            f"The Idempotency-Key header {key[:40]!r} is not a key: send 1 to "
            f"{MAX_KEY_LENGTH} visible ASCII characters, no spaces (a new UUID for each "
            "request)."
        )


def reserve(store: Store, key: str, request: str, *, now: datetime | None = None) -> Answer | None:
    """None when `key` is new: it is now reserved, and the caller carries the request out and
    then calls `record` (or `forget`, if it failed). Otherwise the first request's answer,
    once it has one (waiting up to COPY_WAITS seconds for it)."""
    _purge_now_and_then(store)
    deadline = time.monotonic() + COPY_WAITS
    pause = 0.02
    while True:
        try:
            with store.write() as session:
                row = session.get(RequestKeyRow, key)
                if row is None:
                    session.add(
                        RequestKeyRow(key=key, fingerprint=request, created=now or utcnow())
                    )
                    return None
                if row.fingerprint != request:
                    raise ValidationError(
                        "This Idempotency-Key was sent with another request before; send a "
                        "new key with each request (the same key only with its copy)."
                    )
                if row.answer_status is not None:
                    return Answer(row.answer_status, row.answer_type or "", row.answer_body or b"")
        except IntegrityError:  # a copy reserved it between our read and our commit
            pass
        if time.monotonic() >= deadline:
            raise ConflictError(
                f"The first request with this Idempotency-Key has had no answer for "
                f"{COPY_WAITS:g} s (it is still at work, or its server stopped midway); see "
                "whether it was done before sending it again with a new key."
            )
        time.sleep(pause)
        pause = min(pause * 2, 0.5)


def record(store: Store, key: str, answer: Answer) -> None:
    with store.write() as session:
        session.execute(
            update(RequestKeyRow)
            .where(RequestKeyRow.key == key)
            .values(
                answer_status=answer.status,
                answer_type=answer.content_type,
                answer_body=answer.body,
            )
        )


def forget(store: Store, key: str) -> None:
    with store.write() as session:
        session.execute(delete(RequestKeyRow).where(RequestKeyRow.key == key))


def _purge_now_and_then(store: Store) -> None:
    """Delete keys older than KEEP, at most once an hour per store and process."""
    with _purged_lock:
        last = _purged.get(store.url)
        if last is not None and time.monotonic() - last < 3600:
            return
        _purged[store.url] = time.monotonic()
    with store.write() as session:
        session.execute(delete(RequestKeyRow).where(RequestKeyRow.created < utcnow() - KEEP))

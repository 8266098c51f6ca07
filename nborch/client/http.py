"""The HTTP transport: each operation is one request to a server's API, and `HttpClient`, the
client of a server (NBORCH_API_URL) over it.

Answers and errors come back as the same models and the same error classes (with the same
messages) as in-process. While the server cannot be reached, a call is retried for
`retry_for` seconds (a worker keeps trying for minutes, a command for a few seconds), so a
server restart loses nothing; a request that is not idempotent by itself carries an
Idempotency-Key, the same in each copy, so the server carries it out once.

Imports httpx and pydantic, nothing of the store or the orchestration.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from functools import cache
from typing import Any
from urllib.parse import quote

import httpx
from pydantic import TypeAdapter
from pydantic_core import to_jsonable_python

from nborch.client.client import Client
from nborch.client.operations import API_PREFIX, IDEMPOTENCY_HEADER, KEEP, Changes, Operation
from nborch.client.wire_errors import ServerUnavailableError, error_from_body
from nborch.errors import ConflictError
from nborch.models import CellFailure, FlowRun, StateType, Watch

# Answers that say "not now" rather than "no": retried like a lost connection.
_RETRY_STATUSES = {502, 503, 504}


@cache
def _adapter(kind: Any) -> TypeAdapter[Any]:
    return TypeAdapter(kind)


class HttpTransport:
    """Carries operations out as requests to the nborch server at `url`, with an API key."""

    is_remote = True

    def __init__(
        self,
        url: str,
        api_key: str | None = None,
        *,
        retry_for: float = 10.0,
        timeout: float = 30.0,
        on_connection: Callable[[bool, str], None] | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.http = httpx.Client(base_url=self.url + API_PREFIX, headers=headers, timeout=timeout)
        self.timeout = timeout
        self.retry_for = retry_for
        # Told (False, why) when the server is lost and (True, "") when it answers again.
        self.on_connection = on_connection
        self._lost = threading.Event()
        # Per thread: did the last call go out more than once? Then the server may have
        # done it already, its answer lost (see HttpClient.set_state and claim_runs).
        self.calls = threading.local()

    def close(self) -> None:
        self.http.close()

    def watch_pool(self, pool_name: str, on_work: Callable[[], None]) -> Watch | None:
        return None  # a server's worker long-polls its claims instead

    def call(self, operation: Operation, arguments: dict[str, Any]) -> Any:
        args = self._given(operation, arguments)
        path = operation.path
        for name in operation.path_fields:
            path = path.replace("{" + name + "}", quote(str(args.pop(name)), safe=""))
        given = {
            name: args.pop(name) for name in list(args) if name in operation.params.model_fields
        }
        query = {
            name: to_jsonable_python(value)
            for name, value in given.items()
            if value not in (None, (), [])
        }
        body: Any = None
        if operation.body_arg:
            body = to_jsonable_python(args.pop(operation.body_arg))
        elif operation.body is not None:
            body = to_jsonable_python(args)
        # A long poll's answer may take its wait on top of the usual time.
        wait = float(arguments.get(operation.waits_for) or 0) if operation.waits_for else 0.0
        response = self._send(operation, path, query, body, wait)
        if response.status_code >= 400:
            raise error_from_body(response.status_code, _json_or_text(response))
        if operation.response is None:
            return None
        value = _adapter(operation.response).validate_python(response.json())
        return operation.from_wire(value) if operation.from_wire else value

    @staticmethod
    def _given(operation: Operation, arguments: dict[str, Any]) -> dict[str, Any]:
        """The arguments to send: none left as KEEP, and in an update (`Changes`) none left
        at a default of None (the server changes only the fields it is sent)."""
        updates = isinstance(operation.body, type) and issubclass(operation.body, Changes)
        defaults = operation.signature.parameters if operation.signature else {}
        return {
            name: value
            for name, value in arguments.items()
            if value is not KEEP
            and not (
                updates and value is None and name in defaults and defaults[name].default is None
            )
        }

    def _send(
        self, operation: Operation, path: str, query: dict[str, Any], body: Any, wait: float
    ) -> httpx.Response:
        deadline = time.monotonic() + self.retry_for
        pause = 0.2
        self.calls.sent_again = False
        self.calls.sent_at = None
        # Every copy of the request carries the same key: the server carries it out once.
        headers = {IDEMPOTENCY_HEADER: str(uuid.uuid4())} if operation.once else None
        while True:
            sent_at = time.monotonic()
            try:
                response = self.http.request(
                    operation.method,
                    path,
                    params=query,
                    json=body if body is not None else None,
                    headers=headers,
                    timeout=wait + self.timeout if wait > 0 else httpx.USE_CLIENT_DEFAULT,
                )
            except httpx.TransportError as err:
                failure = f"{type(err).__name__}: {err}"
            else:
                if response.status_code not in _RETRY_STATUSES:
                    self.calls.sent_at = sent_at
                    self._connected()
                    return response
                failure = f"HTTP {response.status_code}"
                if time.monotonic() >= deadline:
                    return response
            if time.monotonic() >= deadline:
                raise ServerUnavailableError(
                    f"Cannot reach the nborch server at {self.url} ({failure}). Start it with: "
                    "nborch server start — or unset NBORCH_API_URL to use the local store."
                )
            self._disconnected(failure)
            time.sleep(pause)
            pause = min(pause * 2, 2.0)
            self.calls.sent_again = True

    def _disconnected(self, why: str) -> None:
        if not self._lost.is_set():
            self._lost.set()
            if self.on_connection:
                self.on_connection(False, why)

    def _connected(self) -> None:
        if self._lost.is_set():
            self._lost.clear()
            if self.on_connection:
                self.on_connection(True, "")


def _json_or_text(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text


class HttpClient(Client):
    """A client of the nborch server at `url` (NBORCH_API_URL), with an API key.

    Beyond the transport, it settles the two answers a lost connection can hide: a claim
    or a state change the server made although its answer never came back."""

    transport: HttpTransport

    def __init__(
        self,
        url: str,
        api_key: str | None = None,
        *,
        retry_for: float = 10.0,
        timeout: float = 30.0,
        on_connection: Callable[[bool, str], None] | None = None,
    ) -> None:
        super().__init__(
            HttpTransport(
                url, api_key, retry_for=retry_for, timeout=timeout, on_connection=on_connection
            )
        )

    @property
    def url(self) -> str:
        return self.transport.url

    @property
    def on_connection(self) -> Callable[[bool, str], None] | None:
        return self.transport.on_connection

    @on_connection.setter
    def on_connection(self, tell: Callable[[bool, str], None] | None) -> None:
        self.transport.on_connection = tell

    def close(self) -> None:
        self.transport.close()

    def _sent_again(self) -> bool:
        return bool(getattr(self.transport.calls, "sent_again", False))

    def last_request_sent(self) -> float | None:
        """time.monotonic() when this thread's last answered request was sent (the copy
        that was answered, of a call sent again and again while the server was away)."""
        sent_at: float | None = getattr(self.transport.calls, "sent_at", None)
        return sent_at

    def claim_runs(
        self,
        pool_name: str,
        worker_id: uuid.UUID,
        limit: int,
        *,
        lookahead: float = 0.0,
        wait: float = 0.0,
    ) -> list[FlowRun]:
        claimed = super().claim_runs(pool_name, worker_id, limit, lookahead=lookahead, wait=wait)
        if self._sent_again():
            # A claim whose answer was lost handed runs to this worker all the same: take them
            # too, or they would wait, PENDING, for as long as the worker lives.
            got = {run.id for run in claimed}
            pending = self.list_runs(pool_name=pool_name, states=[StateType.PENDING], limit=1000)
            claimed += [r for r in pending if r.worker_id == worker_id and r.id not in got]
        return claimed

    def set_state(
        self,
        run_id: str | uuid.UUID,
        state: StateType,
        message: str = "",
        *,
        failure: CellFailure | None = None,
        attempt: int | None = None,
        timed_out: bool = False,
    ) -> FlowRun:
        try:
            return super().set_state(
                run_id, state, message, failure=failure, attempt=attempt, timed_out=timed_out
            )
        except ConflictError:
            if not self._sent_again():
                raise
            # Sent again after a lost answer: the change may have been made the first time.
            run = self.get_run(run_id)
            if run.state is state:
                return run
            raise

"""The API's work, apart from any web framework: check who calls, parse and validate the
request against its route, call the client operation off the event loop, and answer.

Bad input never reaches the store: every input is validated by the route's models first, and
every refusal is a 4xx whose body names the problem. A 500 means a bug in nborch.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import socket
import threading
import typing
import uuid
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pydantic
from pydantic import BaseModel, TypeAdapter
from sqlalchemy.exc import DataError, IntegrityError, InterfaceError, OperationalError

from nborch.api import lab, roles
from nborch.api.long_poll import ClaimLongPoll
from nborch.api.openapi import build_openapi
from nborch.client.local import LocalClient
from nborch.client.routes import (
    MAX_JSON_DEPTH,
    PUBLIC,
    SERVER_OPS,
    AppliedDeployment,
    Changes,
    CronPreview,
    DeployNotebook,
    Health,
    NotebookParameters,
    Route,
    StoreHealth,
)
from nborch.client.wire_errors import (
    AuthenticationError,
    BadRequestError,
    PayloadTooLargeError,
    PermissionDeniedError,
    error_body,
    status_of,
)
from nborch.errors import ConflictError, NborchError, NotFoundError, StoreError, ValidationError
from nborch.execution.html import notebook_html
from nborch.models import ApiKeyRole
from nborch.orchestration import request_keys
from nborch.orchestration.api_keys import Principal, authenticate
from nborch.orchestration.crash_detection import server_seen
from nborch.settings import get_settings
from nborch.store.migrate import HEAD_REVISION, read_schema_revision

log = logging.getLogger("nborch.api")

# The store's driver saying it cannot be reached (PostgreSQL down or restarting, SQLite
# locked): the caller is told to try again (503, which nborch's clients retry), not that
# nborch failed.
STORE_UNREACHABLE = (OperationalError, InterfaceError)


def unreachable(err: OperationalError | InterfaceError) -> StoreError:
    return StoreError(
        f"nborch's store cannot be reached now ({type(err.orig).__name__}): try again in a moment."
    )


JSON_TYPE = "application/json"


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes = b""
    content_type: str = JSON_TYPE


def error_answer(err: NborchError) -> Answer:
    return Answer(status_of(err), json.dumps(error_body(err)).encode())


@cache
def _adapter(kind: Any) -> TypeAdapter[Any]:
    return TypeAdapter(kind)


def _invalid(route: Route, err: pydantic.ValidationError, where: str) -> ValidationError:
    """Pydantic's errors in one line, naming the operation: `Invalid request to create_pool:
    body.limit: Input should be ...; ...`; an unknown field is named, with the fix."""
    parts = []
    for item in err.errors()[:5]:
        location = ".".join(str(p) for p in (where, *item["loc"]))
        if item["type"] == "extra_forbidden":
            parts.append(f"{location}: unknown field, which {route.name} does not take: remove it")
        else:
            parts.append(f"{location}: {item['msg']}")
    more = len(err.errors()) - 5
    text = "; ".join(parts) + (f" (and {more} more)" if more > 0 else "")
    return ValidationError(f"Invalid request to {route.name}: {text}")


_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_A_BRACKET = bytes(b for b in range(256) if b not in b"[]{}")
_INNERMOST = re.compile(rb"\[\]|\{\}")


def _nested_deeper_than(body: bytes, limit: int) -> bool:
    """Whether JSON text nests arrays and objects more than `limit` deep, told without
    parsing it (parsers recurse, and a deep enough document exhausts the stack): each pass
    takes away the innermost pairs of brackets left once strings are removed."""
    brackets = _JSON_STRING.sub(b"", body).translate(None, _NOT_A_BRACKET)
    for _ in range(limit):
        shorter = _INNERMOST.sub(b"", brackets)
        if shorter == brackets:  # nothing left, or not JSON (the parser will say so)
            return False
        brackets = shorter
    return _INNERMOST.search(brackets) is not None


def _no_nul(value: Any, where: str) -> None:
    """Refuse NUL characters anywhere in the input: no store keeps them in text."""
    if isinstance(value, str):
        if "\x00" in value:
            raise ValidationError(f"{where} contains a NUL character, which nborch refuses.")
    elif isinstance(value, Mapping):
        for key, item in value.items():
            _no_nul(key, where)
            _no_nul(item, f"{where}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _no_nul(item, f"{where}[{index}]")


def _admit(route: Route, principal: Principal | None, size: int) -> None:
    """Refuse a caller without a valid key (unless the route is public), and a body of
    `size` bytes beyond the route's limit."""
    if route.access != PUBLIC and principal is None:
        raise AuthenticationError(
            "This nborch server needs an API key: set NBORCH_API_KEY. Create one on the "
            "server's host with: nborch api-key create NAME --role admin"
        )
    if size > route.max_body:
        raise PayloadTooLargeError(
            f"The request body has {size} bytes; {route.name} takes at most {route.max_body}."
        )


def _is_list_field(model: type[BaseModel], name: str) -> bool:
    annotation = model.model_fields[name].annotation
    return typing.get_origin(annotation) is list


class ApiService:
    """Answers API requests from a client of the store (the server's own, in-process).

    `notebook_root` is the folder whose notebooks may be deployed by path (Jupyter's
    root_dir; by default the working directory)."""

    def __init__(
        self,
        client: LocalClient | None = None,
        *,
        threads: int = 16,
        notebook_root: str | Path | None = None,
        name: str | None = None,
    ) -> None:
        self.client = client or LocalClient()
        # Which server this is, to the store: its workers' heartbeats name it, and it keeps
        # its row alive (see `keep_alive`), so that its outage is not taken for theirs.
        self.name = name or f"{socket.gethostname()} ({os.getpid()})"
        self._alive = threading.Event()
        self.notebook_root = Path(notebook_root or Path.cwd()).expanduser()
        self.executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="nborch-api")
        # Claims that wait for runs wait on the event loop, holding no thread meanwhile.
        self.long_poll = ClaimLongPoll(self.client, self._off_loop)

    def keep_alive(self) -> None:
        """Tell the store, now and every half heartbeat interval, that this server is up
        (`nborch.orchestration.crash_detection.server_seen`), on a thread of its own."""
        threading.Thread(target=self._keep_alive, name="nborch-server-alive", daemon=True).start()

    def _keep_alive(self) -> None:
        restarted = True
        interval = get_settings().heartbeat_interval / 2
        while True:
            try:
                server_seen(self.client.store, self.name, restarted=restarted)
                restarted = False
            except Exception as err:  # the store is away: its workers' silence is not theirs
                log.warning("nborch API: cannot tell the store this server is up: %s", err)
            if self._alive.wait(interval):
                return

    def close(self) -> None:
        self._alive.set()
        self.long_poll.close()
        self.executor.shutdown(wait=False, cancel_futures=True)

    async def _off_loop(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, lambda: fn(*args, **kwargs))

    async def principal_for_key(self, authorization: str | None) -> Principal | None:
        """The caller named by an `Authorization: Bearer KEY` header, if the key is valid."""
        if not authorization:
            return None
        scheme, _, key = authorization.partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            return None
        try:
            principal: Principal | None = await self._off_loop(
                authenticate, self.client.store, key.strip()
            )
        except STORE_UNREACHABLE as err:
            raise unreachable(err) from None
        return principal

    async def handle(
        self,
        route: Route,
        principal: Principal | None,
        path_args: Mapping[str, str],
        query: Mapping[str, list[str]],
        body: bytes,
        idempotency_key: str | None = None,
    ) -> Answer:
        """The answer to one request. With an `idempotency_key`, a route that is not
        idempotent by itself (`route.once`) is carried out once per key and caller: a copy
        gets the first request's answer (see `nborch.orchestration.request_keys`)."""
        if idempotency_key is None or not route.once or principal is None:
            return await self._answer(route, principal, path_args, query, body)
        try:
            request_keys.check_key(idempotency_key)
            key = f"{principal.identity}:{idempotency_key}"
            request = request_keys.fingerprint(
                route.method, route.path, repr(sorted(path_args.items())) + repr(query), body
            )
            first = await self._off_loop(request_keys.reserve, self.client.store, key, request)
        except NborchError as err:
            return error_answer(err)
        except STORE_UNREACHABLE as err:
            return error_answer(unreachable(err))
        if first is not None:
            return Answer(first.status, first.body, first.content_type)
        answered = False
        try:
            answer = await self._answer(route, principal, path_args, query, body)
            answered = answer.status < 400
        finally:
            await self._settle_key(key, answer if answered else None)
        return answer

    async def _settle_key(self, key: str, answer: Answer | None) -> None:
        """Record the answer of a keyed request, or drop the key of one that failed (it
        changed nothing: its copy is carried out anew)."""
        try:
            if answer is None:
                await self._off_loop(request_keys.forget, self.client.store, key)
            else:
                stored = request_keys.Answer(answer.status, answer.content_type, answer.body)
                await self._off_loop(request_keys.record, self.client.store, key, stored)
        except Exception:  # the store went away: a copy will be told the key is unanswered
            log.exception("nborch API: cannot settle Idempotency-Key %s", key)

    async def _answer(
        self,
        route: Route,
        principal: Principal | None,
        path_args: Mapping[str, str],
        query: Mapping[str, list[str]],
        body: bytes,
    ) -> Answer:
        try:
            _admit(route, principal, len(body))
            kwargs = self._inputs(route, path_args, query, body)
            if principal is not None:
                await self._off_loop(self._authorize, route, principal, kwargs)
                if route.caller:  # who calls, from the key or login: never from the request
                    kwargs[route.caller] = principal.identity
            kwargs.update({name: self.name for name in route.filled_by_server})
            if route.name in SERVER_OPS:
                result = await self._off_loop(getattr(self, route.name), **kwargs)
            elif route.waits_for and kwargs.get(route.waits_for):
                result = await self.long_poll.claim_runs(**kwargs)
            else:  # the operation's orchestration function, on the server's store
                result = await self._off_loop(self.client.transport.call, route, kwargs)
        except NborchError as err:
            return error_answer(err)
        except DataError as err:  # e.g. a number beyond what the store's column holds
            return error_answer(ValidationError(f"A value does not fit the store: {err.orig}"))
        except OverflowError as err:  # SQLite's way of saying the same
            return error_answer(ValidationError(f"A value does not fit the store: {err}"))
        except IntegrityError as err:
            return error_answer(ConflictError(f"The store refused the change: {err.orig}"))
        except STORE_UNREACHABLE as err:
            return error_answer(unreachable(err))
        except Exception:
            log.exception("nborch API: %s %s failed", route.method, route.path)
            return Answer(
                500,
                json.dumps(
                    {"error": {"type": "InternalError", "message": "nborch failed; see its log."}}
                ).encode(),
            )
        if isinstance(result, Answer):  # the server's own, with a status of its choice
            return result
        if route.response is None:
            return Answer(route.success_status)
        return self._json(route, route.to_wire(result) if route.to_wire else result)

    @staticmethod
    def refusal(route: Route, principal: Principal | None, size: int) -> Answer | None:
        """The answer to a request that is refused before its body is read (no valid key
        for a route that needs one, or a body of `size` bytes beyond the route's limit)."""
        try:
            _admit(route, principal, size)
        except NborchError as err:
            return error_answer(err)
        return None

    @staticmethod
    def _json(route: Route, value: Any) -> Answer:
        if route.content_type != JSON_TYPE:
            return Answer(route.success_status, str(value).encode(), route.content_type)
        return Answer(route.success_status, _adapter(route.response).dump_json(value))

    # ---- what the server answers itself --------------------------------------------------

    def health(self) -> Answer:
        """200 with status "ok" when the store can be read and its schema is the one this
        nborch needs; else 503, status "error", and the store's `error` in one line."""
        store = StoreHealth(expected=HEAD_REVISION)
        try:
            store.revision = read_schema_revision(self.client.store)
            store.reachable = True
        except NborchError as err:
            store.error = err.message
        if store.reachable and store.revision != HEAD_REVISION:
            store.error = (
                f"The store's schema is {store.revision or 'missing'}; this nborch needs "
                f"{HEAD_REVISION}. Restart nborch, which brings the store up to date when it "
                "opens it (or upgrade nborch, if the store is newer)."
            )
        if store.error:
            log.warning("nborch health: %s", store.error)
        body = Health(
            status="error" if store.error else "ok", version=version("nborch"), store=store
        )
        return Answer(503 if store.error else 200, body.model_dump_json().encode())

    def openapi(self) -> dict[str, Any]:
        return build_openapi()

    def output_html(self, run_id: uuid.UUID) -> str:
        notebook = self.client.read_output_notebook(run_id)
        if notebook is None:
            run = self.client.get_run(run_id)
            raise NotFoundError(
                f"Flow run '{run.name}' has no output notebook yet (it is {run.state.value})."
            )
        return notebook_html(notebook)

    def notebook_parameters(self, path: str) -> NotebookParameters:
        return lab.notebook_parameters(self.notebook_root, path)

    def cron_preview(self, cron: str, timezone: str, count: int) -> CronPreview:
        return lab.cron_preview(cron, timezone, count)

    def deploy_notebook(self, request: DeployNotebook) -> AppliedDeployment:
        return lab.deploy_notebook(self.client, self.notebook_root, request)

    @staticmethod
    def _inputs(
        route: Route, path_args: Mapping[str, str], query: Mapping[str, list[str]], body: bytes
    ) -> dict[str, Any]:
        """The operation's keyword arguments, validated; ValidationError when they are not."""
        raw: dict[str, Any] = dict(path_args)
        for name, values in query.items():
            if name in raw or name not in route.params.model_fields:
                raise ValidationError(
                    f"Unknown query parameter '{name}' for {route.method} {route.path}."
                )
            raw[name] = values if _is_list_field(route.params, name) else values[-1]
        _no_nul(raw, "path or query")
        try:
            params = route.params.model_validate(raw)
        except pydantic.ValidationError as err:
            raise _invalid(route, err, "query") from None
        kwargs = {name: getattr(params, name) for name in type(params).model_fields}
        if route.body is None:
            if body.strip():
                raise ValidationError(f"{route.method} {route.path} takes no request body.")
            return kwargs
        try:
            text = body.decode() if body else "null"
        except UnicodeDecodeError as err:
            raise BadRequestError(
                f"The request body of {route.name} is not UTF-8 (byte {err.start}): send its "
                "JSON encoded as UTF-8."
            ) from None
        if _nested_deeper_than(body, MAX_JSON_DEPTH):
            raise ValidationError(
                f"The request body of {route.name} nests arrays and objects more than "
                f"{MAX_JSON_DEPTH} levels deep, which nborch refuses: flatten it."
            )
        try:
            document = json.loads(text)
        except ValueError as err:
            raise ValidationError(f"The request body is not valid JSON: {err}") from None
        _no_nul(document, "body")
        try:  # strictly, as JSON: `true` is no number, `"1"` no integer
            parsed = _adapter(route.body).validate_json(text, strict=True)
        except pydantic.ValidationError as err:
            raise _invalid(route, err, "body") from None
        if route.body_arg:
            kwargs[route.body_arg] = parsed
        else:
            given = (
                parsed.model_fields_set
                if isinstance(parsed, Changes)
                else type(parsed).model_fields
            )
            kwargs.update({name: getattr(parsed, name) for name in given})
        return kwargs

    def _authorize(self, route: Route, principal: Principal, kwargs: dict[str, Any]) -> None:
        """Refuse (403) a call the route's declared access does not admit
        (`nborch.api.roles`)."""
        access = route.access

        @cache
        def pool() -> str | None:
            if access.field is None:
                return None
            if access.kind == "run":
                return self.client.get_run(kwargs[access.field]).pool_name
            if access.kind == "worker":
                return self.client.get_worker(kwargs[access.field]).pool_name
            found: str | None = kwargs.get(access.field) if access.kind == "pool" else None
            return found

        deployment = kwargs.get(access.runs) if access.runs else None
        if not roles.permits(access, principal, pool, deployment):
            scoped = pool() if principal.role is ApiKeyRole.WORKER else None
            raise roles.refusal(route, principal, scoped, deployment)
        # A worker's write about a run is fenced by its attempt (`orchestration.fencing`).
        fenced = "attempt" in route.params.model_fields
        if fenced and principal.role is ApiKeyRole.WORKER and kwargs.get("attempt") is None:
            raise PermissionDeniedError(
                f"API key '{principal.name}' is a worker key: it writes about a run only as "
                f"the attempt that holds it. Call {route.name} with ?attempt=N (the run's "
                "attempt when the worker claimed it)."
            )

"""Tornado handlers for the API: one handler class per path, one method per route.

The same handlers are mounted by `nborch server start` (API keys) and by the Jupyter server
extension (Jupyter's own login); the two differ in how they learn who calls, and in when:
the standalone server knows it from the headers, so it refuses a caller without a valid key
(and a body beyond the route's limit) before reading the body.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from typing import Any

from tornado.web import RequestHandler, stream_request_body

from nborch.api.service import JSON_TYPE, Answer, ApiService, error_answer
from nborch.client.routes import API_PREFIX, IDEMPOTENCY_HEADER, MAX_BODY_BYTES, ROUTES, Route
from nborch.client.wire_errors import BadRequestError
from nborch.errors import NborchError
from nborch.orchestration.api_keys import Principal


class ApiHandlerMixin:
    """Serves the routes of one path; subclasses say who the caller is."""

    service: ApiService
    routes: dict[str, Route]

    def initialize(self, service: ApiService, routes: dict[str, Route]) -> None:
        self.service = service
        self.routes = routes

    async def caller(self) -> Principal | None:
        raise NotImplementedError

    def body(self) -> bytes:
        handler: Any = self
        return handler.request.body or b""

    def decode_argument(self, value: bytes, name: str | None = None) -> str:
        # Bytes that are not UTF-8 are kept (as surrogates) for `_serve` to refuse with a
        # 400 in the API's own shape, rather than tornado's.
        return value.decode("utf-8", "surrogateescape")

    async def _not_offered(self, method: str) -> None:
        handler: Any = self
        allowed = ", ".join(sorted(self.routes))
        handler.set_header("Allow", allowed)
        message = f"{method} is not offered here; this path takes {allowed}."
        await self._send(Answer(405, _error_json(message)))

    async def _serve(self, method: str, path_args: dict[str, str]) -> None:
        handler: Any = self
        route = self.routes.get(method)
        if route is None:
            await self._not_offered(method)
            return
        try:
            _check_path(route, path_args)
            query = _query(route, handler.request.query_arguments)
        except NborchError as err:
            await self._send(error_answer(err))
            return
        principal = await self.caller()
        answer = await self.service.handle(
            route,
            principal,
            path_args,
            query,
            self.body(),
            handler.request.headers.get(IDEMPOTENCY_HEADER),
        )
        await self._send(answer)

    async def _send(self, answer: Answer) -> None:
        handler: Any = self
        handler.set_status(answer.status)
        if answer.body:
            handler.set_header("Content-Type", answer.content_type)
            handler.write(answer.body)
        handler.finish()

    async def get(self, **path_args: str) -> None:
        await self._serve("GET", path_args)

    async def post(self, **path_args: str) -> None:
        await self._serve("POST", path_args)

    async def put(self, **path_args: str) -> None:
        await self._serve("PUT", path_args)

    async def patch(self, **path_args: str) -> None:
        await self._serve("PATCH", path_args)

    async def delete(self, **path_args: str) -> None:
        await self._serve("DELETE", path_args)


def _query(route: Route, arguments: dict[str, list[bytes]]) -> dict[str, list[str]]:
    """The query as text; 400 (BadRequestError) for bytes that are not UTF-8. Tornado gives
    the names as latin-1 text and the values as bytes."""
    try:
        return {
            name.encode("latin-1").decode(): [value.decode() for value in values]
            for name, values in arguments.items()
        }
    except UnicodeError:
        raise BadRequestError(
            f"The query string of {route.method} {route.path} is not UTF-8: percent-encode "
            "its text as UTF-8 (e.g. %C3%A9 for é)."
        ) from None


def _check_path(route: Route, path_args: dict[str, str]) -> None:
    for name, value in path_args.items():
        try:
            value.encode()
        except UnicodeEncodeError:
            raise BadRequestError(
                f"The {name} in the path of {route.method} {route.path} is not UTF-8: "
                "percent-encode its text as UTF-8."
            ) from None


def _error_json(message: str, kind: str = "ValidationError") -> bytes:
    return json.dumps({"error": {"type": kind, "message": message}}).encode()


@stream_request_body
class KeyAuthenticatedHandler(ApiHandlerMixin, RequestHandler):
    """The standalone server's handler: the caller is whoever the API key stands for.

    The body is streamed, not buffered by tornado: `prepare` answers from the headers alone
    when the method is not offered, the key is missing or invalid (401), or the
    Content-Length is beyond the route's limit (413), so such a request is answered without
    its body being read; and `data_received` keeps no more than the route's limit."""

    _principal: Principal | None = None
    _route: Route | None = None
    _received = 0

    async def prepare(self) -> None:
        self._chunks: list[bytes] = []
        method = self.request.method or ""
        self._route = self.routes.get(method)
        if self._route is None:
            await self._not_offered(method)
            return
        try:
            self._principal = await self.service.principal_for_key(
                self.request.headers.get("Authorization")
            )
        except NborchError as err:  # the store is away: 503, which clients retry
            await self._send(error_answer(err))
            return
        length = int(self.request.headers.get("Content-Length") or 0)
        refusal = self.service.refusal(self._route, self._principal, length)
        if refusal is not None:
            await self._send(refusal)

    def data_received(self, chunk: bytes) -> None:
        self._received += len(chunk)
        limit = self._route.max_body if self._route else MAX_BODY_BYTES
        if self._received > limit:  # sent without a Content-Length: refused once it is read
            self._chunks.clear()
        else:
            self._chunks.append(chunk)

    def body(self) -> bytes:
        return b"".join(self._chunks)

    async def caller(self) -> Principal | None:
        return self._principal

    async def _serve(self, method: str, path_args: dict[str, str]) -> None:
        if self._route is not None and self._received > self._route.max_body:
            refusal = self.service.refusal(self._route, self._principal, self._received)
            if refusal is not None:
                await self._send(refusal)
                return
        await super()._serve(method, path_args)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        # Tornado's own refusals (a malformed request) in the API's JSON shape too.
        self.set_header("Content-Type", JSON_TYPE)
        self.finish(_error_json(self._reason or "Bad request"))


@stream_request_body
class NoSuchPathHandler(RequestHandler):
    """The standalone server's answer to a path it does not serve: 404 at once, from the
    request line alone (tornado's own would read the body first)."""

    def prepare(self) -> None:
        self.set_status(404)
        self.set_header("Content-Type", JSON_TYPE)
        message = (
            f"There is no {self.request.path} here: nborch's API is under {API_PREFIX} "
            f"(its operations are listed in {API_PREFIX}/openapi.json)."
        )
        self.finish(_error_json(message, "NotFoundError"))


def _pattern(path: str) -> str:
    """`/work-pools/{name}` as a tornado pattern with named groups (one segment each)."""
    return re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", path) + "/?$"


def api_handlers(
    service: ApiService, handler_class: type[ApiHandlerMixin], base_url: str = "/"
) -> list[tuple[str, type, dict[str, Any]]]:
    """URL specs for every route under `base_url`, paths without inputs first so that
    `/flow-runs/adhoc` is not taken for a run id."""
    by_path: dict[str, dict[str, Route]] = defaultdict(dict)
    for route in ROUTES:
        by_path[route.path][route.method] = route
    prefix = base_url.rstrip("/") + API_PREFIX
    ordered = sorted(by_path, key=lambda p: (p.count("{"), -len(p)))
    specs: list[tuple[str, type, dict[str, Any]]] = []
    for path in ordered:
        specs.append(
            (prefix + _pattern(path), handler_class, {"service": service, "routes": by_path[path]})
        )
    return specs

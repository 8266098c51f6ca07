"""Tornado handlers for the API: one handler class per path, one method per route.

The same handlers are mounted by `nborch server start` (API keys) and by the Jupyter server
extension (Jupyter's own login); the two differ only in how they learn who calls.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from typing import Any

from tornado.web import RequestHandler

from nborch.api.service import JSON_TYPE, Answer, ApiService
from nborch.client.routes import API_PREFIX, IDEMPOTENCY_HEADER, ROUTES, Route
from nborch.errors import ValidationError
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

    async def _serve(self, method: str, path_args: dict[str, str]) -> None:
        handler: Any = self
        route = self.routes.get(method)
        if route is None:
            allowed = ", ".join(sorted(self.routes))
            handler.set_header("Allow", allowed)
            message = f"{method} is not offered here; this path takes {allowed}."
            await self._send(Answer(405, _error_json(message)))
            return
        principal = await self.caller()
        answer = await self.service.handle(
            route,
            principal,
            path_args,
            _query(handler.request.query_arguments),
            handler.request.body or b"",
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


def _query(arguments: dict[str, list[bytes]]) -> dict[str, list[str]]:
    try:
        return {name: [v.decode() for v in values] for name, values in arguments.items()}
    except UnicodeDecodeError:
        raise ValidationError("The query string is not UTF-8.") from None


def _error_json(message: str, kind: str = "ValidationError") -> bytes:
    return json.dumps({"error": {"type": kind, "message": message}}).encode()


class KeyAuthenticatedHandler(ApiHandlerMixin, RequestHandler):
    """The standalone server's handler: the caller is whoever the API key stands for."""

    async def caller(self) -> Principal | None:
        return await self.service.principal_for_key(self.request.headers.get("Authorization"))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        # Tornado's own refusals (a malformed request) in the API's JSON shape too.
        self.set_header("Content-Type", JSON_TYPE)
        self.finish(_error_json(self._reason or "Bad request"))


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

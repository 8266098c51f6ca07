"""The OpenAPI 3.1 document of the API, made from the route table and its pydantic models."""

from __future__ import annotations

from functools import lru_cache
from importlib.metadata import version
from typing import Any

from pydantic import BaseModel, TypeAdapter
from pydantic.json_schema import models_json_schema

from nborch.client.routes import API_PREFIX, IDEMPOTENCY_HEADER, PUBLIC, ROUTES, Route

_REF = "#/components/schemas/{model}"

_ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["type", "message"],
            "properties": {
                "type": {"type": "string"},
                "message": {"type": "string"},
                "parameter": {"type": "string"},
            },
        }
    },
}

_REFUSALS = {
    "400": "Malformed request",
    "401": "No API key, or an unknown one",
    "403": "The key may not do this",
    "404": "An object named in the request does not exist",
    "405": "Method not offered on this path",
    "409": "The object's state does not allow it, or the name is taken",
    "413": "Request body too large",
    "422": "Invalid input",
}


def _schema_of(kind: Any, components: dict[str, Any]) -> dict[str, Any]:
    schema = TypeAdapter(kind).json_schema(ref_template=_REF)
    components.update(schema.pop("$defs", {}))
    return schema


def _parameters(route: Route, components: dict[str, Any]) -> list[dict[str, Any]]:
    model_schema = _schema_of(route.params, components)
    properties = model_schema.get("properties", {})
    required = set(model_schema.get("required", []))
    parameters = []
    for name, schema in properties.items():
        in_path = name in route.path_fields
        parameter: dict[str, Any] = {
            "name": name,
            "in": "path" if in_path else "query",
            "required": in_path or name in required,
            "schema": schema,
        }
        if schema.get("type") == "array":
            parameter.update(style="form", explode=True)
        parameters.append(parameter)
    if route.once:
        parameters.append(_IDEMPOTENCY_PARAMETER)
    return parameters


_IDEMPOTENCY_PARAMETER = {
    "name": IDEMPOTENCY_HEADER,
    "in": "header",
    "required": False,
    "description": (
        "A new key (e.g. a UUID) for each request, the same for its copies: a copy sent "
        "after a lost answer gets the first request's answer instead of being carried out "
        "again. Keys are kept for a day."
    ),
    "schema": {"type": "string", "minLength": 1, "maxLength": 200, "pattern": "^[!-~]+$"},
}


def _operation(route: Route, components: dict[str, Any]) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": route.name,
        "summary": route.summary,
        "parameters": _parameters(route, components),
        "responses": {},
        "x-nborch-access": route.access.describe(),
    }
    if route.body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _schema_of(route.body, components)}},
        }
    if route.response is None:
        operation["responses"][str(route.success_status)] = {"description": "Done"}
    else:
        schema = (
            {"type": "string"}
            if route.content_type != "application/json"
            else _schema_of(route.response, components)
        )
        operation["responses"][str(route.success_status)] = {
            "description": "OK",
            "content": {route.content_type: {"schema": schema}},
        }
    error = {"content": {"application/json": {"schema": {"$ref": _REF.format(model="Error")}}}}
    for status, text in _REFUSALS.items():
        operation["responses"][status] = {"description": text, **error}
    operation["responses"]["503"] = {"description": "The store cannot be reached", **error}
    if route.name == "health":  # its 503 is a Health too, saying what is wrong with the store
        operation["responses"]["503"] = {
            "description": "The store cannot be read, or its schema is not current",
            "content": {"application/json": {"schema": _schema_of(route.response, components)}},
        }
    if route.access == PUBLIC:
        operation["security"] = []
    return operation


@lru_cache(maxsize=1)
def build_openapi() -> dict[str, Any]:
    components: dict[str, Any] = {"Error": _ERROR_SCHEMA}
    # Models used as bodies get their own component names (stable, readable).
    bodies = [r.body for r in ROUTES if isinstance(r.body, type) and issubclass(r.body, BaseModel)]
    _, defs = models_json_schema([(m, "validation") for m in bodies], ref_template=_REF)
    components.update(defs.get("$defs", {}))
    paths: dict[str, dict[str, Any]] = {}
    for route in ROUTES:
        paths.setdefault(API_PREFIX + route.path, {})[route.method.lower()] = _operation(
            route, components
        )
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "nborch",
            "version": version("nborch"),
            "description": "Work pools, workers, deployments, schedules and flow runs of nborch.",
        },
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {"apiKey": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"apiKey": []}],
    }

"""The TypeScript types of the API, made from the operation table for the JupyterLab extension
(`labextension/src/api-types.ts`), so that its idea of the wire cannot drift from the server's.

Every input model (query and body) and every answer of every operation becomes an
`interface` (an enum a union of its values), with the models they refer to. What the server
answers is always there in full, so a model that is ever an answer has every field
required; a model that is only an input keeps its optional fields optional. `Any` becomes
`JsonValue`, a `dict[str, Any]` a `JsonObject`; dates are ISO 8601 strings.
"""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import BaseModel, TypeAdapter
from pydantic.json_schema import JsonSchemaMode

from nborch.client.operations import NoInput, Operation
from nborch.client.routes import ROUTES

HEADER = """\
/**
 * nborch's API as TypeScript sees it: the inputs and answers of every operation, made from
 * nborch's operation table (nborch/client/*_operations.py) by
 * `python -m nborch.api.codegen`. Do not edit: change the table and run it again (a test
 * fails while this file is stale). Dates are ISO 8601 strings, UTC.
 */

/** A JSON value, as parameters and job variables carry them. */
export type JsonValue =
  | string
  | number
  | boolean
  | null
  | JsonValue[]
  | { [key: string]: JsonValue };

export type JsonObject = Record<string, JsonValue>;
"""

_IDENTIFIER = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$]*$")


def _kinds(operation: Operation) -> tuple[list[Any], list[Any]]:
    """The operation's input kinds and its answer's kind."""
    inputs = [operation.params] if operation.params is not NoInput else []
    if operation.body is not None:
        inputs.append(operation.body)
    answers = [operation.response] if operation.content_type == "application/json" else []
    return inputs, [a for a in answers if a is not None]


def _schemas(kinds: list[Any], mode: JsonSchemaMode) -> dict[str, dict[str, Any]]:
    """The named schemas of these kinds: each model, and each model or enum it refers to."""
    found: dict[str, dict[str, Any]] = {}
    for kind in kinds:
        schema = TypeAdapter(kind).json_schema(mode=mode, ref_template="{model}")
        found.update(schema.pop("$defs", {}))
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            found[kind.__name__] = schema
    return found


def _union(parts: list[str]) -> str:
    unique = list(dict.fromkeys(parts))
    return " | ".join(unique)


def _type(schema: dict[str, Any]) -> str:
    """The TypeScript type for a JSON schema (as pydantic writes them)."""
    if "$ref" in schema:
        return str(schema["$ref"])
    if "const" in schema:
        return json.dumps(schema["const"]).replace('"', "'")
    if "enum" in schema:
        return _union([json.dumps(value).replace('"', "'") for value in schema["enum"]])
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return _union([_type(part) for part in schema[key]])
    kind = schema.get("type")
    if kind in ("string",):
        return "string"
    if kind in ("integer", "number"):
        return "number"
    if kind == "boolean":
        return "boolean"
    if kind == "null":
        return "null"
    if kind == "array":
        if "prefixItems" in schema:
            return "[" + ", ".join(_type(item) for item in schema["prefixItems"]) + "]"
        item = _type(schema.get("items", {}))
        return f"({item})[]" if " " in item else f"{item}[]"
    if kind == "object":
        if "properties" in schema:
            return _inline(schema)
        extra = schema.get("additionalProperties", True)
        if extra is True or extra == {}:
            return "JsonObject"
        return f"Record<string, {_type(extra)}>"
    return "JsonValue"


def _property(name: str) -> str:
    return name if _IDENTIFIER.match(name) else json.dumps(name).replace('"', "'")


def _members(schema: dict[str, Any], all_required: bool, indent: str) -> list[str]:
    required = set(schema.get("required", []))
    lines = []
    for name, field in schema.get("properties", {}).items():
        optional = "" if all_required or name in required else "?"
        lines.append(f"{indent}{_property(name)}{optional}: {_type(field)};")
    return lines


def _inline(schema: dict[str, Any]) -> str:
    return "{ " + " ".join(_members(schema, False, "")) + " }"


def _comment(text: str) -> list[str]:
    lines = [line.strip() for line in text.strip().splitlines()]
    if len(lines) == 1:
        return [f"/** {lines[0]} */"]
    return ["/**", *(f" * {line}".rstrip() for line in lines), " */"]


def _declaration(name: str, schema: dict[str, Any], all_required: bool) -> list[str]:
    lines = _comment(schema["description"]) if schema.get("description") else []
    if "enum" in schema or schema.get("type") != "object":
        return [*lines, f"export type {name} = {_type(schema)};"]
    members = _members(schema, all_required, "  ")
    if not members:
        return [*lines, f"export type {name} = Record<string, never>;"]
    return [*lines, f"export interface {name} {{", *members, "}"]


def typescript_types() -> str:
    """The contents of `labextension/src/api-types.ts`."""
    inputs: list[Any] = []
    answers: list[Any] = []
    for operation in ROUTES:
        given, answered = _kinds(operation)
        inputs += given
        answers += answered
    answer_schemas = _schemas(answers, "serialization")
    schemas = {**_schemas(inputs, "validation"), **answer_schemas}
    blocks = [
        "\n".join(_declaration(name, schemas[name], name in answer_schemas))
        for name in sorted(schemas)
    ]
    return HEADER + "\n" + "\n\n".join(blocks) + "\n"

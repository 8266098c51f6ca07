"""Resolving a job configuration: template defaults, then the deployment's job variables,
then the run's; validated against the template's schema before anything is stored.

Secret references (``{{ secret.NAME }}``) pass through resolution untouched: only the
worker that runs the run replaces them, with values fetched for that run.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping
from typing import Any

from nborch.errors import ValidationError

# `{{ secret.NAME }}` is not a placeholder: it stays as it is, for the worker to fill in
# (`nborch.secret_references`).
_PLACEHOLDER = re.compile(r"\{\{\s*(?!secret\.)([A-Za-z_][A-Za-z0-9_.]*)\s*\}\}")


def _schema_properties(template: Mapping[str, Any]) -> dict[str, Any]:
    return dict(template.get("variables", {}).get("properties", {}))


def _defaults(template: Mapping[str, Any]) -> dict[str, Any]:
    return {
        name: schema["default"]
        for name, schema in _schema_properties(template).items()
        if isinstance(schema, dict) and "default" in schema
    }


def _allowed(schema: Mapping[str, Any]) -> str:
    if "enum" in schema:
        return "one of " + ", ".join(json.dumps(v) for v in schema["enum"])
    kinds = schema.get("type", "any value")
    text = " or ".join(kinds) if isinstance(kinds, list) else str(kinds)
    items = schema.get("items")
    if text == "array" and isinstance(items, dict) and "type" in items:
        text = f"array of {items['type']}"
    bounds = [f"{k} {schema[k]}" for k in ("minimum", "maximum", "exclusiveMinimum") if k in schema]
    refused = schema.get("not", {})
    if isinstance(refused, dict) and "const" in refused:
        text += f", except {json.dumps(refused['const'])}"
    if "examples" in schema:
        bounds.append("e.g. " + ", ".join(json.dumps(v) for v in schema["examples"]))
    return text + (f" ({', '.join(bounds)})" if bounds else "")


def validate_job_variables(
    template: Mapping[str, Any], *layers: Mapping[str, Any], owner: str
) -> None:
    """Refuse unknown variables and values the schema does not allow.

    `layers` are the deployment's and then the run's job variables; later ones win.
    """
    properties = _schema_properties(template)
    merged = _defaults(template)
    for layer in layers:
        for name in layer:
            if name not in properties:
                known = ", ".join(sorted(properties)) or "none"
                raise ValidationError(
                    f"Job variable '{name}' is not offered by the base job template of {owner}. "
                    f"Known variables: {known}."
                )
        merged.update(layer)
    schema = dict(template.get("variables", {}))
    import jsonschema  # imported when first needed: it takes ~1 s and ~30 MiB to import

    validator = jsonschema.Draft202012Validator(schema)
    error = jsonschema.exceptions.best_match(validator.iter_errors(merged))
    if error is not None:
        name = str(error.path[0]) if error.path else "?"
        value = merged.get(name, error.instance)
        reason = (
            f"the template refuses {json.dumps(error.instance)}"
            if error.validator == "not"
            else error.message
        )
        raise ValidationError(
            f"Job variable '{name}' = {json.dumps(value)} is not allowed by {owner}: "
            f"{reason}. Allowed: {_allowed(properties.get(name, error.schema))}."
        )


def resolve_job_configuration(
    template: Mapping[str, Any], *layers: Mapping[str, Any]
) -> dict[str, Any]:
    """The job configuration with every placeholder filled.

    A placeholder that is the whole value keeps the variable's type (a list stays a list);
    one inside a longer string is replaced by the value's text.
    """
    values = _defaults(template)
    for layer in layers:
        values.update(layer)
    return _fill(template.get("job_configuration", {}), values)


def _fill(node: Any, values: Mapping[str, Any]) -> Any:
    if isinstance(node, dict):
        return {key: _fill(value, values) for key, value in node.items()}
    if isinstance(node, list):
        return [_fill(item, values) for item in node]
    if not isinstance(node, str):
        return node
    whole = _PLACEHOLDER.fullmatch(node.strip())
    if whole:
        return copy.deepcopy(values.get(whole.group(1)))
    return _PLACEHOLDER.sub(lambda m: _as_text(values.get(m.group(1))), node)


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value)

"""Flow parameters: their types, reading values typed on a command line, and validation.

A parameter's type comes from its annotation in the notebook's `parameters` cell
(``n: int = 3``) or else from its default (``n = 3`` is an int). ``any`` accepts anything
JSON can carry.

A secret reference (``"{{ secret.API_TOKEN }}"``) is text until a worker runs the run: it
fits `str` and `any` parameters (and strings inside `list` and `dict` values), nothing else.

Papermill writes each parameter into the notebook as an assignment (``name = value``), so a
parameter's name is code: it must be a Python identifier and not a keyword, wherever it
enters (`check_parameter_specs`, `validate_parameters`). A value may nest lists and dicts at
most `MAX_NESTING` levels deep.
"""

from __future__ import annotations

import json
import keyword
from collections.abc import Iterable, Mapping
from typing import Any

import yaml

from nborch.errors import ParameterError
from nborch.models import ParameterSpec
from nborch.secret_references import secret_names

TYPE_NAMES = ("str", "int", "float", "bool", "list", "dict", "any")
MAX_NESTING = 100

_ANNOTATION_ALIASES = {
    "string": "str",
    "integer": "int",
    "number": "float",
    "boolean": "bool",
    "List": "list",
    "Dict": "dict",
    "typing.List": "list",
    "typing.Dict": "dict",
}
_EXAMPLES = {
    "str": "hello",
    "int": "3",
    "float": "0.5",
    "bool": "true",
    "list": "'[1, 2]'",
    "dict": "'{\"a\": 1}'",
}
_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}


def type_name_of(value: Any) -> str:
    """The parameter type of a default value (``any`` for None and the unusual)."""
    if isinstance(value, bool):
        return "bool"
    for python_type, name in (
        (int, "int"),
        (float, "float"),
        (str, "str"),
        (list, "list"),
        (dict, "dict"),
    ):
        if isinstance(value, python_type):
            return name
    return "any"


def type_name_of_annotation(annotation: str | None) -> str | None:
    """`int`, `List[int]`, `dict[str, float]`, `Optional[str]` → a type name, or None."""
    if not annotation or annotation == "None":
        return None
    text = annotation.strip()
    if text.startswith("Optional[") and text.endswith("]"):
        text = text[len("Optional[") : -1]
    base = text.split("[", 1)[0].strip()
    base = _ANNOTATION_ALIASES.get(base, base)
    return base if base in TYPE_NAMES else None


def _describe(spec: ParameterSpec) -> str:
    return f"{spec.name} ({spec.type})"


def _fits(type_name: str, value: Any) -> bool:
    if value is None or type_name == "any":
        return True
    if type_name == "float":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if type_name == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    return type_name_of(value) == type_name


def _wrong_type(owner: str, spec: ParameterSpec, value: Any) -> ParameterError:
    if isinstance(value, str) and secret_names(value):
        return ParameterError(
            f"Parameter '{spec.name}' of {owner} is {spec.type}, but a secret reference "
            f"({value!r}) is replaced by text: reference secrets from str or any parameters "
            f"only (declare e.g. {spec.name}: str in the notebook's parameters cell).",
            parameter=spec.name,
        )
    shown = value if isinstance(value, str) else json.dumps(value, default=str)
    return ParameterError(
        f"Parameter '{spec.name}' of {owner} must be {spec.type}, got {shown!r}. "
        f"Pass e.g. -p {spec.name}={_EXAMPLES.get(spec.type, 'VALUE')}",
        parameter=spec.name,
    )


def parse_cli_value(spec: ParameterSpec | None, raw: str, owner: str) -> Any:
    """A value typed as text (``-p n=3``), read as the parameter's declared type.

    A `str` parameter keeps the text as it is (``-p name=007`` stays ``"007"``); other
    types are read as JSON, then YAML, then as plain text.
    """
    type_name = spec.type if spec else "any"
    if type_name == "str":
        return raw
    if type_name == "bool":
        lowered = raw.strip().lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        assert spec is not None
        raise _wrong_type(owner, spec, raw)
    value = _read_text_value(raw)
    if type_name == "float" and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if spec is not None and not _fits(type_name, value):
        raise _wrong_type(owner, spec, raw)
    return value


def _read_text_value(raw: str) -> Any:
    """JSON, else YAML (`[a, b]`, `{a: 1}`), else the text itself; never a value that JSON
    cannot carry (YAML reads `2024-01-01` as a date: that stays text)."""
    try:
        return json.loads(raw)
    except ValueError:
        pass
    try:
        value = yaml.safe_load(raw)
        json.dumps(value)
        return value
    except (yaml.YAMLError, TypeError, ValueError):
        return raw


def parse_assignment(text: str) -> tuple[str, str]:
    """``key=value`` → (key, value); the value may itself contain '='."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise ParameterError(
            f"{text!r} is not of the form NAME=VALUE. Write e.g. -p n=3", parameter=None
        )
    return key.strip(), value


def parse_cli_parameters(
    specs: Iterable[ParameterSpec], assignments: Iterable[str], owner: str
) -> dict[str, Any]:
    """``["n=3", "name=Ada"]`` → typed values, checked against the flow's parameters."""
    by_name = {spec.name: spec for spec in specs}
    values: dict[str, Any] = {}
    for assignment in assignments:
        name, raw = parse_assignment(assignment)
        if by_name and name not in by_name:
            raise _unknown(owner, name, by_name.values())
        values[name] = parse_cli_value(by_name.get(name), raw, owner)
    return values


def _unknown(owner: str, name: str, specs: Iterable[ParameterSpec]) -> ParameterError:
    known = ", ".join(_describe(s) for s in specs) or "none"
    return ParameterError(
        f"{owner[0].upper() + owner[1:]} has no parameter '{name}'. Its parameters: {known}.",
        parameter=name,
    )


def check_parameter_name(name: Any, owner: str) -> None:
    """Refuse a name papermill could not assign as a variable: it would be code in the
    injected-parameters cell."""
    if isinstance(name, str) and name.isidentifier() and not keyword.iskeyword(name):
        return
    reason = "is a Python keyword" if keyword.iskeyword(name) else "is not a Python identifier"
    raise ParameterError(
        f"Parameter name {name!r} of {owner} {reason}: papermill assigns each parameter as "
        "a variable. Name it with letters, digits and underscores, not starting with a digit "
        "and not a keyword (e.g. n_rows), in the notebook's parameters cell and wherever the "
        "parameter is passed.",
        parameter=name if isinstance(name, str) else None,
    )


def check_parameter_specs(specs: Iterable[ParameterSpec], owner: str) -> None:
    """Refuse declared parameters whose name is not a Python identifier (or is a keyword),
    or whose type nborch does not know."""
    for spec in specs:
        check_parameter_name(spec.name, owner)
        if spec.type not in TYPE_NAMES:
            raise ParameterError(
                f"Parameter '{spec.name}' of {owner} has type {spec.type!r}, which nborch "
                f"does not know. Use one of: {', '.join(TYPE_NAMES)}.",
                parameter=spec.name,
            )


def _nested_too_deep(value: Any) -> bool:
    """Whether lists and dicts in `value` nest more than MAX_NESTING levels (checked without
    recursion: the value may be deep enough to exhaust Python's stack)."""
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        node, depth = pending.pop()
        if isinstance(node, dict):
            children: Iterable[Any] = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth > MAX_NESTING:
            return True
        pending.extend((child, depth + 1) for child in children)
    return False


def check_parameter(name: Any, value: Any, owner: str) -> None:
    """Refuse a name that is not an identifier and a value nested too deep (what any
    parameter must satisfy, declared or not)."""
    check_parameter_name(name, owner)
    if _nested_too_deep(value):
        raise ParameterError(
            f"Parameter '{name}' of {owner} nests lists or dicts more than {MAX_NESTING} "
            "levels deep. Pass a flatter value, or the path of a file that holds it.",
            parameter=name,
        )


def validate_parameters(
    specs: Iterable[ParameterSpec], values: Mapping[str, Any], owner: str
) -> dict[str, Any]:
    """Refuse names that are not identifiers, unknown names, values of the wrong type and
    values nested too deep; returns the values unchanged.

    With no declared parameters (a notebook without a `parameters` cell) any name is
    refused, since papermill would have nowhere to put it.
    """
    by_name = {spec.name: spec for spec in specs}
    for name, value in values.items():
        check_parameter(name, value, owner)
        spec = by_name.get(name)
        if spec is None:
            raise _unknown(owner, name, by_name.values())
        if not _fits(spec.type, value):
            raise _wrong_type(owner, spec, value)
        try:
            json.dumps(value)
        except (TypeError, ValueError) as err:
            raise ParameterError(
                f"Parameter '{name}' of {owner} is not JSON-serialisable ({err}). "
                "Pass numbers, strings, booleans, lists or dicts.",
                parameter=name,
            ) from err
    return dict(values)

"""The typed job configuration: a pydantic model per pool type, from which that pool type's
default base job template is generated and into which a worker reads each run's job.

A model's fields are the pool type's job variables (their type, default, title, description
and bounds are declared once, on the field), and the keys of its job configuration: the
default template is ``{"job_configuration": {name: "{{ name }}", ...}, "variables": <the
model's JSON schema>}`` (`JobConfiguration.base_job_template`).

Two things are deliberately apart:

- The *bounds* a field declares (`Bounds`: exclusiveMinimum, a pattern, the docker pool's
  refusal of the host network, ...) go into the JSON schema only. A pool's stored template is
  the authority on what its job variables may be — an admin may lift a bound there, and
  `nborch.jobs.resolve.validate_job_variables` checks deployments and runs against that
  stored schema at the edge. The model checks types only, so it never refuses what the pool
  allows.
- A stored template may lack variables newer than the pool (made by an older nborch): the
  resolved job then lacks those keys, and the model's defaults fill them in. Keys the model
  does not know (a custom template's own) are ignored.

The schema is generated in the shape nborch has always stored: a nullable field is
``{"type": ["number", "null"], ...}`` rather than pydantic's ``anyOf``, which is what
`nborch.jobs.resolve` names in its messages ("Allowed: number or null").
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from functools import cache
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, GetJsonSchemaHandler
from pydantic import ValidationError as PydanticValidationError
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import core_schema

from nborch.errors import ValidationError
from nborch.jobs.resolve import resolve_job_configuration

__all__ = ["Bounds", "JobConfiguration", "placeholder"]

Job = TypeVar("Job", bound="JobConfiguration")

# Keywords that apply to one JSON type only: a union of simple branches carrying these can be
# written as one schema with a list of types, and means the same.
_ONE_TYPE_KEYWORDS = {
    "items", "minItems", "maxItems", "pattern", "minLength", "maxLength", "minimum",
    "maximum", "exclusiveMinimum", "exclusiveMaximum", "additionalProperties",
}  # fmt: skip


class Bounds:
    """JSON-schema keywords that bound a field in the default template (``Bounds(minimum=0)``,
    ``Bounds(**{"not": {"const": "host"}})``), for `Annotated`. They are written into the
    schema and checked there, against the pool's template; the model does not check them
    (see the module's docstring)."""

    def __init__(self, **keywords: Any) -> None:
        self.keywords = keywords

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {**_collapsed(handler(schema)), **copy.deepcopy(self.keywords)}


def placeholder(name: str) -> str:
    """The job configuration's value for variable `name`: filled in by resolution."""
    return "{{ " + name + " }}"


class JobConfiguration(BaseModel):
    """A run's job, as a worker of the pool type receives it; its fields are the pool type's
    job variables. Subclasses declare the fields; see the module's docstring."""

    # defer_build: a model's validator is built when first used, so importing nborch.jobs
    # (every command and worker does) does not build the six pool types' (~30 ms).
    model_config = ConfigDict(frozen=True, extra="ignore", defer_build=True)

    # Fields that are part of the job but no variable of the default template: the pool
    # type fixes their value (e.g. a managed pool's runs always get a process of their own).
    fixed: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def variable_names(cls) -> list[str]:
        """The job variables of the default template, in the order they are declared."""
        return [name for name in cls.model_fields if name not in cls.fixed]

    @classmethod
    def variables_schema(cls) -> dict[str, Any]:
        """The default template's `variables`: a JSON schema of every variable, with
        defaults, titles, descriptions and bounds."""
        return copy.deepcopy(_variables_schema(cls))

    @classmethod
    def job_configuration_template(cls) -> dict[str, Any]:
        """The default template's `job_configuration`: each variable, as it is."""
        return {name: placeholder(name) for name in cls.variable_names()}

    @classmethod
    def base_job_template(cls) -> dict[str, Any]:
        """The pool type's default base job template (a fresh copy)."""
        return {
            "job_configuration": cls.job_configuration_template(),
            "variables": cls.variables_schema(),
        }

    @classmethod
    def of(cls: type[Job], resolved: Mapping[str, Any], *, owner: str) -> Job:
        """The typed job, from a resolved job configuration (`resolve_job_configuration`).

        Refuses, naming `owner` (e.g. "flow run 'x'") and the fix, a configuration whose
        values are not of the variables' types: a pool's custom template can make one.
        """
        try:
            return cls.model_validate(dict(resolved))
        except PydanticValidationError as err:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or '?'}: {e['msg']}" for e in err.errors()
            )
            raise ValidationError(
                f"The job configuration of {owner} does not fit its pool type ({problems}). "
                "Fix the pool's base job template: start from nborch work-pool "
                "get-default-base-job-template --type TYPE"
            ) from None

    @classmethod
    def from_template(
        cls: type[Job], template: Mapping[str, Any], *layers: Mapping[str, Any], owner: str
    ) -> Job:
        """The typed job `template` makes with the job variables `layers` (later ones win);
        with none, the pool's defaults."""
        return cls.of(resolve_job_configuration(template, *layers), owner=owner)


@cache
def _variables_schema(model: type[JobConfiguration]) -> dict[str, Any]:
    generated = model.model_json_schema()
    properties = {
        name: _collapsed(schema)
        for name, schema in generated.get("properties", {}).items()
        if name in model.variable_names()
    }
    return {"type": "object", "properties": properties}


def _collapsed(schema: JsonSchemaValue) -> JsonSchemaValue:
    """``{"anyOf": [{"type": "string", "pattern": p}, {"type": "null"}], ...}`` as
    ``{"type": ["string", "null"], "pattern": p, ...}``: the same meaning, the shape nborch
    stores and describes. Left as it is when the branches are not that simple."""
    branches = schema.get("anyOf")
    if not isinstance(branches, list):
        return schema
    merged: dict[str, Any] = {}
    types: list[str] = []
    for branch in branches:
        kind = branch.get("type") if isinstance(branch, dict) else None
        extra = set(branch) - {"type"} if isinstance(branch, dict) else set()
        if not isinstance(kind, str) or kind in types or not extra <= _ONE_TYPE_KEYWORDS:
            return schema
        if any(key in merged for key in extra):
            return schema
        types.append(kind)
        merged.update({key: branch[key] for key in extra})
    rest = {key: value for key, value in schema.items() if key != "anyOf"}
    return {**rest, "type": types, **merged}

"""The default base job template of each pool type.

A template is ``{"job_configuration": {...}, "variables": <JSON schema>}``: the job with
``{{ name }}`` placeholders, and the variables a deployment or run may set, with defaults.
"""

from __future__ import annotations

import copy
from typing import Any

import jsonschema

from nborch.errors import ValidationError
from nborch.models import PoolType

_COMMON_VARIABLES: dict[str, Any] = {
    "env": {
        "title": "Environment variables",
        "description": "Set in the run's environment, on top of the worker's.",
        "type": "object",
        "additionalProperties": {"type": "string"},
        "default": {},
    },
    "kernel_name": {
        "title": "Kernel",
        "description": "Jupyter kernel to run the notebook with; empty: the notebook's own.",
        "type": ["string", "null"],
        "default": None,
    },
    "execution_timeout": {
        "title": "Cell timeout (s)",
        "description": "Fail the run when one cell runs longer than this; empty: no limit.",
        "type": ["number", "null"],
        "exclusiveMinimum": 0,
        "default": None,
    },
    "stream_output": {
        "title": "Stream output",
        "description": "Store the notebook's cell output in the run's logs as it is printed.",
        "type": "boolean",
        "default": True,
    },
}

_PROCESS_VARIABLES: dict[str, Any] = {
    **_COMMON_VARIABLES,
    "working_dir": {
        "title": "Working directory",
        "description": "Where the notebook runs; empty: the notebook's own folder.",
        "type": ["string", "null"],
        "default": None,
    },
}


def _template(variables: dict[str, Any]) -> dict[str, Any]:
    return {
        "job_configuration": {name: "{{ " + name + " }}" for name in variables},
        "variables": {"type": "object", "properties": variables},
    }


_DEFAULTS: dict[PoolType, dict[str, Any]] = {
    PoolType.PROCESS: _template(_PROCESS_VARIABLES),
}


def default_base_job_template(pool_type: PoolType) -> dict[str, Any]:
    """A fresh copy of the default template for `pool_type`."""
    if pool_type not in _DEFAULTS:
        raise ValidationError(
            f"Pool type '{pool_type.value}' has no worker in this version of nborch yet. "
            f"Available: {', '.join(t.value for t in _DEFAULTS)}"
        )
    return copy.deepcopy(_DEFAULTS[pool_type])


def validate_base_job_template(template: Any, owner: str) -> dict[str, Any]:
    """Refuse a template that is not ``{job_configuration, variables}`` with a valid schema."""
    if not isinstance(template, dict) or set(template) != {"job_configuration", "variables"}:
        raise ValidationError(
            f"The base job template of {owner} must be an object with exactly the keys "
            "'job_configuration' and 'variables'. Start from: "
            "nborch work-pool get-default-base-job-template --type TYPE"
        )
    variables = template["variables"]
    if not isinstance(variables, dict) or not isinstance(variables.get("properties", {}), dict):
        raise ValidationError(
            f"The 'variables' of {owner}'s base job template must be a JSON schema object "
            "with 'properties'."
        )
    try:
        jsonschema.Draft202012Validator.check_schema(variables)
    except jsonschema.SchemaError as err:
        raise ValidationError(
            f"The 'variables' of {owner}'s base job template are not a valid JSON schema: "
            f"{err.message}"
        ) from err
    return template

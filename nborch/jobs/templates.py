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
    "secret_env": {
        "title": "Secret environment variables",
        "description": "Names of environment variables that the worker passes on from its own "
        "environment: their values are never stored by nborch and are masked in the logs.",
        "type": "array",
        "items": {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]*$"},
        "default": [],
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


# What `nborch image build-runtime` builds: Debian bookworm, papermill and ipykernel in a venv,
# a non-root user. Any image with papermill and a kernel will do instead.
DEFAULT_RUNTIME_IMAGE = "nborch/runtime:py3.11"

_STRING_MAP = {"type": "object", "additionalProperties": {"type": "string"}}

_DOCKER_VARIABLES: dict[str, Any] = {
    **_COMMON_VARIABLES,
    "image": {
        "title": "Image",
        "description": "The container's image; it needs papermill and a kernel, not nborch.",
        "type": "string",
        "minLength": 1,
        "default": DEFAULT_RUNTIME_IMAGE,
    },
    "image_pull_policy": {
        "title": "Image pull policy",
        "description": "Always pull, pull IfNotPresent on the engine, or Never pull.",
        "enum": ["Always", "IfNotPresent", "Never"],
        "default": "IfNotPresent",
    },
    "command": {
        "title": "papermill command",
        "description": "How papermill starts in the image; the run's arguments follow it.",
        "type": "array",
        "items": {"type": "string"},
        "minItems": 1,
        "default": ["papermill"],
    },
    "env": {
        **_COMMON_VARIABLES["env"],
        "description": "Set in the container's environment.",
    },
    "labels": {
        "title": "Labels",
        "description": "Container labels, besides nborch's own io.nborch.* labels.",
        **_STRING_MAP,
        "default": {},
    },
    "name": {
        "title": "Container name",
        "description": "Empty: nborch-<run name>-<attempt>.",
        "type": ["string", "null"],
        "default": None,
    },
    "volumes": {
        "title": "Volumes",
        "description": "Mounts as HOST_PATH:CONTAINER_PATH[:ro]; the run's folder is always "
        "mounted at /nborch/run.",
        "type": "array",
        "items": {"type": "string", "pattern": "^[^:]+:/[^:]*(:(ro|rw))?$"},
        "examples": [["/srv/data:/data:ro"]],
        "default": [],
    },
    "network_mode": {
        "title": "Network mode",
        "description": "bridge, none, container:ID or a network's name; empty: the engine's "
        "default (bridge). 'host' is refused: a pool that needs it drops the 'not' from this "
        "variable in its base job template.",
        "type": ["string", "null"],
        "not": {"const": "host"},
        "default": None,
    },
    "networks": {
        "title": "Networks",
        "description": "Networks to connect the container to (by name).",
        "type": "array",
        "items": {"type": "string", "not": {"const": "host"}},
        "default": [],
    },
    "mem_limit": {
        "title": "Memory limit",
        "description": "e.g. 512m or 2g, or bytes; swap is not added on top. Empty: no limit.",
        "type": ["string", "integer", "null"],
        "pattern": "^[0-9]+[bkmgBKMG]?$",
        "minimum": 6291456,
        "examples": ["512m", "2g"],
        "default": None,
    },
    "cpus": {
        "title": "CPUs",
        "description": "How many CPUs the container may use (e.g. 1.5). Empty: no limit.",
        "type": ["number", "null"],
        "exclusiveMinimum": 0,
        "default": None,
    },
    "user": {
        "title": "User",
        "description": "USER[:GROUP] or UID[:GID] to run as. Empty: the image's user "
        "(the runtime image's is the non-root 'nborch').",
        "type": ["string", "null"],
        "default": None,
    },
    "privileged": {
        "title": "Privileged",
        "description": "Give the container every capability of the host. Avoid.",
        "type": "boolean",
        "default": False,
    },
    "auto_remove": {
        "title": "Remove the container",
        "description": "Remove the container once its result (exit code, output, logs) is "
        "collected.",
        "type": "boolean",
        "default": False,
    },
    "working_dir": {
        "title": "Working directory",
        "description": "Where the notebook runs, in the container. Empty: the flow's folder in "
        "an image built by nborch deploy --image, otherwise the run's folder /nborch/run.",
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
    PoolType.DOCKER: _template(_DOCKER_VARIABLES),
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

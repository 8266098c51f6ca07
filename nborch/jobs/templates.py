"""The default base job template of each pool type.

A template is ``{"job_configuration": {...}, "variables": <JSON schema>}``: the job with
``{{ name }}`` placeholders, and the variables a deployment or run may set, with defaults.
"""

from __future__ import annotations

import copy
from typing import Any

from nborch.errors import ValidationError
from nborch.jobs.dask_template import DASK_TEMPLATE
from nborch.jobs.kubernetes_template import KUBERNETES_TEMPLATE
from nborch.jobs.swarm_template import SWARM_TEMPLATE
from nborch.jobs.variables import (
    COMMON_VARIABLES,
    DEFAULT_RUNTIME_IMAGE,
    DOCKER_VARIABLES,
    PROCESS_VARIABLES,
    template_from,
)
from nborch.models import PoolType

__all__ = ["DEFAULT_RUNTIME_IMAGE", "default_base_job_template", "validate_base_job_template"]

# A managed pool: nborch runs each run in a fresh process of its own, in the notebook's
# folder; there is nothing about the infrastructure to choose.
_MANAGED_VARIABLES: dict[str, Any] = dict(COMMON_VARIABLES)

_DEFAULTS: dict[PoolType, dict[str, Any]] = {
    PoolType.PROCESS: template_from(PROCESS_VARIABLES),
    PoolType.DOCKER: template_from(DOCKER_VARIABLES),
    PoolType.MANAGED: template_from(_MANAGED_VARIABLES),
    PoolType.DOCKER_SWARM: SWARM_TEMPLATE,
    PoolType.DASK: DASK_TEMPLATE,
    PoolType.KUBERNETES: KUBERNETES_TEMPLATE,
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
    import jsonschema  # imported when first needed: it takes ~1 s and ~30 MiB to import

    try:
        jsonschema.Draft202012Validator.check_schema(variables)
    except jsonschema.SchemaError as err:
        raise ValidationError(
            f"The 'variables' of {owner}'s base job template are not a valid JSON schema: "
            f"{err.message}"
        ) from err
    return template

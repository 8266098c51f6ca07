"""The typed job of each pool type, and its default base job template.

A template is ``{"job_configuration": {...}, "variables": <JSON schema>}``: the job with
``{{ name }}`` placeholders, and the variables a deployment or run may set, with defaults.
The default one is generated from the pool type's job model (`nborch.jobs.model`).
"""

from __future__ import annotations

from typing import Any

from nborch.errors import ValidationError
from nborch.jobs.dask_template import DaskJob
from nborch.jobs.kubernetes_template import KubernetesJob
from nborch.jobs.model import JobConfiguration
from nborch.jobs.swarm_template import SwarmJob
from nborch.jobs.variables import DEFAULT_RUNTIME_IMAGE, DockerJob, ManagedJob, ProcessJob
from nborch.models import PoolType

__all__ = [
    "DEFAULT_RUNTIME_IMAGE",
    "check_template_defaults",
    "default_base_job_template",
    "job_type_for",
    "validate_base_job_template",
]

_JOB_TYPES: dict[PoolType, type[JobConfiguration]] = {
    PoolType.PROCESS: ProcessJob,
    PoolType.DOCKER: DockerJob,
    PoolType.MANAGED: ManagedJob,
    PoolType.DOCKER_SWARM: SwarmJob,
    PoolType.DASK: DaskJob,
    PoolType.KUBERNETES: KubernetesJob,
}


def job_type_for(pool_type: PoolType) -> type[JobConfiguration]:
    """The typed job a worker of `pool_type` receives."""
    if pool_type not in _JOB_TYPES:
        raise ValidationError(
            f"Pool type '{pool_type.value}' has no worker in this version of nborch yet. "
            f"Available: {', '.join(t.value for t in _JOB_TYPES)}"
        )
    return _JOB_TYPES[pool_type]


def default_base_job_template(pool_type: PoolType) -> dict[str, Any]:
    """A fresh copy of the default template for `pool_type`."""
    return job_type_for(pool_type).base_job_template()


def check_template_defaults(template: dict[str, Any], pool_type: PoolType, owner: str) -> None:
    """Refuse a template whose defaults do not make a job of `pool_type` (a value of the
    wrong type, a Kubernetes template without its manifest): its runs could not start."""
    job_type_for(pool_type).from_template(template, owner=f"{owner} (its defaults)")


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

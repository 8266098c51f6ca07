"""Base job templates: what a pool's runs are configured with, and how it is resolved.

Each pool type declares its job variables once, as a pydantic model (`ProcessJob`,
`DockerJob`, ...: `nborch.jobs.model`); its default template is generated from it, and a
worker receives each run's job as an instance of it (`job_type_for`).
"""

from nborch.jobs.model import JobConfiguration
from nborch.jobs.resolve import resolve_job_configuration, validate_job_variables
from nborch.jobs.templates import (
    check_template_defaults,
    default_base_job_template,
    job_type_for,
    validate_base_job_template,
)

__all__ = [
    "JobConfiguration",
    "check_template_defaults",
    "default_base_job_template",
    "job_type_for",
    "resolve_job_configuration",
    "validate_base_job_template",
    "validate_job_variables",
]

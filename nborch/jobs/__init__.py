"""Base job templates: what a pool's runs are configured with, and how it is resolved."""

from nborch.jobs.resolve import resolve_job_configuration, validate_job_variables
from nborch.jobs.templates import default_base_job_template, validate_base_job_template

__all__ = [
    "default_base_job_template",
    "resolve_job_configuration",
    "validate_base_job_template",
    "validate_job_variables",
]

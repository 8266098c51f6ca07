"""The `dask` push pool's default base job template: each run is a task submitted to a Dask
distributed scheduler, which runs papermill on one of its workers."""

from __future__ import annotations

from typing import Any

from nborch.jobs.variables import COMMON_VARIABLES, template_from

DEFAULT_SCHEDULER_ADDRESS = "tcp://127.0.0.1:8786"

DASK_VARIABLES: dict[str, Any] = {
    **COMMON_VARIABLES,
    "env": {**COMMON_VARIABLES["env"], "description": "Set in papermill's environment."},
    "scheduler_address": {
        "title": "Scheduler address",
        "description": "The Dask scheduler the runs go to (dask scheduler prints it).",
        "type": "string",
        "minLength": 1,
        "examples": ["tcp://dask-scheduler:8786"],
        "default": DEFAULT_SCHEDULER_ADDRESS,
    },
    "connect_timeout": {
        "title": "Connect timeout (s)",
        "description": "How long to try reaching the scheduler before the run is CRASHED.",
        "type": "number",
        "exclusiveMinimum": 0,
        "default": 10,
    },
    "resources": {
        "title": "Worker resources",
        "description": "Abstract resources the task needs, as its workers declare them "
        "(dask worker --resources GPU=1).",
        "type": "object",
        "additionalProperties": {"type": "number", "minimum": 0},
        "examples": [{"GPU": 1}],
        "default": {},
    },
    "workers": {
        "title": "Workers",
        "description": "Run only on these workers (addresses or host names); empty: any.",
        "type": "array",
        "items": {"type": "string", "minLength": 1},
        "default": [],
    },
    "command": {
        "title": "papermill command",
        "description": "How papermill starts on a Dask worker; empty: the worker's own Python "
        "with -m papermill.",
        "type": ["array", "null"],
        "items": {"type": "string"},
        "minItems": 1,
        "default": None,
    },
    "working_dir": {
        "title": "Working directory",
        "description": "Where the notebook runs on the Dask worker; empty: a fresh folder "
        "removed after the run.",
        "type": ["string", "null"],
        "default": None,
    },
}

DASK_TEMPLATE = template_from(DASK_VARIABLES)

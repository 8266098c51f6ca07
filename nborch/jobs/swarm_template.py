"""The `docker-swarm` push pool's default base job template: one replicated-job service per
run, its placement and resources from job variables."""

from __future__ import annotations

from typing import Any

from nborch.jobs.variables import COMMON_VARIABLES, DOCKER_VARIABLES, template_from

_MEMORY = {
    "type": ["string", "integer", "null"],
    "pattern": "^[0-9]+[bkmgBKMG]?$",
    "minimum": 6291456,
    "examples": ["512m", "2g"],
    "default": None,
}

SWARM_VARIABLES: dict[str, Any] = {
    **COMMON_VARIABLES,
    **{
        name: DOCKER_VARIABLES[name]
        for name in ("image", "command", "user", "working_dir", "volumes")
    },
    "env": {**COMMON_VARIABLES["env"], "description": "Set in the task's environment."},
    "labels": {
        **DOCKER_VARIABLES["labels"],
        "description": "Service labels, besides nborch's own io.nborch.* labels.",
    },
    "name": {
        "title": "Service name",
        "description": "Empty: nborch-<run name>-<attempt>.",
        "type": ["string", "null"],
        "default": None,
    },
    "networks": {
        "title": "Networks",
        "description": "Swarm networks (overlay) to attach the task to, by name.",
        "type": "array",
        "items": {"type": "string", "not": {"const": "host"}},
        "default": [],
    },
    "constraints": {
        "title": "Placement constraints",
        "description": "Where the task may run, as docker service create --constraint takes them.",
        "type": "array",
        "items": {"type": "string", "minLength": 3},
        "examples": [["node.role==worker", "node.labels.gpu==true"]],
        "default": [],
    },
    "cpus": {
        "title": "CPU limit",
        "description": "How many CPUs the task may use (e.g. 1.5). Empty: no limit.",
        "type": ["number", "null"],
        "exclusiveMinimum": 0,
        "default": None,
    },
    "mem_limit": {
        "title": "Memory limit",
        "description": "e.g. 512m or 2g, or bytes. Empty: no limit.",
        **_MEMORY,
    },
    "cpu_reservation": {
        "title": "CPU reservation",
        "description": "CPUs a node must have free to take the task (e.g. 0.5).",
        "type": ["number", "null"],
        "exclusiveMinimum": 0,
        "default": None,
    },
    "mem_reservation": {
        "title": "Memory reservation",
        "description": "Memory a node must have free to take the task (e.g. 256m).",
        **_MEMORY,
    },
    "placement_timeout": {
        "title": "Placement timeout (s)",
        "description": "Give the run up (CRASHED) when no node can take its task this long.",
        "type": "number",
        "exclusiveMinimum": 0,
        "default": 300,
    },
    "auto_remove": {
        "title": "Remove the service",
        "description": "Remove the run's service once its result is collected.",
        "type": "boolean",
        "default": True,
    },
}

SWARM_TEMPLATE = template_from(SWARM_VARIABLES)

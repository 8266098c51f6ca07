"""Job variables several pool types share: the common ones (environment, secrets, kernel,
timeouts, output streaming) and a container's (image, command, limits, mounts, user), as
JSON-schema properties with defaults."""

from __future__ import annotations

from typing import Any

COMMON_VARIABLES: dict[str, Any] = {
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

# With no value in a process pool's template: one standby kernel per free slot, at most this
# many.
AUTO_STANDBY_KERNELS = 4

PROCESS_VARIABLES: dict[str, Any] = {
    **COMMON_VARIABLES,
    "working_dir": {
        "title": "Working directory",
        "description": "Where the notebook runs; empty: the notebook's own folder.",
        "type": ["string", "null"],
        "default": None,
    },
    "in_process": {
        "title": "Run from the worker",
        "description": "Execute the notebook from the worker's own process, on a kernel of "
        "its own (started ahead when standby kernels are on). false: python -m papermill in "
        "a process of its own for each run (slower).",
        "type": "boolean",
        "default": True,
    },
    "standby_kernels": {
        "title": "Standby kernels",
        "description": "How many fresh kernels a worker of this pool keeps started ahead of "
        "need, one per free slot at most (each serves one run, then is shut down). Set it in "
        "the pool's base job template; 0 turns them off. Empty: one per free slot, at most "
        f"{AUTO_STANDBY_KERNELS}. A deployment or run with 0 gets a kernel started for it "
        "alone.",
        "type": ["integer", "null"],
        "minimum": 0,
        "maximum": 64,
        "default": None,
    },
}


# What `nborch image build-runtime` builds: Debian bookworm, papermill and ipykernel in a venv,
# a non-root user. Any image with papermill and a kernel will do instead.
DEFAULT_RUNTIME_IMAGE = "nborch/runtime:py3.11"

STRING_MAP = {"type": "object", "additionalProperties": {"type": "string"}}

# With no value in a docker pool's template (pools made before the variable): this many
# standby containers.
DEFAULT_STANDBY_CONTAINERS = 1

DOCKER_VARIABLES: dict[str, Any] = {
    **COMMON_VARIABLES,
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
        **COMMON_VARIABLES["env"],
        "description": "Set in the container's environment.",
    },
    "labels": {
        "title": "Labels",
        "description": "Container labels, besides nborch's own io.nborch.* labels.",
        **STRING_MAP,
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
    "standby_containers": {
        "title": "Standby containers",
        "description": "How many containers a worker of this pool keeps started ahead of "
        "need, one per free slot at most, for the job configurations it has seen (the pool's "
        "defaults with a deployment's or a recent run's job variables): papermill loaded, "
        "the kernel up, waiting to be handed a run. Each serves exactly one run and is then "
        "removed (or kept, exited, without auto_remove), as a container started for the run "
        "would be. A run that none fits (another configuration, a command other than "
        "papermill, image_pull_policy Always, a container name, secret references) gets a "
        "container started for it. Set it in the pool's base job template; 0 turns them "
        "off. A deployment or run with 0 gets a container started for it alone. The "
        "image's python3 must import papermill.",
        "type": "integer",
        "minimum": 0,
        "maximum": 16,
        "default": DEFAULT_STANDBY_CONTAINERS,
    },
}


def template_from(variables: dict[str, Any]) -> dict[str, Any]:
    """A base job template whose job configuration is every variable, as it is."""
    return {
        "job_configuration": {name: "{{ " + name + " }}" for name in variables},
        "variables": {"type": "object", "properties": variables},
    }

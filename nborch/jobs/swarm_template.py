"""The `docker-swarm` push pool's typed job: one replicated-job service per run, its
placement and resources from job variables."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from nborch.jobs.model import Bounds
from nborch.jobs.variables import (
    DEFAULT_RUNTIME_IMAGE,
    PAPERMILL_IN_IMAGE,
    ContainerName,
    ContainerWorkingDir,
    Cpus,
    Environment,
    Image,
    JobVariables,
    MemoryLimit,
    NotHost,
    PapermillCommand,
    StringMap,
    User,
    Volumes,
    described,
)


class SwarmJob(JobVariables):
    """A `docker-swarm` pool's run: a service of one task that never restarts."""

    image: Image = DEFAULT_RUNTIME_IMAGE
    command: PapermillCommand = PAPERMILL_IN_IMAGE
    user: User = None
    working_dir: ContainerWorkingDir = None
    volumes: Volumes = []
    env: Annotated[Environment, described("Set in the task's environment.")] = {}
    labels: Annotated[
        StringMap,
        Field(
            title="Labels",
            description="Service labels, besides nborch's own io.nborch.* labels.",
        ),
    ] = {}
    name: Annotated[ContainerName, Field(title="Service name")] = None
    networks: Annotated[
        list[Annotated[str, NotHost]],
        Field(
            title="Networks",
            description="Swarm networks (overlay) to attach the task to, by name.",
        ),
    ] = []
    constraints: Annotated[
        list[Annotated[str, Bounds(minLength=3)]],
        Field(
            title="Placement constraints",
            description="Where the task may run, as docker service create --constraint takes them.",
            examples=[["node.role==worker", "node.labels.gpu==true"]],
        ),
    ] = []
    cpus: Annotated[
        Cpus,
        Field(
            title="CPU limit",
            description="How many CPUs the task may use (e.g. 1.5). Empty: no limit.",
        ),
    ] = None
    mem_limit: Annotated[MemoryLimit, described("e.g. 512m or 2g, or bytes. Empty: no limit.")] = (
        None
    )
    cpu_reservation: Annotated[
        Cpus,
        Field(
            title="CPU reservation",
            description="CPUs a node must have free to take the task (e.g. 0.5).",
        ),
    ] = None
    mem_reservation: Annotated[
        MemoryLimit,
        Field(
            title="Memory reservation",
            description="Memory a node must have free to take the task (e.g. 256m).",
        ),
    ] = None
    placement_timeout: Annotated[
        float,
        Bounds(exclusiveMinimum=0),
        Field(
            title="Placement timeout (s)",
            description="Give the run up (CRASHED) when no node can take its task this long.",
        ),
    ] = 300
    auto_remove: Annotated[
        bool,
        Field(
            title="Remove the service",
            description="Remove the run's service once its result is collected.",
        ),
    ] = True

"""Job variables several pool types share — the common ones (environment, secrets, kernel,
timeouts, output streaming) and a container's (image, command, limits, mounts, user) — and
the `process`, `managed` and `docker` pools' typed jobs, declared once as pydantic models
(`nborch.jobs.model`): their default templates are generated from them."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from nborch.jobs.model import Bounds, JobConfiguration

__all__ = [
    "AUTO_STANDBY_KERNELS",
    "DEFAULT_RUNTIME_IMAGE",
    "DEFAULT_STANDBY_CONTAINERS",
    "PAPERMILL_IN_IMAGE",
    "DockerJob",
    "JobVariables",
    "ManagedJob",
    "ProcessJob",
]

# With no value in a process pool's template: one standby kernel per free slot, at most this
# many.
AUTO_STANDBY_KERNELS = 4

# What `nborch image build-runtime` builds: Debian bookworm, papermill and ipykernel in a venv,
# a non-root user. Any image with papermill and a kernel will do instead.
DEFAULT_RUNTIME_IMAGE = "nborch/runtime:py3.11"

# How papermill starts in an image that has it (the runtime image): the default command.
PAPERMILL_IN_IMAGE = ["papermill"]

# With no value in a docker pool's template (pools made before the variable): this many
# standby containers.
DEFAULT_STANDBY_CONTAINERS = 1

# ---- field types shared by several pool types (each use gives its default) --------------------

Environment = Annotated[
    dict[str, str],
    Field(
        title="Environment variables",
        description="Set in the run's environment, on top of the worker's.",
    ),
]
StringMap = dict[str, str]
Image = Annotated[
    str,
    Bounds(minLength=1),
    Field(
        title="Image",
        description="The container's image; it needs papermill and a kernel, not nborch.",
    ),
]
PullPolicy = Annotated[
    Literal["Always", "IfNotPresent", "Never"],
    Field(
        title="Image pull policy",
        description="Always pull, pull IfNotPresent on the engine, or Never pull.",
    ),
]
PapermillCommand = Annotated[
    list[str],
    Bounds(minItems=1),
    Field(
        title="papermill command",
        description="How papermill starts in the image; the run's arguments follow it.",
    ),
]
ContainerName = Annotated[
    str | None, Field(title="Container name", description="Empty: nborch-<run name>-<attempt>.")
]
NotHost = Bounds(**{"not": {"const": "host"}})
Networks = Annotated[
    list[Annotated[str, NotHost]],
    Field(title="Networks", description="Networks to connect the container to (by name)."),
]
MemoryLimit = Annotated[
    str | int | None,
    Bounds(pattern="^[0-9]+[bkmgBKMG]?$", minimum=6291456),
    Field(
        title="Memory limit",
        description="e.g. 512m or 2g, or bytes; swap is not added on top. Empty: no limit.",
        examples=["512m", "2g"],
    ),
]
Cpus = Annotated[
    float | None,
    Bounds(exclusiveMinimum=0),
    Field(
        title="CPUs",
        description="How many CPUs the container may use (e.g. 1.5). Empty: no limit.",
    ),
]
User = Annotated[
    str | None,
    Field(
        title="User",
        description="USER[:GROUP] or UID[:GID] to run as. Empty: the image's user "
        "(the runtime image's is the non-root 'nborch').",
    ),
]
Volumes = Annotated[
    list[Annotated[str, Bounds(pattern="^[^:]+:/[^:]*(:(ro|rw))?$")]],
    Field(
        title="Volumes",
        description="Mounts as HOST_PATH:CONTAINER_PATH[:ro]; the run's folder is always "
        "mounted at /nborch/run.",
        examples=[["/srv/data:/data:ro"]],
    ),
]
WorkingDir = Annotated[str | None, Field(title="Working directory")]
ContainerWorkingDir = Annotated[
    WorkingDir,
    Field(
        description="Where the notebook runs, in the container. Empty: the flow's folder in "
        "an image built by nborch deploy --image, otherwise the run's folder /nborch/run."
    ),
]


def described(text: str) -> object:
    """A field's description for one pool type, over its shared type's (in `Annotated`)."""
    return Field(description=text)


class JobVariables(JobConfiguration):
    """The variables every pool type offers."""

    env: Environment = {}
    secret_env: Annotated[
        list[Annotated[str, Bounds(pattern="^[A-Za-z_][A-Za-z0-9_]*$")]],
        Field(
            title="Secret environment variables",
            description="Names of environment variables that the worker passes on from its "
            "own environment: their values are never stored by nborch and are masked in the "
            "logs.",
        ),
    ] = []
    kernel_name: Annotated[
        str | None,
        Field(
            title="Kernel",
            description="Jupyter kernel to run the notebook with; empty: the notebook's own.",
        ),
    ] = None
    execution_timeout: Annotated[
        float | None,
        Bounds(exclusiveMinimum=0),
        Field(
            title="Cell timeout (s)",
            description="Fail the run when one cell runs longer than this; empty: no limit.",
        ),
    ] = None
    stream_output: Annotated[
        bool,
        Field(
            title="Stream output",
            description="Store the notebook's cell output in the run's logs as it is printed.",
        ),
    ] = True


class ProcessJob(JobVariables):
    """A `process` pool's run: papermill on the worker's machine, by default from the
    worker's own process on a kernel of its own (a standby kernel when one fits)."""

    working_dir: Annotated[
        WorkingDir, described("Where the notebook runs; empty: the notebook's own folder.")
    ] = None
    in_process: Annotated[
        bool,
        Field(
            title="Run from the worker",
            description="Execute the notebook from the worker's own process, on a kernel of "
            "its own (started ahead when standby kernels are on). false: python -m papermill "
            "in a process of its own for each run (slower).",
        ),
    ] = True
    standby_kernels: Annotated[
        int | None,
        Bounds(minimum=0, maximum=64),
        Field(
            title="Standby kernels",
            description="How many fresh kernels a worker of this pool keeps started ahead of "
            "need, one per free slot at most (each serves one run, then is shut down). Set it "
            "in the pool's base job template; 0 turns them off. Empty: one per free slot, at "
            f"most {AUTO_STANDBY_KERNELS}. A deployment or run with 0 gets a kernel started "
            "for it alone.",
        ),
    ] = None

    @property
    def standby_cap(self) -> int:
        """The most standby kernels this job (read from the pool's defaults) asks for: none
        when runs do not execute in process."""
        if not self.in_process:
            return 0
        return (
            AUTO_STANDBY_KERNELS if self.standby_kernels is None else max(0, self.standby_kernels)
        )


class ManagedJob(ProcessJob):
    """A `managed` pool's run: nborch runs each run in a fresh papermill process of its own,
    in the notebook's folder; there is nothing about the infrastructure to choose."""

    fixed = frozenset({"working_dir", "in_process", "standby_kernels"})
    in_process: bool = False
    standby_kernels: int | None = 0


class DockerJob(JobVariables):
    """A `docker` pool's run: one container per run (or a standby container that fits)."""

    image: Image = DEFAULT_RUNTIME_IMAGE
    image_pull_policy: PullPolicy = "IfNotPresent"
    command: PapermillCommand = PAPERMILL_IN_IMAGE
    env: Annotated[Environment, described("Set in the container's environment.")] = {}
    labels: Annotated[
        StringMap,
        Field(
            title="Labels",
            description="Container labels, besides nborch's own io.nborch.* labels.",
        ),
    ] = {}
    name: ContainerName = None
    volumes: Volumes = []
    network_mode: Annotated[
        str | None,
        NotHost,
        Field(
            title="Network mode",
            description="bridge, none, container:ID or a network's name; empty: the engine's "
            "default (bridge). 'host' is refused: a pool that needs it drops the 'not' from "
            "this variable in its base job template.",
        ),
    ] = None
    networks: Networks = []
    mem_limit: MemoryLimit = None
    cpus: Cpus = None
    user: User = None
    privileged: Annotated[
        bool,
        Field(
            title="Privileged",
            description="Give the container every capability of the host. Avoid.",
        ),
    ] = False
    auto_remove: Annotated[
        bool,
        Field(
            title="Remove the container",
            description="Remove the container once its result (exit code, output, logs) is "
            "collected.",
        ),
    ] = False
    working_dir: ContainerWorkingDir = None
    standby_containers: Annotated[
        int,
        Bounds(minimum=0, maximum=16),
        Field(
            title="Standby containers",
            description="How many containers a worker of this pool keeps started ahead of "
            "need, one per free slot at most, for the job configurations it has seen (the "
            "pool's defaults with a deployment's or a recent run's job variables): papermill "
            "loaded, the kernel up, waiting to be handed a run. Each serves exactly one run "
            "and is then removed (or kept, exited, without auto_remove), as a container "
            "started for the run would be. A run that none fits (another configuration, a "
            "command other than papermill, image_pull_policy Always, a container name, "
            "secret references) gets a container started for it. Set it in the pool's base "
            "job template; 0 turns them off. A deployment or run with 0 gets a container "
            "started for it alone. The image's python3 must import papermill.",
        ),
    ] = DEFAULT_STANDBY_CONTAINERS

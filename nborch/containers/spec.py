"""What a run's container looks like: its command (papermill, nothing else), mounts,
environment, limits and labels, from the run and its resolved job configuration.

Paths in the container: the run's folder (`$NBORCH_HOME/runs/RUN_ID/` on the worker's
machine) is mounted at /nborch/run; it holds the input notebook (a copy), the parameters
file, and receives the output notebook. The notebook runs in the job variable `working_dir`,
else in the folder an image built by `nborch deploy --image` says (its `io.nborch.workdir`
label: the flow's own folder in the image), else in /nborch/run.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nborch.execution.papermill_command import papermill_argv
from nborch.jobs.swarm_template import SwarmJob
from nborch.jobs.variables import DockerJob
from nborch.models import FlowRun

RUN_MOUNT = "/nborch/run"
INPUT_NOTEBOOK = "input.ipynb"
PARAMETERS_FILE = "parameters.yaml"

# Labels nborch puts on every container it starts (reconciliation finds them by these).
LABEL_STORE = "io.nborch.store"
LABEL_POOL = "io.nborch.pool"
LABEL_RUN_ID = "io.nborch.run-id"
LABEL_RUN_NAME = "io.nborch.run-name"
LABEL_ATTEMPT = "io.nborch.attempt"
LABEL_DEPLOYMENT = "io.nborch.deployment"
LABEL_FLOW = "io.nborch.flow"
LABEL_WORKER_ID = "io.nborch.worker-id"
LABEL_WORKER_HOST = "io.nborch.worker-host"
LABEL_WORKER_PID = "io.nborch.worker-pid"
LABEL_WORKER_STARTED = "io.nborch.worker-started"
LABEL_AUTO_REMOVE = "io.nborch.auto-remove"
LABEL_RUN_DIR = "io.nborch.run-dir"
# On standby containers (started ahead, no run yet): "true", and the worker's folder for
# the container (its control folder; its run folder until it is handed a run).
LABEL_STANDBY = "io.nborch.standby"
LABEL_STANDBY_DIR = "io.nborch.standby-dir"
# On images built by `nborch deploy --image`: where the flow's notebook folder is.
LABEL_WORKDIR = "io.nborch.workdir"

# The typed jobs that make a container: a docker pool's, a swarm service's task.
ContainerJob = DockerJob | SwarmJob

_NOT_IN_NAMES = re.compile(r"[^a-zA-Z0-9_.-]+")


@dataclass(frozen=True)
class WorkerIdentity:
    """Which worker process started a container: reconciliation asks whether it still lives."""

    id: str
    host: str
    pid: int
    started: str  # the process's start time, so a reused pid is not taken for it


def store_label(database_url: str) -> str:
    """Which store a container's run lives in (several stores may share one engine)."""
    return hashlib.sha256(database_url.encode()).hexdigest()[:16]


def worker_labels(worker: WorkerIdentity) -> dict[str, str]:
    return {
        LABEL_WORKER_ID: worker.id,
        LABEL_WORKER_HOST: worker.host,
        LABEL_WORKER_PID: str(worker.pid),
        LABEL_WORKER_STARTED: worker.started,
    }


def container_labels(
    run: FlowRun,
    job: ContainerJob,
    *,
    attempt: int,
    store: str,
    worker: WorkerIdentity,
    run_dir: Path,
) -> dict[str, str]:
    """The user's labels, then nborch's own (which win)."""
    return {
        **{str(k): str(v) for k, v in job.labels.items()},
        LABEL_STORE: store,
        LABEL_POOL: run.pool_name or "",
        LABEL_RUN_ID: str(run.id),
        LABEL_RUN_NAME: run.name,
        LABEL_ATTEMPT: str(attempt),
        LABEL_DEPLOYMENT: run.deployment_name or "",
        LABEL_FLOW: run.flow_name,
        **worker_labels(worker),
        LABEL_AUTO_REMOVE: "true" if job.auto_remove else "false",
        LABEL_RUN_DIR: str(run_dir),
    }


def container_name(run: FlowRun, job: ContainerJob, attempt: int) -> str:
    """The job variable `name`, or nborch-<run name>-<attempt> (unique across retries)."""
    if job.name:
        return job.name
    return _NOT_IN_NAMES.sub("-", f"nborch-{run.name}-{attempt}")


def working_dir(job: ContainerJob, image_labels: dict[str, Any]) -> str:
    return str(job.working_dir or image_labels.get(LABEL_WORKDIR) or RUN_MOUNT)


def papermill_command(
    job: ContainerJob, image_labels: dict[str, Any], output_name: str
) -> list[str]:
    """papermill on the copy of the input notebook in the run's folder, nothing else."""
    return papermill_argv(
        list(job.command),
        f"{RUN_MOUNT}/{INPUT_NOTEBOOK}",
        f"{RUN_MOUNT}/{output_name}",
        parameters_file=f"{RUN_MOUNT}/{PARAMETERS_FILE}",
        cwd=working_dir(job, image_labels),
        kernel_name=job.kernel_name,
        execution_timeout=job.execution_timeout,
        log_output=job.stream_output,
    )


def container_options(
    run: FlowRun,
    job: DockerJob,
    *,
    run_dir: Path,
    image_labels: dict[str, Any],
    labels: dict[str, str],
    name: str,
) -> dict[str, Any]:
    """Keyword arguments for `docker.containers.create`. Networks beyond the first are
    connected by the caller before the container starts."""
    assert run.output_path, "every run has an output path"
    output_name = Path(run.output_path).name
    return {
        **host_options(job, image_labels),
        "command": papermill_command(job, image_labels, output_name),
        "name": name,
        "labels": labels,
        "environment": {
            **job.env,
            "NBORCH_FLOW_RUN_ID": str(run.id),
            "PYTHONUNBUFFERED": "1",
        },
        "volumes": [f"{run_dir}:{RUN_MOUNT}:rw", *job.volumes],
    }


def host_options(job: DockerJob, image_labels: dict[str, Any]) -> dict[str, Any]:
    """What a run's container is given besides its command, name, labels, environment and
    mounts: image, working directory, user, network, limits."""
    mem_limit = job.mem_limit
    cpus = job.cpus
    networks = list(job.networks)
    options: dict[str, Any] = {
        "image": job.image,
        "working_dir": working_dir(job, image_labels),
        "user": job.user or None,
        "privileged": job.privileged,
        "init": True,  # papermill is not PID 1: `docker stop` reaches it
        "stdin_open": False,
        "tty": False,
    }
    if job.network_mode:
        options["network_mode"] = job.network_mode
    elif networks:
        options["network"] = networks[0]
    if mem_limit is not None:
        options["mem_limit"] = mem_limit
        options["memswap_limit"] = mem_limit  # the limit is the limit: no swap on top
    if cpus is not None:
        options["nano_cpus"] = int(float(cpus) * 1e9)
    return options


def extra_networks(job: DockerJob) -> list[str]:
    """Networks to connect after creation (the first is given at creation without a mode)."""
    networks = list(job.networks)
    return networks if job.network_mode else networks[1:]

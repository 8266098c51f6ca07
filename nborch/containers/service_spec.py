"""What a run's Docker Swarm service looks like: a replicated job of one task that never
restarts, running only papermill on the run's folder, with nborch's labels, its placement
and resources from the job variables.

The run's folder is bind-mounted at /nborch/run as for a docker pool's container: on one node
that is this machine's folder; on several, `NBORCH_HOME` must be on storage every node
mounts at the same path (or the job variable `constraints` keeps the task on this node).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from docker.types import Resources, RestartPolicy, ServiceMode
from docker.utils import parse_bytes

from nborch.containers.spec import RUN_MOUNT, papermill_command, working_dir
from nborch.jobs.swarm_template import SwarmJob
from nborch.models import FlowRun


def _nano_cpus(cpus: Any) -> int | None:
    return None if cpus is None else int(float(cpus) * 1e9)


def _bytes(size: Any) -> int | None:
    return None if size is None else int(parse_bytes(size))


def service_options(
    run: FlowRun,
    job: SwarmJob,
    *,
    run_dir: Path,
    image_labels: dict[str, Any],
    labels: dict[str, str],
    name: str,
    grace_period: float,
) -> dict[str, Any]:
    """Keyword arguments for `docker.services.create`."""
    assert run.output_path, "every run has an output path"
    resources = Resources(
        cpu_limit=_nano_cpus(job.cpus),
        mem_limit=_bytes(job.mem_limit),
        cpu_reservation=_nano_cpus(job.cpu_reservation),
        mem_reservation=_bytes(job.mem_reservation),
    )
    return {
        "image": job.image,
        "command": papermill_command(job, image_labels, Path(run.output_path).name),
        "name": name,
        "labels": labels,
        "container_labels": labels,
        "env": {
            **job.env,
            "NBORCH_FLOW_RUN_ID": str(run.id),
            "PYTHONUNBUFFERED": "1",
        },
        "mounts": [f"{run_dir}:{RUN_MOUNT}:rw", *job.volumes],
        "workdir": working_dir(job, image_labels),
        "user": job.user or None,
        "init": True,  # papermill is not PID 1: the stop signal reaches it
        "networks": list(job.networks),
        "constraints": list(job.constraints),
        "resources": resources,
        # One task, run once: nborch retries a run itself (the deployment's retries).
        "mode": ServiceMode("replicated-job", replicas=1, concurrency=1),
        "restart_policy": RestartPolicy(condition="none"),
        "stop_grace_period": int(math.ceil(grace_period) * 1e9),
    }

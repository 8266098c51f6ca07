"""A run's Kubernetes Job: the pool's resolved job manifest with the run's own parts put in
(name, labels, the papermill command on the run's folder, environment), empty values left
out. What a Kubernetes dispatcher submits (`kubectl create -f -` or the API's
`create_namespaced_job`) for each run."""

from __future__ import annotations

import copy
import re
from typing import Any

from nborch.containers.spec import (
    INPUT_NOTEBOOK,
    LABEL_ATTEMPT,
    LABEL_DEPLOYMENT,
    LABEL_FLOW,
    LABEL_POOL,
    LABEL_RUN_ID,
    PARAMETERS_FILE,
    RUN_MOUNT,
)
from nborch.execution.papermill_command import papermill_argv
from nborch.jobs.kubernetes_template import KubernetesJob
from nborch.models import FlowRun

_NOT_IN_DNS_NAMES = re.compile(r"[^a-z0-9-]+")
_NOT_IN_LABEL_VALUES = re.compile(r"[^A-Za-z0-9_.-]+")


def job_name(run: FlowRun, attempt: int) -> str:
    """nborch-<run name>-<attempt>, as a DNS label (at most 63 characters)."""
    name = _NOT_IN_DNS_NAMES.sub("-", f"nborch-{run.name}-{attempt}".lower())
    return name[:63].strip("-")


def _label_value(value: str) -> str:
    return _NOT_IN_LABEL_VALUES.sub("-", value)[:63].strip("-_.")


def render_job_manifest(run: FlowRun, job: KubernetesJob, attempt: int) -> dict[str, Any]:
    """The Job that runs `run` (attempt `attempt`), from its resolved job configuration."""
    manifest = copy.deepcopy(job.job_manifest)
    labels = {
        **{str(k): str(v) for k, v in (manifest["metadata"].get("labels") or {}).items()},
        LABEL_RUN_ID: str(run.id),
        LABEL_ATTEMPT: str(attempt),
        LABEL_POOL: _label_value(run.pool_name or ""),
        LABEL_FLOW: _label_value(run.flow_name),
        LABEL_DEPLOYMENT: _label_value((run.deployment_name or "").replace("/", ".")),
    }
    manifest["metadata"]["name"] = job_name(run, attempt)
    manifest["metadata"]["labels"] = labels
    pod = manifest["spec"]["template"]
    pod.setdefault("metadata", {})["labels"] = labels
    container = pod["spec"]["containers"][0]
    assert run.output_path, "every run has an output path"
    output_name = run.output_path.rsplit("/", 1)[-1]
    container["command"] = papermill_argv(
        list(job.command),
        f"{RUN_MOUNT}/{INPUT_NOTEBOOK}",
        f"{RUN_MOUNT}/{output_name}",
        parameters_file=f"{RUN_MOUNT}/{PARAMETERS_FILE}",
        cwd=job.working_dir or RUN_MOUNT,
        kernel_name=job.kernel_name,
        execution_timeout=job.execution_timeout,
        log_output=job.stream_output,
    )
    env = {**job.env, "NBORCH_FLOW_RUN_ID": str(run.id), "PYTHONUNBUFFERED": "1"}
    container["env"] = [{"name": k, "value": str(v)} for k, v in env.items()]
    for mount in container.get("volumeMounts") or []:
        if mount.get("name") == "nborch-run":
            mount["subPath"] = str(run.id)  # the run's folder in the claim
    return _without_empty(manifest)


def _without_empty(node: Any) -> Any:
    """Drop None, {} and [] values: Kubernetes takes an absent field for its default."""
    if isinstance(node, dict):
        kept = {key: _without_empty(value) for key, value in node.items()}
        return {key: value for key, value in kept.items() if value not in (None, {}, [])}
    if isinstance(node, list):
        return [_without_empty(item) for item in node]
    return node

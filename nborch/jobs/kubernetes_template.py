"""The `kubernetes` pool's default base job template: a Kubernetes Job per run.

The job configuration holds the Job manifest with `{{ variable }}` placeholders; the run's
own parts (its name, labels, the papermill command on the run's folder, its environment)
are put in by `nborch.jobs.kubernetes_job.render_job_manifest`. As with the docker and
docker-swarm pools, the run's folder is shared storage: a PersistentVolumeClaim
(`runs_volume_claim`, ReadWriteMany, e.g. NFS) holding `$NBORCH_HOME/runs` of the process
that submits the runs, mounted in the pod at /nborch/run through the run's own sub-path.
"""

from __future__ import annotations

import copy
from typing import Annotated, Any

from pydantic import Field

from nborch.jobs.model import Bounds
from nborch.jobs.variables import (
    DEFAULT_RUNTIME_IMAGE,
    PAPERMILL_IN_IMAGE,
    Environment,
    Image,
    JobVariables,
    PapermillCommand,
    PullPolicy,
    StringMap,
    WorkingDir,
    described,
)

Quantity = Annotated[str | None, Bounds(pattern="^[0-9.]+[a-zA-Z]*$")]


class KubernetesRunVariables(JobVariables):
    """The variables a Kubernetes job configuration holds beside its manifest: what
    `render_job_manifest` puts into the Job for the run."""

    env: Annotated[Environment, described("Set in the pod's container.")] = {}
    namespace: Annotated[
        str,
        Bounds(pattern="^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"),
        Field(title="Namespace", description="The namespace the Job is created in."),
    ] = "default"
    command: PapermillCommand = PAPERMILL_IN_IMAGE  # as in a docker pool
    working_dir: Annotated[
        WorkingDir, described("Where the notebook runs, in the container; empty: /nborch/run.")
    ] = None


class KubernetesVariables(KubernetesRunVariables):
    """Every variable of a `kubernetes` pool: those above, and those the manifest takes."""

    image: Image = DEFAULT_RUNTIME_IMAGE
    image_pull_policy: Annotated[
        PullPolicy,
        described("The pod's imagePullPolicy: Always, IfNotPresent on the node, or Never."),
    ] = "IfNotPresent"
    labels: Annotated[
        StringMap,
        Field(title="Labels", description="Labels of the Job and its pod, besides nborch's own."),
    ] = {}
    service_account_name: Annotated[
        str | None,
        Field(
            title="Service account",
            description="The Kubernetes service account the pod runs as; empty: the "
            "namespace's default.",
        ),
    ] = None
    node_selector: Annotated[
        StringMap,
        Field(
            title="Node selector",
            description="Node labels the pod's node must have.",
            examples=[{"accelerator": "nvidia-tesla-t4"}],
        ),
    ] = {}
    cpu_request: Annotated[
        Quantity,
        Field(
            title="CPU request", description="e.g. 500m or 2; empty: none.", examples=["500m", "2"]
        ),
    ] = None
    cpu_limit: Annotated[
        Quantity,
        Field(title="CPU limit", description="e.g. 1 or 4; empty: none.", examples=["1", "4"]),
    ] = None
    memory_request: Annotated[
        Quantity,
        Field(title="Memory request", description="e.g. 512Mi; empty: none.", examples=["512Mi"]),
    ] = None
    memory_limit: Annotated[
        Quantity,
        Field(title="Memory limit", description="e.g. 2Gi; empty: none.", examples=["2Gi"]),
    ] = None
    runs_volume_claim: Annotated[
        str,
        Bounds(minLength=1),
        Field(
            title="Runs volume claim",
            description="The PersistentVolumeClaim (ReadWriteMany) that holds the runs' "
            "folders: NBORCH_HOME/runs of the process submitting the runs.",
        ),
    ] = "nborch-runs"
    active_deadline_seconds: Annotated[
        int | None,
        Bounds(minimum=1),
        Field(
            title="Deadline (s)",
            description="Kubernetes stops the Job after this long; empty: never.",
        ),
    ] = None
    finished_job_ttl: Annotated[
        int | None,
        Bounds(minimum=0),
        Field(
            title="Finished Job TTL (s)",
            description="Kubernetes deletes the Job this long after it ended.",
        ),
    ] = 600


JOB_MANIFEST: dict[str, Any] = {
    "apiVersion": "batch/v1",
    "kind": "Job",
    "metadata": {"namespace": "{{ namespace }}", "labels": "{{ labels }}"},
    "spec": {
        "backoffLimit": 0,  # nborch retries a run itself (the deployment's retries)
        "activeDeadlineSeconds": "{{ active_deadline_seconds }}",
        "ttlSecondsAfterFinished": "{{ finished_job_ttl }}",
        "template": {
            "metadata": {"labels": "{{ labels }}"},
            "spec": {
                "restartPolicy": "Never",
                "serviceAccountName": "{{ service_account_name }}",
                "nodeSelector": "{{ node_selector }}",
                "containers": [
                    {
                        "name": "papermill",
                        "image": "{{ image }}",
                        "imagePullPolicy": "{{ image_pull_policy }}",
                        "resources": {
                            "requests": {
                                "cpu": "{{ cpu_request }}",
                                "memory": "{{ memory_request }}",
                            },
                            "limits": {"cpu": "{{ cpu_limit }}", "memory": "{{ memory_limit }}"},
                        },
                        "volumeMounts": [{"name": "nborch-run", "mountPath": "/nborch/run"}],
                    }
                ],
                "volumes": [
                    {
                        "name": "nborch-run",
                        "persistentVolumeClaim": {"claimName": "{{ runs_volume_claim }}"},
                    }
                ],
            },
        },
    },
}


class KubernetesJob(KubernetesRunVariables):
    """A `kubernetes` pool's run: the Job manifest, its placeholders filled, and the
    variables that `render_job_manifest` puts into it for the run."""

    fixed = frozenset({"job_manifest"})
    job_manifest: dict[str, Any]

    @classmethod
    def variables_schema(cls) -> dict[str, Any]:
        return KubernetesVariables.variables_schema()

    @classmethod
    def job_configuration_template(cls) -> dict[str, Any]:
        return {"job_manifest": copy.deepcopy(JOB_MANIFEST), **super().job_configuration_template()}

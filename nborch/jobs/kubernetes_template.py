"""The `kubernetes` pool's default base job template: a Kubernetes Job per run.

The job configuration holds the Job manifest with `{{ variable }}` placeholders; the run's
own parts (its name, labels, the papermill command on the run's folder, its environment)
are put in by `nborch.jobs.kubernetes_job.render_job_manifest`. As with the docker and
docker-swarm pools, the run's folder is shared storage: a PersistentVolumeClaim
(`runs_volume_claim`, ReadWriteMany, e.g. NFS) holding `$NBORCH_HOME/runs` of the process
that submits the runs, mounted in the pod at /nborch/run through the run's own sub-path.
"""

from __future__ import annotations

from typing import Any

from nborch.jobs.variables import COMMON_VARIABLES, DOCKER_VARIABLES, STRING_MAP

_QUANTITY = {"type": ["string", "null"], "pattern": "^[0-9.]+[a-zA-Z]*$", "default": None}

KUBERNETES_VARIABLES: dict[str, Any] = {
    **COMMON_VARIABLES,
    "env": {**COMMON_VARIABLES["env"], "description": "Set in the pod's container."},
    "namespace": {
        "title": "Namespace",
        "description": "The namespace the Job is created in.",
        "type": "string",
        "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$",
        "default": "default",
    },
    # What a container runs: as in a docker pool.
    "image": DOCKER_VARIABLES["image"],
    "image_pull_policy": {
        **DOCKER_VARIABLES["image_pull_policy"],
        "description": "The pod's imagePullPolicy: Always, IfNotPresent on the node, or Never.",
    },
    "command": DOCKER_VARIABLES["command"],
    "labels": {
        "title": "Labels",
        "description": "Labels of the Job and its pod, besides nborch's own.",
        **STRING_MAP,
        "default": {},
    },
    "service_account_name": {
        "title": "Service account",
        "type": ["string", "null"],
        "default": None,
    },
    "node_selector": {
        "title": "Node selector",
        "description": "Node labels the pod's node must have.",
        **STRING_MAP,
        "examples": [{"accelerator": "nvidia-tesla-t4"}],
        "default": {},
    },
    "cpu_request": {"title": "CPU request", **_QUANTITY, "examples": ["500m", "2"]},
    "cpu_limit": {"title": "CPU limit", **_QUANTITY, "examples": ["1", "4"]},
    "memory_request": {"title": "Memory request", **_QUANTITY, "examples": ["512Mi"]},
    "memory_limit": {"title": "Memory limit", **_QUANTITY, "examples": ["2Gi"]},
    "runs_volume_claim": {
        "title": "Runs volume claim",
        "description": "The PersistentVolumeClaim (ReadWriteMany) that holds the runs' "
        "folders: NBORCH_HOME/runs of the process submitting the runs.",
        "type": "string",
        "minLength": 1,
        "default": "nborch-runs",
    },
    "active_deadline_seconds": {
        "title": "Deadline (s)",
        "description": "Kubernetes stops the Job after this long; empty: never.",
        "type": ["integer", "null"],
        "minimum": 1,
        "default": None,
    },
    "finished_job_ttl": {
        "title": "Finished Job TTL (s)",
        "description": "Kubernetes deletes the Job this long after it ended.",
        "type": ["integer", "null"],
        "minimum": 0,
        "default": 600,
    },
    "working_dir": {
        "title": "Working directory",
        "description": "Where the notebook runs, in the container; empty: /nborch/run.",
        "type": ["string", "null"],
        "default": None,
    },
}

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

KUBERNETES_TEMPLATE: dict[str, Any] = {
    "job_configuration": {
        "job_manifest": JOB_MANIFEST,
        **{
            name: "{{ " + name + " }}"
            for name in (
                "namespace",
                "command",
                "env",
                "secret_env",
                "kernel_name",
                "execution_timeout",
                "stream_output",
                "working_dir",
            )
        },
    },
    "variables": {"type": "object", "properties": KUBERNETES_VARIABLES},
}

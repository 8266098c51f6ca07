"""The kubernetes pool's base job template: a run's Kubernetes Job, rendered from the pool's
template and the deployment's and run's job variables, is a valid Job for the Kubernetes
API (checked offline against its published schema, strict: no unknown fields). No cluster
can run here, so nothing submits it."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Any

import kubernetes_validate
import pytest

from nborch.errors import ValidationError
from nborch.jobs import default_base_job_template, validate_job_variables
from nborch.jobs.kubernetes_job import render_job_manifest
from nborch.jobs.kubernetes_template import KubernetesJob
from nborch.models import FlowRun, PoolType, StateType

NOW = datetime(2026, 3, 4, 12, 0, tzinfo=timezone.utc)
RUN_ID = uuid.UUID("3f2a1b4c-5d6e-4f70-8192-a3b4c5d6e7f8")


def _run(**variables: Any) -> FlowRun:
    return FlowRun(
        id=RUN_ID,
        name="Nightly_Report-3f2a1b4c",
        flow_name="sales report",
        deployment_name="sales report/nightly",
        pool_name="k8s",
        state=StateType.RUNNING,
        parameters={"region": "EMEA"},
        job_variables=variables,
        input_path="/srv/flows/report.ipynb",
        output_path=f"/home/me/.nborch/runs/{RUN_ID}/output.ipynb",
        scheduled_time=NOW,
        created=NOW,
    )


def _job(**variables: Any) -> KubernetesJob:
    template = default_base_job_template(PoolType.KUBERNETES)
    validate_job_variables(template, variables, owner="work pool 'k8s'")
    return KubernetesJob.from_template(template, variables, owner="flow run 'nightly'")


def _valid(manifest: dict[str, Any]) -> None:
    kubernetes_validate.validate(manifest, kubernetes_validate.latest_version(), strict=True)


def test_the_default_job_is_a_valid_kubernetes_job() -> None:
    manifest = render_job_manifest(_run(), _job(), attempt=1)
    _valid(manifest)
    assert manifest["kind"] == "Job" and manifest["apiVersion"] == "batch/v1"
    assert manifest["metadata"]["name"] == "nborch-nightly-report-3f2a1b4c-1"
    assert manifest["metadata"]["namespace"] == "default"
    assert manifest["metadata"]["labels"]["io.nborch.run-id"] == str(RUN_ID)
    assert manifest["metadata"]["labels"]["io.nborch.deployment"] == "sales-report.nightly"
    spec = manifest["spec"]
    assert spec["backoffLimit"] == 0 and spec["ttlSecondsAfterFinished"] == 600
    pod = spec["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    [container] = pod["containers"]
    assert container["image"] == "nborch/runtime:py3.11"
    assert container["command"][:3] == [
        "papermill",
        "/nborch/run/input.ipynb",
        "/nborch/run/output.ipynb",
    ]
    assert ["-f", "/nborch/run/parameters.yaml"] == container["command"][4:6]
    assert {"name": "NBORCH_FLOW_RUN_ID", "value": str(RUN_ID)} in container["env"]
    assert container["volumeMounts"] == [
        {"name": "nborch-run", "mountPath": "/nborch/run", "subPath": str(RUN_ID)}
    ]
    assert pod["volumes"][0]["persistentVolumeClaim"] == {"claimName": "nborch-runs"}
    assert "resources" not in container  # no requests or limits unless asked for


def test_job_variables_place_and_size_the_pod() -> None:
    job = _job(
        namespace="analytics",
        image="registry.example/flows:1.2",
        image_pull_policy="Always",
        env={"STAGE": "prod"},
        labels={"team": "sales"},
        node_selector={"accelerator": "nvidia-tesla-t4"},
        cpu_request="500m",
        cpu_limit="2",
        memory_request="512Mi",
        memory_limit="2Gi",
        service_account_name="flows",
        active_deadline_seconds=3600,
        runs_volume_claim="shared-runs",
        kernel_name="python3",
        execution_timeout=600,
    )
    manifest = render_job_manifest(_run(), job, attempt=2)
    _valid(manifest)
    pod = manifest["spec"]["template"]["spec"]
    [container] = pod["containers"]
    assert manifest["metadata"]["namespace"] == "analytics"
    assert manifest["metadata"]["name"].endswith("-2")
    assert manifest["spec"]["activeDeadlineSeconds"] == 3600
    assert manifest["spec"]["template"]["metadata"]["labels"]["team"] == "sales"
    assert pod["nodeSelector"] == {"accelerator": "nvidia-tesla-t4"}
    assert pod["serviceAccountName"] == "flows"
    assert container["resources"] == {
        "requests": {"cpu": "500m", "memory": "512Mi"},
        "limits": {"cpu": "2", "memory": "2Gi"},
    }
    assert container["imagePullPolicy"] == "Always"
    assert {"name": "STAGE", "value": "prod"} in container["env"]
    assert ["-k", "python3"] == container["command"][container["command"].index("-k") :][:2]
    assert pod["volumes"][0]["persistentVolumeClaim"] == {"claimName": "shared-runs"}


def test_a_broken_manifest_is_caught_by_the_schema() -> None:
    manifest = render_job_manifest(_run(), _job(), attempt=1)
    manifest["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] = 7
    with pytest.raises(kubernetes_validate.ValidationError):
        _valid(manifest)


def test_bad_job_variables_are_refused_before_any_run() -> None:
    with pytest.raises(ValidationError, match="namespace"):
        _job(namespace="Not A Namespace")
    with pytest.raises(ValidationError, match="memory_limit"):
        _job(memory_limit="lots")

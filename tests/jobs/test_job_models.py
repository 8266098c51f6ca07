"""nborch.jobs.model: each pool type's typed job — the default template generated from it,
the typed job a worker gets from a resolved configuration, and pools whose stored templates
are older than the variables they now offer."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from nborch.containers.standby_containers import standby_container_cap
from nborch.errors import ValidationError
from nborch.jobs import (
    default_base_job_template,
    resolve_job_configuration,
    validate_job_variables,
)
from nborch.jobs.dask_template import DaskJob
from nborch.jobs.kubernetes_template import KubernetesJob, KubernetesVariables
from nborch.jobs.swarm_template import SwarmJob
from nborch.jobs.templates import job_type_for
from nborch.jobs.variables import (
    AUTO_STANDBY_KERNELS,
    DEFAULT_STANDBY_CONTAINERS,
    DockerJob,
    ManagedJob,
    ProcessJob,
)
from nborch.models import PoolType
from nborch.workers import worker_class_for
from nborch.workers.standby_recipes import standby_cap

OWNER = "flow run 'nightly'"


def without(template: dict[str, Any], *names: str) -> dict[str, Any]:
    """`template` as a pool made before variables `names` stored it."""
    old = copy.deepcopy(template)
    for name in names:
        del old["variables"]["properties"][name]
        del old["job_configuration"][name]
    return old


# ---- the default template, generated from the model -------------------------------------------


@pytest.mark.parametrize("pool_type", list(PoolType))
def test_each_pool_types_template_comes_from_its_job_model(pool_type: PoolType) -> None:
    job_type = job_type_for(pool_type)
    template = default_base_job_template(pool_type)
    assert template == job_type.base_job_template()
    properties = template["variables"]["properties"]
    for name, schema in properties.items():
        assert schema["title"] and schema["description"], name
        assert "default" in schema, name
        assert "anyOf" not in schema, name  # a nullable variable is a list of types
    if job_type is not KubernetesJob:
        assert list(template["job_configuration"]) == list(properties)
        # The template's defaults make exactly the model's defaults.
        assert job_type.from_template(template, owner=OWNER) == job_type.model_validate({})


@pytest.mark.parametrize("pool_type", list(PoolType))
def test_each_models_defaults_are_within_its_own_bounds(pool_type: PoolType) -> None:
    template = default_base_job_template(pool_type)
    validate_job_variables(template, owner=OWNER)  # the defaults alone, against the schema


def test_a_nullable_variable_is_a_list_of_types_with_its_bounds() -> None:
    properties = default_base_job_template(PoolType.DOCKER)["variables"]["properties"]
    assert properties["execution_timeout"]["type"] == ["number", "null"]
    assert properties["execution_timeout"]["exclusiveMinimum"] == 0
    assert properties["mem_limit"]["type"] == ["string", "integer", "null"]
    assert properties["mem_limit"]["pattern"] == "^[0-9]+[bkmgBKMG]?$"
    assert properties["network_mode"]["not"] == {"const": "host"}
    assert properties["networks"]["items"]["not"] == {"const": "host"}
    assert properties["volumes"]["examples"] == [["/srv/data:/data:ro"]]


def test_the_kubernetes_template_offers_the_manifests_variables_too() -> None:
    template = default_base_job_template(PoolType.KUBERNETES)
    assert set(template["variables"]["properties"]) == set(KubernetesVariables.model_fields)
    assert "job_manifest" not in template["variables"]["properties"]
    job = KubernetesJob.from_template(template, {"image": "flows:1"}, owner=OWNER)
    [container] = job.job_manifest["spec"]["template"]["spec"]["containers"]
    assert container["image"] == "flows:1"


def test_a_managed_pool_offers_no_choice_of_infrastructure() -> None:
    template = default_base_job_template(PoolType.MANAGED)
    offered = set(template["variables"]["properties"])
    assert offered == {"env", "secret_env", "kernel_name", "execution_timeout", "stream_output"}
    job = ManagedJob.from_template(template, owner=OWNER)
    assert job.in_process is False and job.working_dir is None
    assert standby_cap(template, ManagedJob) == 0


# ---- the typed job a worker receives ----------------------------------------------------------


@pytest.mark.parametrize("pool_type", [t for t in PoolType if t is not PoolType.KUBERNETES])
def test_each_worker_receives_its_pool_types_job(pool_type: PoolType) -> None:
    assert worker_class_for(pool_type).job_type is job_type_for(pool_type)


def test_the_job_keeps_each_variables_type() -> None:
    template = default_base_job_template(PoolType.DOCKER)
    layer = {"mem_limit": 1073741824, "volumes": ["/a:/b:ro"], "env": {"A": "1"}}
    job = DockerJob.from_template(template, layer, {"mem_limit": "2g"}, owner=OWNER)
    assert job.mem_limit == "2g" and job.volumes == ["/a:/b:ro"] and job.env == {"A": "1"}
    assert DockerJob.from_template(template, layer, owner=OWNER).mem_limit == 1073741824
    assert job.stream_output is True and job.standby_containers == DEFAULT_STANDBY_CONTAINERS


def test_the_pools_template_not_the_model_decides_the_bounds() -> None:
    # A pool whose template lifts the refusal of the host network gets it: the model types
    # the job, the pool's schema (checked when the variables come in) bounds it.
    job = DockerJob.of({"network_mode": "host", "standby_containers": 40}, owner=OWNER)
    assert job.network_mode == "host" and job.standby_containers == 40


def test_a_job_of_the_wrong_types_is_refused_naming_the_run_and_the_fix() -> None:
    with pytest.raises(ValidationError) as caught:
        ProcessJob.of({"env": "A=1", "stream_output": "perhaps"}, owner=OWNER)
    message = str(caught.value)
    assert message.startswith(f"The job configuration of {OWNER} does not fit its pool type")
    assert "env: " in message and "stream_output: " in message
    assert "nborch work-pool get-default-base-job-template" in message


def test_keys_of_a_custom_template_the_model_does_not_know_are_left_out() -> None:
    template = default_base_job_template(PoolType.PROCESS)
    template["job_configuration"]["note"] = "nightly {{ kernel_name }}"
    job = ProcessJob.from_template(template, {"kernel_name": "python3"}, owner=OWNER)
    assert job.kernel_name == "python3" and not hasattr(job, "note")


def test_the_job_is_frozen_and_shares_nothing_with_the_template() -> None:
    template = default_base_job_template(PoolType.DASK)
    job = DaskJob.from_template(template, owner=OWNER)
    with pytest.raises(Exception, match="frozen"):
        job.scheduler_address = "tcp://elsewhere:8786"  # type: ignore[misc]
    job.resources["GPU"] = 1
    assert DaskJob.from_template(template, owner=OWNER).resources == {}


# ---- pools made before a variable existed -----------------------------------------------------


def test_a_process_pool_from_before_standby_kernels_runs_in_process_with_them() -> None:
    old = without(default_base_job_template(PoolType.PROCESS), "in_process", "standby_kernels")
    job = ProcessJob.from_template(old, owner=OWNER)
    assert job.in_process is True and job.standby_kernels is None
    assert standby_cap(old) == AUTO_STANDBY_KERNELS
    resolved = resolve_job_configuration(old)
    assert "in_process" not in resolved  # the defaults come from the model, not the template


@pytest.mark.parametrize(
    ("in_process", "standby_kernels", "cap"),
    [(True, None, AUTO_STANDBY_KERNELS), (True, 2, 2), (True, 0, 0), (False, None, 0)],
)
def test_the_standby_cap_follows_the_pools_defaults(
    in_process: bool, standby_kernels: int | None, cap: int
) -> None:
    template = default_base_job_template(PoolType.PROCESS)
    properties = template["variables"]["properties"]
    properties["in_process"]["default"] = in_process
    properties["standby_kernels"]["default"] = standby_kernels
    assert standby_cap(template) == cap


def test_a_docker_pool_from_before_standby_containers_gets_the_default() -> None:
    template = default_base_job_template(PoolType.DOCKER)
    assert standby_container_cap(without(template, "standby_containers")) == 1
    template["variables"]["properties"]["standby_containers"]["default"] = 3
    assert standby_container_cap(template) == 3


def test_a_swarm_pools_defaults_make_its_job() -> None:
    job = SwarmJob.from_template(default_base_job_template(PoolType.DOCKER_SWARM), owner=OWNER)
    assert job.auto_remove is True and job.placement_timeout == 300
    assert job.command == ["papermill"]

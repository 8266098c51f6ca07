"""The docker pool's default base job template: what it offers, its safe defaults, and
resolution that keeps every value's type."""

from __future__ import annotations

import pytest

from nborch.errors import ValidationError
from nborch.jobs import default_base_job_template, resolve_job_configuration, validate_job_variables
from nborch.jobs.templates import DEFAULT_RUNTIME_IMAGE
from nborch.models import PoolType

OWNER = "work pool 'my-docker-pool'"
OFFERED = {
    "image", "command", "env", "labels", "name", "volumes", "network_mode", "networks",
    "mem_limit", "cpus", "user", "privileged", "auto_remove", "image_pull_policy",
    "stream_output", "working_dir", "kernel_name", "execution_timeout", "secret_env",
    "standby_containers",
}  # fmt: skip


def template() -> dict[str, object]:
    return default_base_job_template(PoolType.DOCKER)


def test_it_offers_every_variable_with_safe_defaults() -> None:
    resolved = resolve_job_configuration(template())
    assert set(resolved) == OFFERED
    assert resolved == {
        "image": DEFAULT_RUNTIME_IMAGE,
        "image_pull_policy": "IfNotPresent",
        "command": ["papermill"],
        "env": {},
        "labels": {},
        "name": None,
        "volumes": [],
        "network_mode": None,  # the engine's default: bridge, never the host's network
        "networks": [],
        "mem_limit": None,
        "cpus": None,
        "user": None,  # the image's own (the runtime image's is not root)
        "privileged": False,
        "auto_remove": False,
        "stream_output": True,
        "working_dir": None,
        "kernel_name": None,
        "execution_timeout": None,
        "secret_env": [],  # names only; values come from the worker's environment
        "standby_containers": 1,  # one container started ahead, per free slot at most
    }


def test_deployment_then_run_variables_keep_their_types() -> None:
    deployment = {
        "volumes": ["/srv/data:/data:ro", "/srv/cache:/cache"],
        "mem_limit": "512m",
        "cpus": 1.5,
        "env": {"A": "1"},
        "labels": {"team": "ds"},
        "networks": ["backend", "metrics"],
        "auto_remove": True,
    }
    run = {"mem_limit": 1073741824, "command": ["python", "-m", "papermill"], "env": {"B": "2"}}
    validate_job_variables(template(), deployment, run, owner=OWNER)
    resolved = resolve_job_configuration(template(), deployment, run)
    assert resolved["volumes"] == ["/srv/data:/data:ro", "/srv/cache:/cache"]  # still a list
    assert resolved["mem_limit"] == 1073741824 and isinstance(resolved["mem_limit"], int)
    assert resolved["cpus"] == 1.5
    assert resolved["command"] == ["python", "-m", "papermill"]
    assert resolved["env"] == {"B": "2"}  # the run's replaces the deployment's
    assert resolved["networks"] == ["backend", "metrics"]
    assert resolved["auto_remove"] is True
    assert resolved["privileged"] is False


def test_the_seed_example_pull_policy_never_is_accepted() -> None:
    validate_job_variables(template(), {"image_pull_policy": "Never"}, owner=OWNER)
    assert (
        resolve_job_configuration(template(), {"image_pull_policy": "Never"})["image_pull_policy"]
        == "Never"
    )


@pytest.mark.parametrize(
    ("variables", "fragments"),
    [
        (
            {"network_mode": "host"},
            ["'network_mode' = \"host\"", 'the template refuses "host"', 'except "host"'],
        ),
        ({"networks": ["backend", "host"]}, ["'networks'", 'the template refuses "host"']),
        (
            {"image_pull_policy": "Sometimes"},
            ['Allowed: one of "Always", "IfNotPresent", "Never".'],
        ),
        ({"mem_limit": "lots"}, ["'mem_limit' = \"lots\"", 'e.g. "512m", "2g"']),
        ({"mem_limit": 1024}, ["'mem_limit' = 1024", "minimum"]),
        ({"volumes": "/a:/b"}, ["'volumes' = \"/a:/b\"", "Allowed: array of string"]),
        ({"volumes": ["relative"]}, ["'volumes' = [\"relative\"]", "/srv/data:/data:ro"]),
        ({"cpus": 0}, ["'cpus' = 0", "exclusiveMinimum 0"]),
        ({"command": []}, ["'command' = []"]),
        ({"privileged": "yes"}, ["'privileged' = \"yes\"", "Allowed: boolean."]),
        ({"image": ""}, ["'image' = \"\""]),
        ({"gpus": 1}, ["Job variable 'gpus' is not offered", "Known variables: auto_remove"]),
    ],
)
def test_bad_values_are_refused_naming_the_variable_and_what_is_allowed(
    variables: dict[str, object], fragments: list[str]
) -> None:
    with pytest.raises(ValidationError) as caught:
        validate_job_variables(template(), variables, owner=OWNER)
    message = str(caught.value)
    assert OWNER in message
    for fragment in fragments:
        assert fragment in message, (fragment, message)


def test_a_pool_that_needs_the_host_network_allows_it_in_its_own_template() -> None:
    allowing = template()
    del allowing["variables"]["properties"]["network_mode"]["not"]  # type: ignore[index]
    validate_job_variables(allowing, {"network_mode": "host"}, owner=OWNER)
    assert resolve_job_configuration(allowing, {"network_mode": "host"})["network_mode"] == "host"

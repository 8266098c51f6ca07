"""Deployments: parameters from the notebook, job variables checked, update in place."""

from __future__ import annotations

import pytest
from support.deployments import deploy_hello

from nborch.client import LocalClient
from nborch.errors import NotFoundError, ParameterError, ValidationError


def test_deploy_reads_parameters_and_redeploy_updates(client: LocalClient, pool: str) -> None:
    first = deploy_hello(client, pool, parameters={"times": 5}, tags=["a"], version="1")
    assert first.full_name == "hello/demo"
    assert [(p.name, p.type, p.default) for p in first.parameter_specs] == [
        ("name", "str", "world"),
        ("times", "int", 2),
        ("excited", "bool", False),
    ]
    assert first.queue_name == "default"
    second = deploy_hello(client, pool, parameters={"times": 6}, tags=["b"], version="2")
    assert second.id == first.id
    assert (second.parameters, second.tags, second.version) == ({"times": 6}, ["b"], "2")
    assert len(client.list_deployments()) == 1


def test_bad_deployments_are_refused_and_store_nothing(client: LocalClient, pool: str) -> None:
    with pytest.raises(NotFoundError, match="Work pool 'ghost' not found"):
        deploy_hello(client, "ghost")
    with pytest.raises(ParameterError, match="'times'.*must be int"):
        deploy_hello(client, pool, parameters={"times": "many"})
    with pytest.raises(ValidationError, match="Job variable 'image'"):
        deploy_hello(client, pool, job_variables={"image": "x"})
    with pytest.raises(ValidationError, match="execution_timeout"):
        deploy_hello(client, pool, job_variables={"execution_timeout": -5})
    with pytest.raises(NotFoundError, match="Work queue 'nope'"):
        deploy_hello(client, pool, work_queue_name="nope")
    assert client.list_deployments() == []


def test_delete_deployment_drops_its_unstarted_runs(client: LocalClient, pool: str) -> None:
    deploy_hello(client, pool)
    client.create_run("hello/demo")
    client.delete_deployment("hello/demo")
    assert client.list_runs() == []
    with pytest.raises(NotFoundError, match="Deployment 'hello/demo' not found"):
        client.get_deployment("hello/demo")

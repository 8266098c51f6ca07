"""A parameter's name is code in the cell papermill injects (``name = value``): names that
are not Python identifiers, and keywords, are refused wherever they enter (over HTTP too),
with nothing stored; values nested too deep are refused as well."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from support.api import Server, store_snapshot
from support.deployments import HELLO, deploy_hello

from nborch.client import LocalClient
from nborch.errors import ParameterError
from nborch.models import DeploymentSpec, ParameterSpec
from nborch.parameters import MAX_NESTING

INJECTION = "x=1\nimport os\nos.system('touch /tmp/nborch-pwned')\ny"


def spec_with(name: str, parameters: dict[str, object] | None = None) -> DeploymentSpec:
    return DeploymentSpec(
        flow_name="hello",
        name="demo",
        source=str(HELLO.parent),
        entrypoint=HELLO.name,
        pool_name="pool-a",
        parameter_specs=[ParameterSpec(name="name", type="str"), ParameterSpec(name=name)],
        parameters=parameters or {},
    )


def nested(depth: int) -> object:
    value: object = 1
    for _ in range(depth):
        value = [value]
    return value


def test_code_in_a_parameter_name_sent_over_http_is_refused(server: Server) -> None:
    server.local.create_pool("pool-a", "process")
    before = store_snapshot(server)
    body = spec_with(INJECTION).model_dump(mode="json")
    answer = httpx.put(
        f"{server.url}/api/v1/deployments",
        json=body,
        headers={"Authorization": f"Bearer {server.admin_key}"},
    )
    assert answer.status_code == 422, answer.text
    message = answer.json()["error"]["message"]
    assert "deployment 'hello/demo'" in message
    assert repr(INJECTION) in message and "not a Python identifier" in message
    assert store_snapshot(server) == before
    assert server.client().list_deployments() == []


@pytest.mark.parametrize(
    ("name", "reason"),
    [("class", "is a Python keyword"), ("2nd", "is not a Python identifier"), ("a-b", "is not a")],
)
def test_names_that_papermill_cannot_assign_are_refused(
    client: LocalClient, pool: str, name: str, reason: str
) -> None:
    with pytest.raises(ParameterError, match=f"'{name}' of deployment 'hello/demo' {reason}"):
        client.apply_deployment(spec_with(name))
    assert client.list_deployments() == []


def test_a_name_in_a_runs_parameters_is_checked_too(client: LocalClient, pool: str) -> None:
    deploy_hello(client, pool)
    with pytest.raises(ParameterError, match="'for' of deployment 'hello/demo' is a Python"):
        client.create_run("hello/demo", parameters={"for": 1})
    assert client.list_runs() == []


def test_values_nested_too_deep_are_refused(client: LocalClient, pool: str, tmp_path: Path) -> None:
    client.apply_deployment(spec_with("data", {"data": nested(MAX_NESTING - 1)}))
    too_deep = {"data": nested(3000)}  # deeper than Python's recursion limit
    with pytest.raises(
        ParameterError, match=f"'data' of deployment 'hello/demo' nests.*{MAX_NESTING}"
    ):
        client.apply_deployment(spec_with("data", too_deep))
    with pytest.raises(ParameterError, match="nests lists or dicts more than"):
        client.create_run("hello/demo", parameters=too_deep)
    assert client.list_runs() == []

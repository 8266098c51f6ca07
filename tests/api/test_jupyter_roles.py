"""Roles inside a real `jupyter server`: Jupyter's config says who is an nborch admin, a
viewer or a runner of some deployments, and Jupyter's authorizer (a real Authorizer subclass
configured as `c.ServerApp.authorizer_class`) caps it; runs record the Jupyter user who made
them. (A default Jupyter keeps its user an admin: test_jupyter_extension.)"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.jupyter_auth import USER_HEADER
from test_jupyter_extension import TOKEN, Jupyter, start_jupyter

from nborch.api.jupyter_roles import JupyterRoles
from nborch.models import ApiKeyRole
from nborch.store.engine import close_stores

pytestmark = pytest.mark.slow

CONFIG = """
c.ServerApp.identity_provider_class = "support.jupyter_auth.HeaderIdentityProviderFake"
c.ServerApp.authorizer_class = "support.jupyter_auth.TableAuthorizer"
c.NborchApp.admin_users = ["ops", "capped"]
c.NborchApp.viewer_users = ["*"]
c.NborchApp.run_deployments = {"alice": ["hello/a*"]}
"""


@pytest.fixture(scope="module")
def jupyter(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Jupyter]:
    running = start_jupyter(tmp_path_factory.mktemp("jupyter-roles"), config=CONFIG)
    try:
        yield running
    finally:
        running.process.stop()
        close_stores()


def call(jupyter: Jupyter, user: str, method: str, path: str, **options: Any) -> httpx.Response:
    headers = {"Authorization": f"token {TOKEN}", USER_HEADER: user}
    return httpx.request(method, jupyter.api(path), headers=headers, timeout=30, **options)


def refused(answer: httpx.Response) -> str:
    assert answer.status_code == 403, answer.text
    message: str = answer.json()["error"]["message"]
    return message


@pytest.fixture(scope="module")
def deployed(jupyter: Jupyter) -> None:
    """Made by the admin `ops`: a pool and two deployments of the example notebook."""
    pool = call(jupyter, "ops", "POST", "/work-pools", json={"name": "p", "type": "process"})
    assert pool.status_code == 201, pool.text
    notebook = Path(__file__).resolve().parents[2] / "notebooks" / "hello.ipynb"
    for name in ("a", "b"):
        spec = {
            "flow_name": "hello",
            "name": name,
            "source": str(notebook.parent),
            "entrypoint": notebook.name,
            "pool_name": "p",
        }
        answer = call(jupyter, "ops", "PUT", "/deployments", json=spec)
        assert answer.status_code == 200, answer.text


def test_a_viewer_in_jupyters_config_reads_and_is_refused_changes(
    jupyter: Jupyter, deployed: None
) -> None:
    pools = call(jupyter, "bob", "GET", "/work-pools")
    assert pools.status_code == 200 and [p["name"] for p in pools.json()] == ["p"]
    assert call(jupyter, "bob", "GET", "/deployments/hello%2Fa").status_code == 200
    for method, path, body in [
        ("POST", "/flow-runs", {"deployment": "hello/a"}),
        ("POST", "/work-pools", {"name": "bobs", "type": "process"}),
        ("GET", "/secrets", None),
    ]:
        message = refused(call(jupyter, "bob", method, path, json=body))
        assert message.startswith("Jupyter user 'bob' is a viewer: it may read"), message
        assert "add 'bob' to c.NborchApp.admin_users" in message, message


def test_a_runner_in_jupyters_config_runs_its_deployments_and_its_runs_name_it(
    jupyter: Jupyter, deployed: None
) -> None:
    made = call(jupyter, "alice", "POST", "/flow-runs", json={"deployment": "hello/a"})
    assert made.status_code == 201, made.text
    assert made.json()["created_by"] == "jupyter:alice"
    message = refused(call(jupyter, "alice", "POST", "/flow-runs", json={"deployment": "hello/b"}))
    assert "Jupyter user 'alice' is a runner of hello/a*" in message
    assert "may not run deployment 'hello/b'" in message
    refused(call(jupyter, "alice", "DELETE", "/deployments/hello%2Fa"))


def test_jupyters_authorizer_lowers_the_configured_role(jupyter: Jupyter, deployed: None) -> None:
    # `capped` is an admin in the config; the authorizer denies it write on "nborch": it
    # runs any deployment but changes nothing else.
    made = call(jupyter, "capped", "POST", "/flow-runs", json={"deployment": "hello/b"})
    assert made.status_code == 201, made.text
    assert made.json()["created_by"] == "jupyter:capped"
    message = refused(
        call(jupyter, "capped", "POST", "/work-pools", json={"name": "x", "type": "process"})
    )
    assert "Jupyter's authorizer denies write on 'nborch'" in message, message
    # `blocked` is a viewer in the config ("*"); the authorizer denies it read: nothing.
    message = refused(call(jupyter, "blocked", "GET", "/work-pools"))
    assert message.startswith("Jupyter user 'blocked' has no nborch role"), message
    assert "(Jupyter's authorizer denies read on 'nborch')" in message
    # and the admin `ops` is one indeed
    assert call(jupyter, "ops", "GET", "/secrets").status_code == 200


def test_once_roles_are_configured_an_unlisted_user_has_none() -> None:
    roles = JupyterRoles(frozenset({"ops"}), frozenset({"bob"}), {"alice": ("r/*",)})
    assert roles.granted("ops") == (ApiKeyRole.ADMIN, ("*",))
    assert roles.granted("alice") == (ApiKeyRole.RUNNER, ("r/*",))
    assert roles.granted("bob") == (ApiKeyRole.VIEWER, ())
    assert roles.granted("eve") == (None, ())
    assert JupyterRoles().granted("eve") == (ApiKeyRole.ADMIN, ("*",))  # none configured

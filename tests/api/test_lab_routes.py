"""The routes the JupyterLab panel uses beyond the client's operations: a notebook's
parameters by its path in the server's folder, the next times of a cron expression, and
deploying a notebook by its path. Paths that lead out of the folder are refused."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import nbformat
import pytest
from support.api import Server, store_snapshot
from support.deployments import HELLO

from nborch.api.lab import cron_preview
from nborch.api.server import BackgroundServer
from nborch.client import LocalClient
from nborch.client.routes import API_PREFIX


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """The server's folder: hello.ipynb, and a copy in a subfolder under another name."""
    folder = tmp_path / "root"
    (folder / "reports").mkdir(parents=True)
    shutil.copy(HELLO, folder / "hello.ipynb")
    shutil.copy(HELLO, folder / "reports" / "Sales Report.ipynb")
    return folder


@pytest.fixture
def lab_server(sqlite_client: LocalClient, root: Path) -> Iterator[Server]:
    admin = sqlite_client.create_api_key("test-admin", "admin").key
    with BackgroundServer(run_scheduler=False, echo=lambda _line: None, notebook_root=root) as up:
        yield Server(up.url, admin, sqlite_client)


def call(server: Server, method: str, path: str, **options: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {server.admin_key}"}
    return httpx.request(method, server.url + API_PREFIX + path, headers=headers, **options)


def refusal(answer: httpx.Response, status: int = 422) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    error: dict[str, Any] = answer.json()["error"]
    return error


def test_a_notebooks_parameters_come_from_its_parameters_cell(lab_server: Server) -> None:
    answer = call(lab_server, "GET", "/notebook-parameters", params={"path": "hello.ipynb"})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "path": "hello.ipynb",
        "flow_name": "hello",
        "parameters": [
            {"name": "name", "type": "str", "default": "world", "help": "who to greet"},
            {"name": "times", "type": "int", "default": 2, "help": "how many greetings"},
            {"name": "excited", "type": "bool", "default": False, "help": ""},
        ],
    }
    nested = call(
        lab_server, "GET", "/notebook-parameters", params={"path": "reports/Sales Report.ipynb"}
    )
    assert nested.json()["flow_name"] == "sales-report"


@pytest.mark.parametrize(
    "path, words",
    [
        ("../outside.ipynb", "leads out of the server's folder"),
        ("reports/../../outside.ipynb", "leads out of the server's folder"),
        ("link/outside.ipynb", "leads out of the server's folder"),
        ("/etc/passwd.ipynb", "is absolute"),
        ("notes.txt", "does not name a notebook"),
        ("missing.ipynb", "not found"),
        ("folder.ipynb", "is a folder"),
        ("broken.ipynb", "not valid JSON"),
        ("brainfuck.ipynb", "No parameter translator functions specified for kernel 'bf'"),
    ],
)
def test_a_path_that_is_not_a_notebook_in_the_folder_is_refused(
    lab_server: Server, root: Path, path: str, words: str
) -> None:
    outside = root.parent / "outside"
    outside.mkdir()
    shutil.copy(HELLO, root.parent / "outside.ipynb")
    shutil.copy(HELLO, outside / "outside.ipynb")
    (root / "link").symlink_to(outside)
    (root / "folder.ipynb").mkdir()
    (root / "broken.ipynb").write_text("{not json")
    odd = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")])
    odd.cells[0].metadata["tags"] = ["parameters"]
    odd.metadata["kernelspec"] = {"name": "bf", "display_name": "BF", "language": "brainfuck"}
    nbformat.write(odd, root / "brainfuck.ipynb")
    error = refusal(call(lab_server, "GET", "/notebook-parameters", params={"path": path}))
    assert words in error["message"], error


def test_the_next_five_times_of_a_cron_in_its_time_zone(lab_server: Server) -> None:
    answer = call(
        lab_server,
        "GET",
        "/cron-preview",
        params={"cron": "30  1 * * *", "timezone": "Europe/Paris"},
    )
    assert answer.status_code == 200, answer.text
    preview = answer.json()
    assert (preview["cron"], preview["timezone"]) == ("30 1 * * *", "Europe/Paris")
    times = [datetime.fromisoformat(t) for t in preview["times"]]
    assert len(times) == 5 and times == sorted(times)
    paris = [t.astimezone(ZoneInfo("Europe/Paris")) for t in times]
    assert {(t.hour, t.minute) for t in paris} == {(1, 30)}
    assert len({t.date() for t in paris}) == 5
    three = call(lab_server, "GET", "/cron-preview", params={"cron": "@hourly", "count": 3})
    assert len(three.json()["times"]) == 3


def test_cron_previews_follow_daylight_saving() -> None:
    """A 02:30 job on the spring day without 02:30 runs once, at 03:00 (as the scheduler)."""
    before = datetime(2024, 3, 30, 12, tzinfo=ZoneInfo("UTC"))
    preview = cron_preview("30 2 * * *", "Europe/Paris", 2, after=before)
    local = [t.astimezone(ZoneInfo("Europe/Paris")) for t in preview.times]
    assert [(t.day, t.hour, t.minute) for t in local] == [(31, 3, 0), (1, 2, 30)]


@pytest.mark.parametrize(
    "params, words",
    [
        ({"cron": "61 * * * *"}, "minute must be 0-59"),
        ({"cron": "* * *"}, "has 5 fields"),
        ({"cron": "0 1 * * *", "timezone": "Mars/Olympus"}, "Unknown time zone"),
        ({"cron": "0 0 31 2 *"}, "never fires"),
        ({"cron": "0 1 * * *", "count": 51}, "query.count"),
        ({"timezone": "UTC"}, "query.cron"),
    ],
)
def test_a_bad_cron_preview_says_what_is_wrong(
    lab_server: Server, params: dict[str, Any], words: str
) -> None:
    error = refusal(call(lab_server, "GET", "/cron-preview", params=params))
    assert words in error["message"], error


def test_deploying_a_notebook_by_its_path(lab_server: Server, root: Path) -> None:
    local = lab_server.local
    local.create_pool("lab-pool", "process")
    request = {
        "path": "reports/Sales Report.ipynb",
        "name": "nightly",
        "pool_name": "lab-pool",
        "cron": "0 1 * * *",
        "timezone": "Europe/Paris",
        "parameters": {"times": 3},
        "job_variables": {"env": {"STAGE": "lab"}},
        "description": "from the panel",
    }
    answer = call(lab_server, "POST", "/deploy-notebook", json=request)
    assert answer.status_code == 200, answer.text
    assert answer.json()["created"] is True
    deployment = local.get_deployment("sales-report/nightly")
    assert (deployment.source, deployment.entrypoint) == (
        str(root / "reports"),
        "Sales Report.ipynb",
    )
    assert deployment.pool_name == "lab-pool"
    assert deployment.parameters == {"times": 3}
    assert deployment.job_variables == {"env": {"STAGE": "lab"}}
    assert deployment.description == "from the panel"
    assert [p.name for p in deployment.parameter_specs] == ["name", "times", "excited"]
    assert [(s.cron, s.timezone) for s in deployment.schedules] == [("0 1 * * *", "Europe/Paris")]

    # Deployed again without a cron: updated in place, and no schedule any more.
    again = call(
        lab_server,
        "POST",
        "/deploy-notebook",
        json={**request, "cron": "", "flow_name": None, "parameters": {}},
    )
    assert again.status_code == 200, again.text
    assert again.json()["created"] is False
    assert again.json()["deployment"]["schedules"] == []
    assert local.get_deployment("sales-report/nightly").parameters == {}


@pytest.mark.parametrize(
    "changes, status, words",
    [
        ({"parameters": {"times": "many"}}, 422, "Parameter 'times'"),
        ({"parameters": {"colour": "red"}}, 422, "has no parameter 'colour'"),
        ({"pool_name": "nowhere"}, 404, "Work pool 'nowhere' not found"),
        ({"cron": "0 25 * * *"}, 422, "hour must be 0-23"),
        ({"timezone": "Mars/Olympus"}, 422, "Unknown time zone"),
        ({"job_variables": {"cpus": 2}}, 422, "cpus"),
        ({"image": "me/flow:1"}, 422, "an image is for docker pools"),
        ({"path": "../hello.ipynb"}, 422, "leads out"),
        ({"name": "a/b"}, 422, "Deployment name 'a/b' is not allowed"),
        ({"surprise": 1}, 422, "body.surprise"),
    ],
)
def test_a_refused_deploy_says_why_and_changes_nothing(
    lab_server: Server, root: Path, changes: dict[str, Any], status: int, words: str
) -> None:
    lab_server.local.create_pool("lab-pool", "process")
    shutil.copy(HELLO, root.parent / "hello.ipynb")
    before = store_snapshot(lab_server)
    request = {"path": "hello.ipynb", "name": "daily", "pool_name": "lab-pool", **changes}
    error = refusal(call(lab_server, "POST", "/deploy-notebook", json=request), status)
    assert words in error["message"], error
    if words.startswith("Parameter 'times'"):
        assert error["parameter"] == "times"  # the dialog shows it beside that field
    assert store_snapshot(lab_server) == before


def test_the_lab_routes_need_an_admin_key(lab_server: Server) -> None:
    lab_server.local.create_pool("lab-pool", "process")
    worker_key = lab_server.local.create_api_key("w", "worker", ["lab-pool"]).key
    headers = {"Authorization": f"Bearer {worker_key}"}
    url = lab_server.url + API_PREFIX
    for answer in (
        httpx.get(f"{url}/notebook-parameters", params={"path": "hello.ipynb"}, headers=headers),
        httpx.get(f"{url}/cron-preview", params={"cron": "0 1 * * *"}, headers=headers),
        httpx.post(
            f"{url}/deploy-notebook",
            json={"path": "hello.ipynb", "name": "d", "pool_name": "lab-pool"},
            headers=headers,
        ),
    ):
        assert answer.status_code == 403, answer.text
    assert httpx.get(f"{url}/cron-preview", params={"cron": "0 1 * * *"}).status_code == 401

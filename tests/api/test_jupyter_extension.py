"""The API inside a real `jupyter server` (the extension enabled by its config file): under
Jupyter's base URL + "nborch/api/v1", behind Jupyter's token, with the scheduler ticking in
Jupyter itself, so schedules make their runs with no worker and no nborch server running.
And the extension's life in Jupyter (a ServerApp in this process, where its threads can be
seen): what it starts is gone after Jupyter's shutdown, and `c.NborchApp` settings win over
NBORCH_* variables, for Jupyter and for the kernels it starts."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from jupyter_server.serverapp import ServerApp
from support.deployments import HELLO, deploy_hello
from support.processes import wait_for
from support.servers import OutputProcess, environment, free_port

from nborch.client import LocalClient
from nborch.client.http import HttpClient
from nborch.client.routes import API_PREFIX
from nborch.errors import NotFoundError, ValidationError
from nborch.models import StateType
from nborch.orchestration.scheduler import LEASE
from nborch.settings import get_settings
from nborch.store.engine import close_stores, open_store
from nborch.store.tables import LeaseRow

pytestmark = pytest.mark.slow

TOKEN = "nborch-test-token-3f9a"
REFUSED = (401, 403)


@dataclass
class Jupyter:
    """A running `jupyter server` and its nborch store (NBORCH_HOME)."""

    url: str  # http://127.0.0.1:PORT + base URL, without the trailing slash
    home: Path
    process: OutputProcess

    def api(self, path: str) -> str:
        return f"{self.url}/nborch{API_PREFIX}{path}"

    def client(self, token: str = TOKEN) -> HttpClient:
        return HttpClient(f"{self.url}/nborch", token, retry_for=0)


def start_jupyter(folder: Path, base_url: str = "/", config: str = "") -> Jupyter:
    """`jupyter server` on a free loopback port with a known token, NBORCH_HOME in `folder`
    and a short scheduler interval, and `config` as its jupyter_server_config.py (which may
    import the tests' `support` package); returned once nborch's /health answers through it."""
    for name in ("home", "root", "config", "runtime"):
        (folder / name).mkdir(parents=True, exist_ok=True)
    (folder / "config" / "jupyter_server_config.py").write_text(config)
    port = free_port()
    env = environment(
        NBORCH_HOME=str(folder / "home"),
        NBORCH_SCHEDULER_INTERVAL="0.5",
        # Jupyter's own user-level files out of the way; the extension's config is in the
        # virtualenv's etc/jupyter, which Jupyter reads all the same.
        JUPYTER_CONFIG_DIR=str(folder / "config"),
        JUPYTER_RUNTIME_DIR=str(folder / "runtime"),
        PYTHONPATH=str(Path(__file__).resolve().parents[1]),
    )
    argv = [
        sys.executable,
        "-m",
        "jupyter_server",
        "--allow-root",
        "--no-browser",
        "--ip",
        "127.0.0.1",
        "--port",
        str(port),
        f"--ServerApp.root_dir={folder / 'root'}",
        f"--ServerApp.base_url={base_url}",
        f"--IdentityProvider.token={TOKEN}",
    ]
    process = OutputProcess(argv, env)
    jupyter = Jupyter(f"http://127.0.0.1:{port}{base_url.rstrip('/')}", folder / "home", process)
    try:
        wait_for(
            lambda: _answers(jupyter.api("/health")) or not process.alive,
            120,
            lambda: f"Jupyter did not serve nborch's /health:\n{process.output}",
        )
        assert process.alive, f"Jupyter exited ({process.process.poll()}):\n{process.output}"
    except BaseException:
        process.stop()
        raise
    return jupyter


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.TransportError:
        return False


@pytest.fixture(scope="module")
def jupyter(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Jupyter]:
    """One Jupyter for the module's tests (each uses pools of its own): it is slow to start."""
    running = start_jupyter(tmp_path_factory.mktemp("jupyter"))
    try:
        yield running
    finally:
        running.process.stop()
        close_stores()


def test_the_api_needs_jupyters_token(jupyter: Jupyter) -> None:
    pools = jupyter.api("/work-pools")
    assert httpx.get(pools, timeout=30).status_code in REFUSED
    wrong = httpx.get(pools, headers={"Authorization": "token not-the-token"}, timeout=30)
    assert wrong.status_code in REFUSED
    for scheme in ("token", "Bearer"):
        answer = httpx.get(pools, headers={"Authorization": f"{scheme} {TOKEN}"}, timeout=30)
        assert answer.status_code == 200, (scheme, answer.text)
        assert isinstance(answer.json(), list)
    assert httpx.get(jupyter.api("/health"), timeout=30).json()["status"] == "ok"

    created = httpx.post(pools, json={"name": "no-token", "type": "process"}, timeout=30)
    assert created.status_code in REFUSED, created.text
    with closing(jupyter.client()) as client, pytest.raises(NotFoundError):
        client.get_pool("no-token")


def test_text_that_is_not_utf8_is_a_400_inside_jupyter_too(jupyter: Jupyter) -> None:
    """The same handler as the standalone server's: a query, a path segment or a body that
    is not UTF-8 is a 400 in the API's shape, never a 500."""
    headers = {"Authorization": f"token {TOKEN}"}
    for method, path, body, words in [
        ("GET", "/flow-runs?limit=%FF", None, "query string of GET /flow-runs"),
        ("GET", "/health?%FF=1", None, "query string of GET /health"),
        ("GET", "/work-pools/%FF%FE", None, "name in the path of GET /work-pools/{name}"),
        ("POST", "/work-pools", b'{"name": "caf\xe9", "type": "process"}', "request body"),
    ]:
        answer = httpx.request(method, jupyter.api(path), content=body, headers=headers, timeout=30)
        assert answer.status_code == 400, (path, answer.text)
        error = answer.json()["error"]
        assert error["type"] == "BadRequestError" and words in error["message"], error
        assert "not UTF-8" in error["message"]


def test_an_http_client_of_jupyter_creates_deploys_and_lists(jupyter: Jupyter) -> None:
    with closing(jupyter.client()) as client:
        pool = client.create_pool("in-jupyter", "process", description="made through Jupyter")
        assert pool.name == "in-jupyter"
        deployment = deploy_hello(client, "in-jupyter", "via-jupyter", parameters={"times": 2})
        assert deployment.full_name == "hello/via-jupyter"
        assert "in-jupyter" in [p.name for p in client.list_pools()]
        listed = client.list_deployments(pool_name="in-jupyter")
        assert [d.full_name for d in listed] == ["hello/via-jupyter"]
        assert listed[0].parameters == {"times": 2}
        run = client.create_run("hello/via-jupyter")
        assert run.state is StateType.SCHEDULED
        assert [r.id for r in client.list_runs(deployment="hello/via-jupyter")] == [run.id]
    # ...in the store NBORCH_HOME names for Jupyter.
    local = LocalClient(open_store(f"sqlite:///{jupyter.home / 'nborch.db'}"))
    assert local.get_pool("in-jupyter").description == "made through Jupyter"
    assert local.get_run(run.id).deployment_name == "hello/via-jupyter"


def test_jupyters_scheduler_makes_the_scheduled_runs_with_no_worker_and_no_server(
    jupyter: Jupyter,
) -> None:
    with closing(jupyter.client()) as client:
        client.create_pool("scheduled", "process")
        deploy_hello(client, "scheduled", "ticker", interval=1)
        runs = wait_for(
            lambda: client.list_runs(deployment="hello/ticker", states=[StateType.SCHEDULED]),
            60,
            lambda: jupyter.process.output[-3000:],
        )
        assert all(run.schedule_id is not None for run in runs)
        assert client.list_workers() == []  # nobody but Jupyter made them
    store = open_store(f"sqlite:///{jupyter.home / 'nborch.db'}")
    with store.read() as session:
        lease = session.get(LeaseRow, LEASE)
    assert lease is not None
    assert lease.holder.startswith("jupyter server "), lease.holder


def test_the_panels_routes_read_notebooks_under_jupyters_root(jupyter: Jupyter) -> None:
    """What the JupyterLab panel asks: notebook paths are the file browser's (under
    Jupyter's root_dir), and the output HTML is served as HTML (not labelled JSON, as
    Jupyter labels its API's answers)."""
    root = jupyter.home.parent / "root"
    shutil.copy(HELLO, root / "hello.ipynb")
    headers = {"Authorization": f"token {TOKEN}"}
    answer = httpx.get(
        jupyter.api("/notebook-parameters"),
        params={"path": "hello.ipynb"},
        headers=headers,
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["flow_name"] == "hello"
    outside = httpx.get(
        jupyter.api("/notebook-parameters"),
        params={"path": "../home/nborch.ipynb"},
        headers=headers,
        timeout=30,
    )
    assert outside.status_code == 422 and "leads out" in outside.json()["error"]["message"]

    with closing(jupyter.client()) as client:
        client.create_pool("panel", "process")
        deployed = httpx.post(
            jupyter.api("/deploy-notebook"),
            json={"path": "hello.ipynb", "name": "from-panel", "pool_name": "panel"},
            headers=headers,
            timeout=30,
        )
        assert deployed.status_code == 200, deployed.text
        deployment = client.get_deployment("hello/from-panel")
        assert (deployment.source, deployment.entrypoint) == (str(root), "hello.ipynb")
        run = client.create_run("hello/from-panel")
        notebook = {"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
        client.write_output_notebook(run.id, notebook)
    html = httpx.get(jupyter.api(f"/flow-runs/{run.id}/output.html"), headers=headers, timeout=30)
    assert html.status_code == 200, html.text
    assert html.headers["content-type"].startswith("text/html")
    assert html.text.lstrip().lower().startswith("<!doctype html>")


def test_a_base_url_puts_the_api_under_it(tmp_path: Path) -> None:
    jupyter = start_jupyter(tmp_path, base_url="/jh/")
    try:
        assert jupyter.url.endswith("/jh")
        assert jupyter.api("/health").endswith("/jh/nborch/api/v1/health")
        pools = httpx.get(
            jupyter.api("/work-pools"), headers={"Authorization": f"token {TOKEN}"}, timeout=30
        )
        assert pools.status_code == 200, pools.text
        assert httpx.get(jupyter.api("/work-pools"), timeout=30).status_code in REFUSED
        root = jupyter.url.removesuffix("/jh")
        outside = httpx.get(f"{root}/nborch{API_PREFIX}/health", timeout=30)
        assert outside.status_code == 404
        with closing(jupyter.client()) as client:
            client.create_pool("under-jh", "process")
            assert [pool.name for pool in client.list_pools()] == ["under-jh"]
    finally:
        jupyter.process.stop()
        close_stores()


def in_process_jupyter(folder: Path, monkeypatch: pytest.MonkeyPatch, **traits: Any) -> ServerApp:
    """A Jupyter ServerApp in this process with nborch as its only extension (no config
    file, no HTTP server), initialised as `jupyter server` initialises it."""
    root = folder / "root"
    root.mkdir()
    monkeypatch.setenv("JUPYTER_NO_CONFIG", "1")
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(folder / "runtime"))
    app = ServerApp(
        jpserver_extensions={"nborch": True},
        root_dir=str(root),
        allow_root=True,
        reraise_server_extension_failures=True,
    )
    app.config.NborchApp.update(traits)
    handlers = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        app.initialize(argv=[], find_extensions=False, new_httpserver=False)
    finally:  # Jupyter's own signal handlers are for its process, not pytest's
        for signum, handler in handlers.items():
            signal.signal(signum, handler)
    return app


def test_jupyters_shutdown_stops_what_the_extension_started(
    tmp_path: Path, nborch_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = set(threading.enumerate())
    app = in_process_jupyter(tmp_path, monkeypatch)
    [nborch] = app.extension_manager.extension_apps["nborch"]
    # What requests start as well: the service's threads (an API key is checked on one) and
    # the store's wake-up thread (a long-polling claim watches its pool).
    assert asyncio.run(nborch.service.principal_for_key("Bearer nbk_no-such-key")) is None
    open_store(get_settings().resolved_database_url).wakeups.watch("a-pool", lambda: None)
    started = [thread for thread in threading.enumerate() if thread not in before]
    names = {thread.name.rstrip("_0123456789") for thread in started}
    assert {"scheduler", "nborch-dispatcher", "nborch-api", "nborch-wakeups"} <= names, names
    assert nborch.scheduler is not None and nborch.dispatcher is not None
    assert app.web_app.settings["nborch_scheduler"] is nborch.scheduler

    asyncio.run(app.cleanup_extensions())  # what Jupyter does on SIGTERM, Ctrl-C or shutdown

    wait_for(
        lambda: not [thread for thread in started if thread.is_alive()],
        30,
        lambda: f"still running: {[t.name for t in started if t.is_alive()]}",
    )
    assert (nborch.scheduler, nborch.dispatcher, nborch.service) == (None, None, None)


def test_jupyters_config_wins_over_the_environment_for_jupyter_and_its_kernels(
    tmp_path: Path, nborch_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NBORCH_SCHEDULER_INTERVAL", "7")
    monkeypatch.setenv("NBORCH_LATE_AFTER", "12")
    configured_home = tmp_path / "configured-home"
    app = in_process_jupyter(
        tmp_path, monkeypatch, home=str(configured_home), scheduler_interval=0.25,
        run_dispatcher=False,
    )  # fmt: skip
    [nborch] = app.extension_manager.extension_apps["nborch"]
    try:
        assert nborch.dispatcher is None
        assert "nborch-dispatcher" not in {thread.name for thread in threading.enumerate()}
        assert nborch.scheduler is not None and nborch.scheduler.interval == 0.25
        settings = get_settings()
        assert (settings.home, settings.late_after) == (configured_home, 12.0)
        # What the kernels Jupyter starts inherit:
        assert os.environ["NBORCH_HOME"] == str(configured_home)
        assert os.environ["NBORCH_SCHEDULER_INTERVAL"] == "0.25"
        wait_for(lambda: (configured_home / "nborch.db").exists(), 30)
    finally:
        asyncio.run(app.cleanup_extensions())
    assert os.environ["NBORCH_HOME"] == str(nborch_home)
    assert os.environ["NBORCH_SCHEDULER_INTERVAL"] == "7"
    assert get_settings().home == nborch_home


def test_a_bad_setting_in_jupyters_config_is_named(
    tmp_path: Path, nborch_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ValidationError) as refused:
        in_process_jupyter(tmp_path, monkeypatch, scheduler_interval=0.0)
    assert str(refused.value).startswith("c.NborchApp.scheduler_interval=0.0: ")
    assert "greater than 0" in str(refused.value)
    assert "NBORCH_SCHEDULER_INTERVAL" not in os.environ


def test_a_signal_stops_jupyter_and_the_extension_says_so(tmp_path: Path) -> None:
    jupyter = start_jupyter(tmp_path)
    try:
        jupyter.process.process.send_signal(signal.SIGTERM)
        jupyter.process.wait_for_line("nborch: scheduler, dispatcher and API stopped", 60)
        assert jupyter.process.process.wait(timeout=60) == 0, jupyter.process.output
    finally:
        jupyter.process.stop()
        close_stores()


def test_a_default_jupyters_user_is_an_nborch_admin_and_its_runs_name_it(
    jupyter: Jupyter,
) -> None:
    """No roles configured, Jupyter's own authorizer (allows all): today's behaviour."""
    with closing(jupyter.client()) as client:
        client.create_pool("default-admin", "process")
        deploy_hello(client, "default-admin", "mine")
        run = client.create_run("hello/mine")
        assert client.list_secrets() is not None and client.list_api_keys() is not None
    assert run.created_by is not None and run.created_by.startswith("jupyter:"), run.created_by
    assert len(run.created_by) > len("jupyter:")

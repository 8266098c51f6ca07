"""The Python API as the seed uses it: flow(...).deploy(...) prints its confirmation,
serve() in a script or in the background, run_deployment() and the run it returns."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from support.deployments import HELLO
from support.processes import wait_for

from nborch import NborchError, flow, run_deployment
from nborch.client import LocalClient
from nborch.models import StateType
from nborch.run_handle import RunTimeoutError

pytestmark = pytest.mark.slow


def test_deploy_prints_the_seeds_confirmation(
    sqlite_client: LocalClient, capsys: pytest.CaptureFixture[str]
) -> None:
    sqlite_client.create_pool("my-pool", "process")
    deployment, created = flow(HELLO).deploy(
        "my-first-deployment", "my-pool", cron="0 1 * * *", tags=["tutorial"]
    )
    out = capsys.readouterr().out
    assert created and "Successfully created/updated all deployments!" in out
    assert "hello/my-first-deployment" in out and "created" in out
    assert "$ nborch deployment run 'hello/my-first-deployment'" in out
    assert deployment.schedules[0].cron == "0 1 * * *"


def test_run_deployment_without_a_worker_returns_at_its_timeout(
    sqlite_client: LocalClient,
) -> None:
    sqlite_client.create_pool("idle", "process")
    flow(HELLO).deploy("d", "idle", quiet=True)
    handle = run_deployment("hello/d", parameters={"times": 1}, timeout=0)
    assert handle.state is StateType.SCHEDULED
    with pytest.raises(RunTimeoutError, match="still SCHEDULED after 0.3 s.*nborch worker ls"):
        handle.wait(timeout=0.3)
    with pytest.raises(NborchError, match="has no output notebook yet"):
        handle.output_notebook()
    assert run_deployment("hello/d", timeout=0.2).run.state is StateType.SCHEDULED


def test_serve_in_the_background_runs_and_stops(sqlite_client: LocalClient) -> None:
    worker = flow(HELLO).serve("bg", background=True, parameters={"times": 2})
    assert worker is not None and worker.running
    handle = run_deployment("hello/bg", parameters={"name": "Served"}, timeout=120)
    assert handle.run.state is StateType.COMPLETED
    assert "2: Hello, Served." in handle.logs()
    cells = handle.output_notebook().cells
    assert any("injected-parameters" in c.metadata.get("tags", []) for c in cells)
    worker.stop()
    assert not worker.running


def test_serve_blocks_in_a_script_following_its_schedule(
    sqlite_client: LocalClient, tmp_path: Path
) -> None:
    script = tmp_path / "serve_hello.py"
    script.write_text(
        textwrap.dedent(f"""
        from nborch import flow

        if __name__ == "__main__":
            flow({str(HELLO)!r}).serve("every-2s", interval=2, tags=["testing"],
                                       description="Served from a script", version="1")
    """)
    )
    process = subprocess.Popen(
        [sys.executable, str(script)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ},
    )
    try:
        wait_for(lambda: sqlite_client.list_runs(states=[StateType.COMPLETED]), 90)
    finally:
        process.send_signal(signal.SIGTERM)
        out, _ = process.communicate(timeout=60)
    assert process.returncode == 0, out
    assert "is being served and polling for scheduled runs!" in out
    deployment = sqlite_client.get_deployment("hello/every-2s")
    assert (deployment.tags, deployment.description, deployment.version) == (
        ["testing"],
        "Served from a script",
        "1",
    )
    assert deployment.pool_name == "serve-hello-every-2s"

"""The JupyterLab extension in a real JupyterLab, driven by a real browser (Chromium through
Playwright): create a pool in the Orchestration panel, deploy a notebook with "Deploy this
notebook…" from its toolbar (the dialog shows the cron's next five times and the server's
refusals), run the deployment from the panel's parameter form, see a real worker take it
to COMPLETED in the panel, and open its output notebook in a tab. Screenshots are kept
under test-artifacts/labextension/."""

from __future__ import annotations

import json
import re
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from support.browser import (
    ARTIFACTS_ROOT,
    JupyterLab,
    chromium_page,
    lab_with_hello,
)
from support.labextension import NAME as EXTENSION
from support.processes import WorkerProcess
from support.workers import start_worker

from nborch.client import LocalClient
from nborch.models import StateType

pytestmark = [pytest.mark.slow, pytest.mark.browser]

ARTIFACTS = ARTIFACTS_ROOT / "labextension"


@pytest.fixture
def lab(fast_settings: None, nborch_home: Path, tmp_path: Path) -> Iterator[JupyterLab]:
    with lab_with_hello(tmp_path) as running:
        yield running


def federated_extensions(lab: JupyterLab) -> list[str]:
    """The prebuilt extensions the lab page loads (from its page config)."""
    with urllib.request.urlopen(f"{lab.url}/lab", timeout=30) as answer:
        page = answer.read().decode()
    found = re.search(
        r'<script id="jupyter-config-data" type="application/json">(.*?)</script>', page, re.S
    )
    assert found, "the lab page has no jupyter-config-data"
    config: dict[str, Any] = json.loads(found.group(1))
    return [extension["name"] for extension in config.get("federated_extensions", [])]


def test_deploy_run_and_see_a_notebook_complete_from_the_jupyterlab_panel(
    playwright_api: ModuleType,
    sqlite_client: LocalClient,
    workers: list[WorkerProcess],
    lab: JupyterLab,
) -> None:
    assert EXTENSION in federated_extensions(lab), (
        f"JupyterLab does not load {EXTENSION}: `make labextension` links the build into "
        "the environment's share/jupyter/labextensions (a wheel install puts it there)"
    )
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shots = {
        name: ARTIFACTS / f"{name}.png"
        for name in (
            "1-pool-created",
            "2-deploy-dialog",
            "3-deploy-refused",
            "4-deployed",
            "5-run-form",
            "6-run-completed",
            "7-output-notebook",
            "failure",
        )
    }

    with chromium_page(playwright_api, shots["failure"], lab.log) as page:
        page.goto(f"{lab.url}/lab/tree/hello.ipynb")
        page.wait_for_selector(".jp-Notebook .jp-Cell", state="visible")

        # The Orchestration panel, from its tab in the left sidebar.
        page.locator(".jp-SideBar [data-id='nborch-orchestration']").click()
        panel = page.locator("#nborch-orchestration")
        panel.locator(".nborch-panel-status", has_text="Updated").wait_for()
        panel.get_by_text("No work pool yet").wait_for()

        # Create a pool from the panel.
        panel.get_by_role("button", name="New pool…").click()
        dialog = page.locator(".jp-Dialog")
        dialog.locator("input[name='name']").fill("lab-pool")
        dialog.locator("select[name='type']").select_option("process")
        dialog.get_by_role("button", name="Create").click()
        pool = panel.locator(".nborch-pool[data-name='lab-pool']")
        pool.locator(".nborch-light[data-status='NOT_READY']").wait_for()
        # A worker for it: the light turns green.
        start_worker(workers, "--pool", "lab-pool")
        pool.locator(".nborch-light[data-status='READY']").wait_for()
        panel.locator(".nborch-worker[data-status='ONLINE']").wait_for()
        page.screenshot(path=str(shots["1-pool-created"]))

        # "Deploy this notebook…" from the notebook's toolbar.
        page.locator(".jp-NotebookPanel-toolbar .nborch-deploy-button").click()
        dialog = page.locator(".jp-Dialog .nborch-deploy-form")
        dialog.wait_for()
        assert dialog.locator("select[name='pool_name']").input_value() == "lab-pool"
        assert dialog.locator("input[name='flow_name']").input_value() == "hello"
        assert dialog.locator(".nborch-parameter-times input").input_value() == "2"
        preview = dialog.locator(".nborch-cron-preview")
        dialog.locator("input[name='cron']").fill("61 * * * *")
        preview.locator(".nborch-error", has_text="minute must be 0-59").wait_for()
        dialog.locator("input[name='cron']").fill("0 1 * * *")
        dialog.locator("input[name='timezone']").fill("Europe/Paris")
        preview.locator("li").nth(4).wait_for()
        assert preview.locator("li").count() == 5
        dialog.locator("input[name='name']").fill("from lab/panel")
        dialog.locator(".nborch-parameter-times input").fill("4")
        page.screenshot(path=str(shots["2-deploy-dialog"]))
        page.locator(".jp-Dialog").get_by_role("button", name="Deploy").click()
        # The server refuses the name: the dialog stays, and says why.
        dialog.locator(".nborch-dialog-error", has_text="is not allowed").wait_for()
        page.screenshot(path=str(shots["3-deploy-refused"]))
        dialog.locator("input[name='name']").fill("from-lab")
        page.locator(".jp-Dialog").get_by_role("button", name="Deploy").click()
        dialog.wait_for(state="detached")

        deployment = panel.locator(".nborch-deployment[data-name='hello/from-lab']")
        deployment.locator(".nborch-schedule", has_text="cron 0 1 * * * (Europe/Paris)").wait_for()
        # ...with its next run, once Jupyter's scheduler made it.
        deployment.locator(".nborch-schedule", has_text=" · next ").wait_for()
        page.screenshot(path=str(shots["4-deployed"]))

        # Run it from the panel's parameter form.
        deployment.get_by_role("button", name="Run…").click()
        form = page.locator(".jp-Dialog .nborch-run-form")
        assert form.locator(".nborch-parameter-times input").input_value() == "4"
        form.locator(".nborch-parameter-name input").fill("Browser")
        form.locator(".nborch-parameter-times input").fill("3")
        page.screenshot(path=str(shots["5-run-form"]))
        page.locator(".jp-Dialog").get_by_role("button", name="Create run").click()
        form.wait_for(state="detached")

        run = panel.locator(".nborch-run[data-state='COMPLETED']")
        run.wait_for()
        assert run.locator(".nborch-state").inner_text() == "COMPLETED"
        run.locator(".nborch-cell[data-status='completed']").nth(4).wait_for()
        assert run.locator(".nborch-cell[data-status='completed']").count() == 5
        run.get_by_role("button", name="Logs").click()
        panel.locator(".nborch-run .nborch-logs", has_text="3: Hello, Browser.").wait_for()
        page.screenshot(path=str(shots["6-run-completed"]))

        # The output notebook, in a tab of its own.
        panel.locator(".nborch-run[data-state='COMPLETED']").get_by_role(
            "button", name="Output"
        ).click()
        tab = page.locator(".jp-MainAreaWidget.nborch-output-tab")
        tab.wait_for()
        output = page.frame_locator(".nborch-output-frame")
        output.get_by_text("3: Hello, Browser.").wait_for()
        current = page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab.lm-mod-current")
        assert "(output)" in current.inner_text()
        page.screenshot(path=str(shots["7-output-notebook"]))

        # The same command is in the file browser's context menu and the palette.
        page.locator(".jp-SideBar [data-id='filebrowser']").click()
        page.locator(".jp-DirListing-item[data-file-type='notebook']", has_text="hello").click(
            button="right"
        )
        page.locator(".lm-Menu-itemLabel", has_text="Deploy this notebook…").wait_for()
        page.keyboard.press("Escape")
        page.keyboard.press("Control+Shift+c")
        page.locator(".lm-CommandPalette-input").fill("Deploy this notebook")
        page.locator(".lm-CommandPalette-item", has_text="Deploy this notebook…").wait_for()

    print("\nscreenshots: " + ", ".join(str(p) for n, p in shots.items() if n != "failure"))
    # (The schedule made a SCHEDULED run for its next time too.)
    [done] = sqlite_client.list_runs(states=[StateType.COMPLETED])
    assert (done.state, done.deployment_name, done.parameters) == (
        StateType.COMPLETED,
        "hello/from-lab",
        {"name": "Browser", "times": 3},
    )
    deployed = sqlite_client.get_deployment("hello/from-lab")
    assert deployed.parameters == {"times": 4}
    assert [(s.cron, s.timezone) for s in deployed.schedules] == [("0 1 * * *", "Europe/Paris")]

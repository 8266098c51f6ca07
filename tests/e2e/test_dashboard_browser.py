"""The dashboard in a real JupyterLab, seen by a real browser (Chromium through Playwright):
a notebook shows `%nborch_dashboard`, the test runs a deployment from the dashboard's own
form, and a real worker process takes the run to COMPLETED on screen. A screenshot is kept
under test-artifacts/dashboard/ (its path is printed)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from support.browser import (
    ARTIFACTS_ROOT,
    JupyterLab,
    chromium_page,
    running_lab,
)
from support.deployments import deploy_hello
from support.notebooks import make_notebook
from support.processes import WorkerProcess, wait_for
from support.workers import start_worker

from nborch.client import LocalClient
from nborch.models import StateType

pytestmark = [pytest.mark.slow, pytest.mark.browser]

ARTIFACTS = ARTIFACTS_ROOT / "dashboard"


@pytest.fixture
def lab(nborch_home: Path, tmp_path: Path) -> Iterator[JupyterLab]:
    """JupyterLab serving a folder with the dashboard's notebook; its kernels get this
    test's NBORCH_HOME (and short intervals) from its environment."""
    root = tmp_path / "lab-root"
    make_notebook(
        root / "dashboard.ipynb", None, "%load_ext nborch", "%nborch_dashboard --refresh 1"
    )
    with running_lab(root, tmp_path / "lab-state") as running:
        yield running


def test_the_dashboard_shows_a_run_going_to_completed_in_jupyterlab(
    playwright_api: ModuleType,
    sqlite_client: LocalClient,
    workers: list[WorkerProcess],
    lab: JupyterLab,
) -> None:
    sqlite_client.create_pool("browser-pool", "process")
    deploy_hello(sqlite_client, "browser-pool", "from-browser", quiet=True)
    start_worker(workers, "--pool", "browser-pool")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    screenshot = ARTIFACTS / "dashboard-run-completed.png"
    form_shot = ARTIFACTS / "dashboard-run-form.png"
    notebook_shot = ARTIFACTS / "dashboard-output-notebook.png"
    failure_shot = ARTIFACTS / "dashboard-failure.png"

    with chromium_page(playwright_api, failure_shot, height=1200) as page:
        page.goto(f"{lab.url}/lab/tree/dashboard.ipynb")
        page.wait_for_selector(".jp-Notebook .jp-Cell", state="visible")
        page.locator("text=/Python 3.*Idle/").first.wait_for()
        page.locator(".lm-MenuBar-itemLabel", has_text="Run").click()
        page.locator(".lm-Menu-itemLabel").get_by_text("Run All Cells", exact=True).click()
        board = page.locator(".nborch-dashboard")
        board.wait_for()
        page.keyboard.press("Control+b")  # hide the file browser: room for the tables

        # The pool is READY: the worker heartbeats.
        board.locator(".nborch-light[data-status='READY']").wait_for()

        # Run the deployment from the dashboard's form.
        board.locator(".lm-TabBar-tab", has_text="Deployments").click()
        board.get_by_role("button", name="Run…").click()
        board.locator(".nborch-parameter-name input").fill("Browser")
        times = board.locator(".nborch-parameter-times input")
        times.fill("3")
        times.press("Tab")  # a number box sends its value when it loses focus
        board.locator(".nborch-run-form").scroll_into_view_if_needed()
        page.screenshot(path=str(form_shot))
        board.get_by_role("button", name="Create run").click()

        # The dashboard moves to the runs tab; its refreshes bring COMPLETED.
        runs_tab = board.locator(".lm-TabBar-tab", has_text="Flow runs")
        wait_for(lambda: "lm-mod-current" in (runs_tab.get_attribute("class") or ""), 60)
        completed = board.locator(".nborch-runs .nborch-state[data-state='COMPLETED']")
        completed.wait_for()
        assert completed.inner_text() == "COMPLETED"

        detail = board.locator(".nborch-run-detail")
        detail.locator(".lm-TabBar-tab", has_text="Logs").click()
        detail.locator(".nborch-logs", has_text="3: Hello, Browser.").wait_for()
        detail.locator(".lm-TabBar-tab", has_text="Progress").click()
        detail.locator(".nborch-progress").wait_for()
        assert detail.locator(".nborch-cell[data-status='completed']").count() == 5
        detail.scroll_into_view_if_needed()
        page.screenshot(path=str(screenshot))

        detail.locator(".lm-TabBar-tab", has_text="Output notebook").click()
        notebook = page.frame_locator(".nborch-output-notebook")
        notebook.get_by_text("3: Hello, Browser.").wait_for()
        page.locator(".nborch-output-notebook").scroll_into_view_if_needed()
        page.screenshot(path=str(notebook_shot))

    print(f"\nscreenshots: {screenshot} (also {form_shot}, {notebook_shot})")
    [run] = sqlite_client.list_runs()
    assert (run.state, run.parameters) == (
        StateType.COMPLETED,
        {"name": "Browser", "times": 3},
    )

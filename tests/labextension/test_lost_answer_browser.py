"""A lost answer does nothing twice, from the JupyterLab panel: in a real JupyterLab driven by
Chromium, the panel's "Create run" POST reaches the server (the run is made) but its answer
is lost on the way back (the browser sees the connection fail). The panel sends the same
request again with the same Idempotency-Key, gets the first run back, and shows it: one run,
no error."""

from __future__ import annotations

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
    playwright_or_skip,
)
from support.deployments import deploy_hello

from nborch.client import LocalClient

pytestmark = [pytest.mark.slow, pytest.mark.browser]

SHOT = ARTIFACTS_ROOT / "labextension" / "lost-answer-failure.png"


@pytest.fixture
def lab(fast_settings: None, nborch_home: Path, tmp_path: Path) -> Iterator[JupyterLab]:
    with lab_with_hello(tmp_path) as running:
        yield running


def test_a_run_whose_answer_was_lost_is_created_once_and_shown(
    sqlite_client: LocalClient, lab: JupyterLab
) -> None:
    playwright_api: ModuleType = playwright_or_skip()
    sqlite_client.create_pool("lab-pool", "process")
    deploy_hello(sqlite_client, "lab-pool", "daily")
    posts: list[dict[str, str]] = []  # the headers of each "Create run" POST the page sent

    def lose_the_first_answer(route: Any) -> None:
        if route.request.method != "POST":
            route.continue_()
            return
        posts.append(route.request.headers)
        if len(posts) == 1:
            answer = route.fetch()  # the server makes the run...
            assert answer.status == 201, answer.text()
            route.abort("connectionreset")  # ...and the page never hears of it
        else:
            route.continue_()

    with chromium_page(playwright_api, SHOT, lab.log) as page:
        page.goto(f"{lab.url}/lab")
        page.locator(".jp-SideBar [data-id='nborch-orchestration']").click()
        panel = page.locator("#nborch-orchestration")
        deployment = panel.locator(".nborch-deployment[data-name='hello/daily']")
        deployment.wait_for()
        page.route("**/nborch/api/v1/flow-runs", lose_the_first_answer)

        deployment.get_by_role("button", name="Run…").click()
        form = page.locator(".jp-Dialog .nborch-run-form")
        form.locator(".nborch-parameter-name input").fill("Lost")
        page.locator(".jp-Dialog").get_by_role("button", name="Create run").click()
        # The dialog closes on success; on failure it stays and says why.
        page.wait_for_function(
            """() => {
                const form = document.querySelector('.nborch-run-form');
                return !form || !!form.querySelector('.nborch-dialog-error')?.textContent;
            }"""
        )
        refusal = form.locator(".nborch-dialog-error")
        assert form.count() == 0, f"the dialog stayed, saying: {refusal.inner_text()}"

        [run] = sqlite_client.list_runs(deployment="hello/daily")
        panel.locator(f".nborch-run[data-id='{run.id}']").wait_for()

    assert len(posts) == 2, posts
    keys = [headers.get("idempotency-key") for headers in posts]
    assert keys[0] and keys[0] == keys[1], keys
    [run] = sqlite_client.list_runs(deployment="hello/daily")
    assert run.parameters["name"] == "Lost"

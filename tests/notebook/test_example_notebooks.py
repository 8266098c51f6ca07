"""The notebooks under notebooks/, executed for real in a kernel, and what they made."""

from __future__ import annotations

from pathlib import Path

import papermill
import pytest
from support.repo_api import repo_api

from nborch.client import LocalClient
from nborch.models import StateType

pytestmark = pytest.mark.slow
NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


def test_repo_stats_prints_stars_and_forks(tmp_path: Path) -> None:
    with repo_api() as base_url:
        papermill.execute_notebook(
            str(NOTEBOOKS / "repo_stats.ipynb"),
            str(tmp_path / "out.ipynb"),
            parameters={"repo_name": "jupyter/notebook", "api_base_url": base_url},
            progress_bar=False,
        )
    text = (tmp_path / "out.ipynb").read_text()
    assert "Stars 🌠 : 11000" in text and "Forks 🍴 : 4900" in text


def test_getting_started_walks_through_pools_flows_deployments_and_serving(
    sqlite_client: LocalClient, tmp_path: Path
) -> None:
    with repo_api() as base_url:
        papermill.execute_notebook(
            str(NOTEBOOKS / "getting_started.ipynb"),
            str(tmp_path / "out.ipynb"),
            parameters={"pool_name": "gs-pool", "api_base_url": base_url},
            cwd=str(tmp_path),
            progress_bar=False,
            kernel_name="python3",
        )
    client = sqlite_client
    assert {p.name for p in client.list_pools()} == {"gs-pool", "serve-repo-stats-every-minute"}
    nightly = client.get_deployment("repo-stats/nightly")
    assert nightly.schedules[0].cron == "0 1 * * *"
    assert nightly.parameters == {"api_base_url": base_url}
    assert (tmp_path / "repo-stats.flow.ipynb").exists()
    completed = client.list_runs(states=[StateType.COMPLETED])
    assert {r.deployment_name for r in completed} >= {None, "repo-stats/nightly"}
    by_deployment = next(r for r in completed if r.deployment_name == "repo-stats/nightly")
    output = Path(by_deployment.output_path or "").read_text()
    assert "PrefectHQ/prefect repository statistics" in output and "Stars 🌠 : 17000" in output
    text = (tmp_path / "out.ipynb").read_text()
    assert "Successfully created/updated all deployments!" in text
    assert "is being served" in text and "Stopped served deployment" in text

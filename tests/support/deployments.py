"""Deploying the example notebook in tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nborch.client import NborchClient
from nborch.flows import Flow
from nborch.models import Deployment

REPO = Path(__file__).resolve().parents[2]
HELLO = REPO / "notebooks" / "hello.ipynb"


def deploy_notebook(
    client: NborchClient, notebook: Path, pool: str, name: str = "demo", **options: Any
) -> Deployment:
    deployment, _ = Flow.from_notebook(notebook).deploy(name, pool, client=client, **options)
    return deployment


def deploy_hello(client: NborchClient, pool: str, name: str = "demo", **options: Any) -> Deployment:
    return deploy_notebook(client, HELLO, pool, name, **options)

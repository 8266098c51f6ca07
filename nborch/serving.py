"""`flow.serve()`: one long-running process deploys the flow, follows its schedules and runs
each run in a subprocess — no work pool to set up, no separate worker to start.

Under the hood a served deployment gets a `process` pool of its own, named after it
(`serve-FLOW-NAME`), served by this process only; `nborch work-pool ls` shows it.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from nborch.client import NborchClient, get_client
from nborch.errors import NotFoundError
from nborch.models import Deployment
from nborch.workers.background import BackgroundWorker
from nborch.workers.process import ProcessWorker

if TYPE_CHECKING:
    from nborch.flows import Flow


def serve_pool_name(flow_name: str, name: str) -> str:
    return f"serve-{flow_name}-{name}"[:100]


def _ensure_pool(client: NborchClient, pool_name: str, full_name: str) -> None:
    try:
        client.get_pool(pool_name)
    except NotFoundError:
        client.create_pool(
            pool_name,
            "process",
            description=f"Runs of '{full_name}', served by flow.serve() on {socket.gethostname()}",
        )


def serve(
    flow: Flow,
    name: str,
    *,
    background: bool = False,
    limit: int | None = None,
    echo: Callable[[str], None] = print,
    client: NborchClient | None = None,
    **deploy_options: Any,
) -> tuple[Deployment, BackgroundWorker | None]:
    """Deploy `flow` as `name` on its own pool and serve it: blocks (Ctrl+C stops it), or
    with `background=True` returns at once with the running worker to stop later.

    Inside a run of a served notebook (NBORCH_FLOW_RUN_ID is set) nothing is redeployed
    or served again.
    """
    client = client or get_client()
    full_name = f"{flow.name}/{name}"
    if os.environ.get("NBORCH_FLOW_RUN_ID"):
        echo(
            f"Inside flow run {os.environ['NBORCH_FLOW_RUN_ID']}: not serving '{full_name}' again."
        )
        return client.get_deployment(full_name), None
    pool_name = serve_pool_name(flow.name, name)
    _ensure_pool(client, pool_name, full_name)
    deployment, _created = flow.deploy(name, pool_name, client=client, quiet=True, **deploy_options)
    worker = ProcessWorker(client, pool_name, name=f"serve {full_name}", limit=limit, echo=echo)
    echo(
        f"Your flow '{flow.name}' is being served and polling for scheduled runs!\n\n"
        "To trigger a run for this flow, use the following command:\n\n"
        f"        $ nborch deployment run '{full_name}'\n"
    )
    if background:
        return deployment, BackgroundWorker(worker).start()
    worker.start()
    return deployment, None

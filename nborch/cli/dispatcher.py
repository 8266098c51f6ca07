"""`nborch dispatcher start`: the managed and push pools of the local store, served from this
process (a server and Jupyter do it inside themselves)."""

from __future__ import annotations

import click

from nborch.client import get_client
from nborch.display import console


@click.group("dispatcher")
def dispatcher() -> None:
    """The worker of every managed and push pool, run by nborch itself."""


@dispatcher.command("start")
@click.option(
    "--interval",
    type=click.FloatRange(min=0.1),
    default=5.0,
    show_default=True,
    help="Seconds between looks at the store's pools.",
)
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=None,
    help="Most runs at once per pool (default: the pool's own concurrency limit).",
)
@click.option(
    "--poll-interval",
    type=click.FloatRange(min=0.05),
    default=None,
    help="Seconds between each pool's polls (default: $NBORCH_POLL_INTERVAL or 2).",
)
def start(interval: float, limit: int | None, poll_interval: float | None) -> None:
    """Serve every nborch:managed, docker-swarm and dask pool from this process.

    `nborch server start` and Jupyter (the server extension) do this inside themselves;
    this command is for the local store without a server. With the local store it also
    runs the scheduler. SIGTERM or Ctrl+C stops it: runs in hand get a minute to finish.
    """
    from nborch.dispatch import Dispatcher

    client = get_client()
    echo = lambda text: console.print(text, markup=False)  # noqa: E731
    echo("nborch dispatcher started: serving managed and push pools (Ctrl+C stops it).")
    Dispatcher(
        client,
        interval=interval,
        limit=limit,
        poll_interval=poll_interval,
        run_scheduler=not client.is_remote,
        echo=echo,
    ).serve_forever()
    echo("nborch dispatcher stopped.")

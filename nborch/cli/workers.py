"""`nborch worker ...`"""

from __future__ import annotations

import click

from nborch.cli.options import client, json_option
from nborch.client import LocalClient, get_client
from nborch.settings import get_settings
from nborch.timeutil import ago
from nborch.workers import worker_class_for


@click.group("worker")
def worker() -> None:
    """Workers: processes that poll a pool and run its flow runs."""


@worker.command("start")
@click.option("--pool", "pool_name", required=True, help="The work pool to serve.")
@click.option("--name", default=None, help="Worker name (default: '<Type>Worker <uuid>').")
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=None,
    help="Most runs at once (default: no limit).",
)
@click.option(
    "--poll-interval",
    type=click.FloatRange(min=0.05),
    default=None,
    help="Seconds between polls (default: $NBORCH_POLL_INTERVAL or 2).",
)
@click.option(
    "--heartbeat-interval",
    type=click.FloatRange(min=0.05),
    default=None,
    help="Seconds between heartbeats (default: $NBORCH_HEARTBEAT_INTERVAL or 10).",
)
@click.option(
    "--prestart",
    type=click.FloatRange(min=0),
    default=None,
    metavar="SECONDS",
    help="Take runs this early and start their kernels (or containers), so the first cell "
    "runs on time (default: $NBORCH_PRESTART or 0).",
)
@click.option(
    "--run-once", is_flag=True, help="Claim the runs that are due once, wait for them, then exit."
)
def start(
    pool_name: str,
    name: str | None,
    limit: int | None,
    poll_interval: float | None,
    heartbeat_interval: float | None,
    prestart: float | None,
    run_once: bool,
) -> None:
    """Start a worker for a pool: it heartbeats, claims due runs and runs them.

    SIGTERM or Ctrl+C stops claiming and waits for the runs in hand; a second one stops
    them (runs not yet started go back to the pool).

    With NBORCH_API_URL and a worker key (NBORCH_API_KEY) it serves a pool of a server on
    another machine: notebooks must be readable here (a shared folder or a git source), and
    output notebooks are handed to the server. If the server goes away, runs go on and their
    states and logs are sent when it is back ($NBORCH_WORKER_API_RETRY_FOR, 600 s).
    """

    def echo(text: str) -> None:
        click.echo(text)  # a log line as it is (no markup, no wrapping)

    # A worker of a server waits for it to come back rather than lose a run's state or logs.
    api = get_client(retry_for=get_settings().worker_api_retry_for)
    if not isinstance(api, LocalClient):
        from nborch.client.http import HttpClient  # httpx: only a server's workers need it

        assert isinstance(api, HttpClient)
        api.on_connection = lambda ok, why: echo(
            f"nborch server at {api.url} is back."
            if ok
            else f"Lost the nborch server at {api.url} ({why}); runs go on, retrying."
        )
    pool = api.get_pool(pool_name)
    worker_class = worker_class_for(pool.type)
    worker_class(
        api,
        pool.name,
        name=name,
        limit=limit,
        poll_interval=poll_interval,
        heartbeat_interval=heartbeat_interval,
        prestart=prestart,
        run_once=run_once,
        echo=echo,
    ).start()


@worker.command("ls")
@click.option("--pool", "pool_name", default=None, help="Only this pool's workers.")
@json_option
def ls(pool_name: str | None, as_json: bool) -> None:
    """List workers and their last heartbeat."""
    from nborch.display import print_json, print_table  # rich: not loaded by `worker start`

    workers = client().list_workers(pool_name)
    if as_json:
        print_json(workers)
        return
    print_table(
        "Workers",
        ["Name", "Pool", "Status", "Last heartbeat", "Runs in hand", "Host", "PID"],
        [
            (
                w.name,
                w.pool_name or "-",
                w.status.value,
                ago(w.last_heartbeat),
                w.active_runs,
                w.hostname,
                w.pid,
            )
            for w in workers
        ],
    )

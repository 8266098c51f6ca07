"""`nborch server start` and `nborch api-key ...`"""

from __future__ import annotations

import click

from nborch.cli.options import client, json_option
from nborch.display import console, fmt_time, print_json, print_table
from nborch.errors import ValidationError

_LOOPBACK = {"127.0.0.1", "::1", "localhost"}


@click.group("server")
def server() -> None:
    """The nborch HTTP API, for workers and people on other machines."""


@server.command("start")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8750, show_default=True, type=int, help="Port to listen on.")
@click.option(
    "--no-scheduler", is_flag=True, help="Leave the scheduler to another process (a worker)."
)
@click.option(
    "--no-dispatcher",
    is_flag=True,
    help="Leave managed and push pools to another process (nborch dispatcher start).",
)
def start(host: str, port: int, no_scheduler: bool, no_dispatcher: bool) -> None:
    """Serve the API on the store named by NBORCH_DATABASE_URL / NBORCH_HOME.

    Every request needs an API key (`Authorization: Bearer KEY`), except /api/v1/health.
    The server binds to loopback unless --host says otherwise; the scheduler ticks inside it,
    and it runs the runs of managed pools and submits those of push pools (docker-swarm,
    dask) itself: nobody starts a worker for them.

    \b
      nborch api-key create admin --role admin      # on this host, once
      nborch server start --host 0.0.0.0 --port 8750
      # elsewhere:
      NBORCH_API_URL=http://HOST:8750 NBORCH_API_KEY=nbk_... nborch worker start --pool P
    """
    from nborch.api.server import run_server
    from nborch.settings import get_settings

    if get_settings().api_url:
        raise ValidationError(
            "NBORCH_API_URL is set: a server serves its own store. Unset it to start one."
        )
    if host not in _LOOPBACK:
        console.print(f"Listening on {host}: reachable from other machines; keys are required.")
    run_server(
        host,
        port,
        run_scheduler=not no_scheduler,
        echo=console.print,
        run_dispatcher=not no_dispatcher,
    )


@click.group("api-key")
def api_key() -> None:
    """API keys for the server: admin, worker (of some pools), viewer (reads), runner."""


@api_key.command("create")
@click.argument("name")
@click.option(
    "--role",
    type=click.Choice(["admin", "worker", "viewer", "runner"]),
    default="worker",
    show_default=True,
    help="admin: everything; worker: what a worker of its pools needs; viewer: read pools, "
    "deployments, runs, logs and outputs (no secrets, no change); runner: a viewer that may "
    "also run the deployments given.",
)
@click.option("--pool", "pools", multiple=True, help="A pool a worker key serves (repeatable).")
@click.option(
    "--deployment",
    "deployments",
    multiple=True,
    metavar="FLOW/NAME",
    help="A deployment a runner key may run, * matching any part: 'reports/*' (repeatable).",
)
@json_option
def create(
    name: str, role: str, pools: tuple[str, ...], deployments: tuple[str, ...], as_json: bool
) -> None:
    """Create an API key; it is shown once, only its hash is kept.

    \b
      nborch api-key create ops --role admin
      nborch api-key create gpu-worker --role worker --pool gpu
      nborch api-key create dashboard --role viewer
      nborch api-key create reports-bot --role runner --deployment 'reports/*'
    """
    key = client().create_api_key(name, role, pools, deployments)
    if as_json:
        print_json(key)
        return
    reach = {
        "admin": "everything",
        "worker": "the workers of " + ", ".join(key.pools),
        "viewer": "reading",
        "runner": "reading and running " + ", ".join(key.deployments),
    }[role]
    console.print(
        f"Created {role} API key '{name}' for {reach}. Keep it now; it is not shown again:"
    )
    console.print(key.key, markup=False, soft_wrap=True)


@api_key.command("ls")
@json_option
def ls(as_json: bool) -> None:
    """List API keys (never the keys themselves)."""
    keys = client().list_api_keys()
    if as_json:
        print_json(keys)
        return
    print_table(
        "API keys",
        ["Name", "Role", "Pools", "Deployments", "Prefix", "Created", "Last used", "Revoked"],
        [
            [
                k.name,
                k.role.value,
                ", ".join(k.pools) or "-",
                ", ".join(k.deployments) or "-",
                k.prefix,
                fmt_time(k.created),
                fmt_time(k.last_used),
                fmt_time(k.revoked),
            ]
            for k in keys
        ],
    )


@api_key.command("revoke")
@click.argument("name")
def revoke(name: str) -> None:
    """Revoke an API key: the server refuses it from now on."""
    client().revoke_api_key(name)
    console.print(f"Revoked API key '{name}'.")

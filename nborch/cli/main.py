"""`nborch`: work pools, workers, deployments and flow runs from the command line."""

from __future__ import annotations

import sys
from typing import Any

import click

from nborch.errors import NborchError

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class NborchGroup(click.Group):
    """Turns nborch's errors into one clear line on stderr and a non-zero exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except NborchError as err:
            from rich.markup import escape

            from nborch.display import error_console

            error_console.print(f"[red]Error:[/] {escape(err.message)}")
            sys.exit(err.exit_code)


@click.group(cls=NborchGroup, context_settings=CONTEXT)
@click.version_option(package_name="nborch")
def cli() -> None:
    """nborch: notebook orchestration that lives inside Jupyter.

    \b
    Quick start:
      nborch work-pool create my-pool --type process
      nborch deploy notebooks/hello.ipynb --name demo --pool my-pool
      nborch deployment run 'hello/demo' -p name=Ada
      nborch worker start --pool my-pool

    The store is SQLite under $NBORCH_HOME (default ~/.nborch); set NBORCH_DATABASE_URL
    for PostgreSQL. With NBORCH_API_URL (and NBORCH_API_KEY) set, every command asks that
    nborch server instead (nborch server start).
    """


def _register_commands() -> None:
    from nborch.cli import (
        deployments,
        dispatcher,
        images,
        pools,
        queues,
        runs,
        secrets,
        server,
        workers,
    )

    cli.add_command(pools.work_pool)
    cli.add_command(queues.work_queue)
    cli.add_command(workers.worker)
    cli.add_command(deployments.deploy)
    cli.add_command(deployments.deployment)
    cli.add_command(runs.flow_run)
    cli.add_command(runs.run)
    cli.add_command(images.image)
    cli.add_command(secrets.secret)
    cli.add_command(server.server)
    cli.add_command(server.api_key)
    cli.add_command(dispatcher.dispatcher)


_register_commands()


def main() -> None:
    cli(prog_name="nborch")


if __name__ == "__main__":
    main()

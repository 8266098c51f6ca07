"""`nborch`: work pools, workers, deployments and flow runs from the command line."""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from nborch.errors import NborchError

CONTEXT: dict[str, Any] = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


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


# Each command's module is imported only when that command runs or shows its own help: a
# worker does not load what deploying or the server needs. Name: ("module:attribute", the
# first sentence of its help, which `nborch --help` shows; a test keeps them equal).
COMMANDS: dict[str, tuple[str, str]] = {
    "alert": (
        "nborch.cli.alerts:alert",
        "Alerts: a message by webhook (Slack, Teams) or email when runs fail, crash, are "
        "cancelled, complete or run late.",
    ),
    "api-key": (
        "nborch.cli.server:api_key",
        "API keys for the server: admin, worker (of some pools), viewer (reads), runner.",
    ),
    "deploy": (
        "nborch.cli.deployments:deploy",
        "Deploy NOTEBOOK to a work pool (deploying again updates it).",
    ),
    "deployment": (
        "nborch.cli.deployments:deployment",
        "Deployments: flows bound to a work pool, with defaults and schedules.",
    ),
    "dispatcher": (
        "nborch.cli.dispatcher:dispatcher",
        "The worker of every managed and push pool, run by nborch itself.",
    ),
    "flow-run": ("nborch.cli.runs:flow_run", "Flow runs: list, inspect, follow logs, cancel."),
    "image": ("nborch.cli.images:image", "Images for docker pools."),
    "run": (
        "nborch.cli.runs:run",
        "Run NOTEBOOK now with papermill, tracked like any run; the executed notebook goes to "
        "OUTPUT (default: the run's folder under $NBORCH_HOME/runs).",
    ),
    "secret": (
        "nborch.cli.secrets:secret",
        "Secrets: values stored encrypted, referenced as {{ secret.NAME }} in parameters and "
        "job variables, resolved only for the run that uses them and masked in what it shows.",
    ),
    "server": (
        "nborch.cli.server:server",
        "The nborch HTTP API, for workers and people on other machines.",
    ),
    "work-pool": (
        "nborch.cli.pools:work_pool",
        "Work pools: named channels of work with a type, a job template and limits.",
    ),
    "work-queue": (
        "nborch.cli.queues:work_queue",
        "Work queues inside a pool: priority (1 first) and a concurrency limit each.",
    ),
    "worker": (
        "nborch.cli.workers:worker",
        "Workers: processes that poll a pool and run its flow runs.",
    ),
}


class LazyCommands(NborchGroup):
    """The `nborch` group: its commands are those of `COMMANDS`, imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        module, attribute = COMMANDS[cmd_name][0].split(":")
        command: click.Command = getattr(importlib.import_module(module), attribute)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # Stand-ins with the summaries, shortened as click does: `nborch --help` imports none.
        limit = formatter.width - 6 - max(map(len, COMMANDS))
        rows = [
            (name, click.Command(name, help=COMMANDS[name][1]).get_short_help_str(limit))
            for name in self.list_commands(ctx)
        ]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyCommands, context_settings=CONTEXT)
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


def main() -> None:
    _skip_unused_format_checkers()
    cli(prog_name="nborch")


def _skip_unused_format_checkers() -> None:
    """Keep jsonschema from loading `rfc3987_syntax` in this process.

    jsonschema (imported by nbformat, so by every worker that runs notebooks, and by the
    job template checks) registers a checker for every format whose library is installed;
    `rfc3987_syntax`, installed with Jupyter for the "iri" formats, builds a grammar of
    ~24 MiB over 1-3 s when imported. Nothing nborch validates checks those formats (job
    variables are validated without format checks; the schemas' own meta-schemas use none),
    so an `nborch` process goes without them. Notebooks run in kernels of their own and
    the Python API and the magics are not affected.
    """
    sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]


if __name__ == "__main__":
    main()

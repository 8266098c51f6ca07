"""`nborch work-pool ...`"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from nborch.cli.options import client, json_option
from nborch.display import (
    console,
    fmt_limit,
    fmt_time,
    print_fields,
    print_json,
    print_table,
    styled_status,
)
from nborch.errors import ValidationError
from nborch.jobs import default_base_job_template
from nborch.models import PoolType, WorkPool
from nborch.orchestration.pools import parse_pool_type

POOL_TYPES = [t.value for t in PoolType]


def _read_template(path: str) -> dict[str, Any]:
    try:
        return json.loads(Path(path).read_text())
    except OSError as err:
        raise ValidationError(f"Cannot read base job template '{path}': {err.strerror}.") from err
    except ValueError as err:
        raise ValidationError(f"Base job template '{path}' is not valid JSON: {err}.") from err


@click.group("work-pool")
def work_pool() -> None:
    """Work pools: named channels of work with a type, a job template and limits."""


@work_pool.command("create")
@click.argument("name")
@click.option(
    "--type",
    "pool_type",
    default="process",
    show_default=True,
    help=f"Infrastructure for the pool's runs: {', '.join(POOL_TYPES)}.",
)
@click.option("--description", default="", help="What the pool is for.")
@click.option("--concurrency-limit", type=int, help="Most runs of the pool at once.")
@click.option(
    "--base-job-template",
    "template_file",
    type=click.Path(),
    help="JSON file with job_configuration and variables.",
)
@click.option("--paused", is_flag=True, help="Create it paused: no runs start until resumed.")
@json_option
def create(
    name: str,
    pool_type: str,
    description: str,
    concurrency_limit: int | None,
    template_file: str | None,
    paused: bool,
    as_json: bool,
) -> None:
    """Create a work pool."""
    template = _read_template(template_file) if template_file else None
    pool = client().create_pool(
        name,
        pool_type,
        description=description,
        base_job_template=template,
        concurrency_limit=concurrency_limit,
        paused=paused,
    )
    if as_json:
        print_json(pool)
        return
    console.print(f"Created work pool '{pool.name}' of type {pool.type.value}.")
    console.print(f"Start a worker for it with: [bold]nborch worker start --pool {pool.name}[/]")


@work_pool.command("ls")
@json_option
def ls(as_json: bool) -> None:
    """List work pools with their status."""
    pools = client().list_pools()
    if as_json:
        print_json(pools)
        return
    print_table(
        "Work pools",
        ["Name", "Type", "Status", "Concurrency", "Workers", "Description"],
        [
            (
                p.name,
                p.type.value,
                styled_status(p.status),
                f"{p.active_runs} / {fmt_limit(p.concurrency_limit)}",
                p.workers_online,
                p.description,
            )
            for p in pools
        ],
    )


def _show(pool: WorkPool, as_json: bool) -> None:
    if as_json:
        print_json(pool)
        return
    print_fields(
        f"Work pool '{pool.name}'",
        [
            ("id", pool.id),
            ("type", pool.type.value),
            ("status", styled_status(pool.status)),
            ("description", pool.description or "-"),
            ("concurrency", f"{pool.active_runs} / {fmt_limit(pool.concurrency_limit)}"),
            ("workers online", pool.workers_online),
            ("created", fmt_time(pool.created)),
            (
                "variables",
                ", ".join(pool.base_job_template.get("variables", {}).get("properties", {})) or "-",
            ),
        ],
    )


@work_pool.command("inspect")
@click.argument("name")
@json_option
def inspect(name: str, as_json: bool) -> None:
    """Show a work pool, its status and its job variables."""
    _show(client().get_pool(name), as_json)


@work_pool.command("pause")
@click.argument("name")
def pause(name: str) -> None:
    """Pause a pool: its workers start no new runs."""
    client().update_pool(name, paused=True)
    console.print(f"Paused work pool '{name}'. Resume it with: nborch work-pool resume {name}")


@work_pool.command("resume")
@click.argument("name")
def resume(name: str) -> None:
    """Resume a paused pool."""
    client().update_pool(name, paused=False)
    console.print(f"Resumed work pool '{name}'.")


@work_pool.command("delete")
@click.argument("name")
def delete(name: str) -> None:
    """Delete a pool (refused while deployments use it)."""
    client().delete_pool(name)
    console.print(f"Deleted work pool '{name}'.")


@work_pool.command("set-concurrency-limit")
@click.argument("name")
@click.argument("limit", type=int)
def set_concurrency_limit(name: str, limit: int) -> None:
    """Run at most LIMIT runs of the pool at once."""
    client().update_pool(name, concurrency_limit=limit)
    console.print(f"Work pool '{name}' now runs at most {limit} run(s) at once.")


@work_pool.command("clear-concurrency-limit")
@click.argument("name")
def clear_concurrency_limit(name: str) -> None:
    """Remove the pool's concurrency limit."""
    client().update_pool(name, concurrency_limit=None)
    console.print(f"Work pool '{name}' has no concurrency limit now.")


@work_pool.command("update")
@click.argument("name")
@click.option(
    "--base-job-template",
    "template_file",
    type=click.Path(),
    help="JSON file with job_configuration and variables.",
)
@click.option("--description", default=None, help="New description.")
@json_option
def update(name: str, template_file: str | None, description: str | None, as_json: bool) -> None:
    """Change a pool's base job template or description."""
    template = _read_template(template_file) if template_file else None
    _show(client().update_pool(name, base_job_template=template, description=description), as_json)


@work_pool.command("get-default-base-job-template")
@click.option(
    "--type",
    "pool_type",
    default="process",
    show_default=True,
    help=f"One of: {', '.join(POOL_TYPES)}.",
)
def get_default_base_job_template(pool_type: str) -> None:
    """Print the default base job template of a pool type (JSON), to edit and pass back."""
    print_json(default_base_job_template(parse_pool_type(pool_type)))

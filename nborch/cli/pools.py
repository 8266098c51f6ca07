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
from nborch.models import PoolType, QuotaPeriod, WorkPool
from nborch.orchestration.pools import parse_pool_type

POOL_TYPES = [t.value for t in PoolType]
QUOTA_PERIODS = [p.value for p in QuotaPeriod]


def fmt_quota(pool: WorkPool) -> str:
    return f"{pool.quota_hours:g} h / {pool.quota_period.value}" if pool.quota_hours else "-"


def _next_step(pool: WorkPool) -> str:
    if pool.type is PoolType.MANAGED:
        return (
            "nborch runs its runs itself: in nborch server start, in Jupyter, or with "
            "[bold]nborch dispatcher start[/] on the local store."
        )
    if pool.type.is_dispatched:
        return (
            "nborch submits its runs to the cluster itself: in nborch server start, in "
            "Jupyter, or with [bold]nborch dispatcher start[/] on the local store."
        )
    return f"Start a worker for it with: [bold]nborch worker start --pool {pool.name}[/]"


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
@click.option(
    "--quota-hours",
    type=float,
    default=None,
    help="Compute hours the pool's runs may use per period; runs beyond are refused.",
)
@click.option(
    "--quota-period",
    type=click.Choice(QUOTA_PERIODS),
    default="month",
    show_default=True,
    help="The calendar period (UTC) the quota counts over.",
)
@json_option
def create(
    name: str,
    pool_type: str,
    description: str,
    concurrency_limit: int | None,
    template_file: str | None,
    paused: bool,
    quota_hours: float | None,
    quota_period: str,
    as_json: bool,
) -> None:
    """Create a work pool.

    \b
    Pull pools, served by workers you start:
      process          a fresh kernel per run, started ahead by the worker
      docker           a container per run on the worker's Docker engine
    Served by nborch itself (nborch server start, Jupyter, or nborch dispatcher start):
      nborch:managed   a process per run, provisioned by nborch; --quota-hours caps it
      docker-swarm     a replicated-job service per run on a Docker Swarm
      dask             a task per run on a Dask distributed cluster
      kubernetes       a Kubernetes Job per run (template only in this version)
    """
    template = _read_template(template_file) if template_file else None
    pool = client().create_pool(
        name,
        pool_type,
        description=description,
        base_job_template=template,
        concurrency_limit=concurrency_limit,
        paused=paused,
        quota_hours=quota_hours,
        quota_period=quota_period,
    )
    if as_json:
        print_json(pool)
        return
    console.print(f"Created work pool '{pool.name}' of type {pool.type.value}.")
    console.print(_next_step(pool))


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
            ("quota", fmt_quota(pool)),
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


@work_pool.command("set-quota")
@click.argument("name")
@click.argument("hours", type=float)
@click.option(
    "--period",
    type=click.Choice(QUOTA_PERIODS),
    default=None,
    help="The calendar period (UTC) it counts over (default: as it is, else month).",
)
def set_quota(name: str, hours: float, period: str | None) -> None:
    """Let the pool's runs use at most HOURS compute hours per period."""
    pool = client().update_pool(name, quota_hours=hours, quota_period=period)
    console.print(f"Work pool '{name}' may now use {fmt_quota(pool)} of compute.")


@work_pool.command("clear-quota")
@click.argument("name")
def clear_quota(name: str) -> None:
    """Remove the pool's compute-hours quota."""
    client().update_pool(name, quota_hours=None)
    console.print(f"Work pool '{name}' has no compute-hours quota now.")


@work_pool.command("usage")
@click.option("--pool", "pool_name", default=None, help="Only this pool.")
@click.option(
    "--since",
    type=click.DateTime(),
    default=None,
    help="From this time, UTC (default: the start of this month).",
)
@click.option("--until", type=click.DateTime(), default=None, help="Up to this time, UTC.")
@json_option
def usage(pool_name: str | None, since: Any, until: Any, as_json: bool) -> None:
    """Compute hours per pool, per deployment and per tag, and each pool's quota use.

    A run's hours are the time it spent RUNNING (every attempt); a run with several tags
    counts for each.
    """
    report = client().usage(pool_name=pool_name, since=_utc(since), until=_utc(until))
    if as_json:
        print_json(report)
        return
    window = f"{fmt_time(report.since)} to {fmt_time(report.until)} UTC"
    print_table(
        f"Compute hours per pool, {window}",
        ["Pool", "Type", "Runs", "Hours", "Quota", "Used this period", "Resets"],
        [
            (
                p.name,
                p.type.value,
                p.runs,
                f"{p.hours:.2f}",
                f"{p.quota_hours:g} h / {p.quota_period.value}" if p.quota_hours else "-",
                f"{p.quota_used_hours:.2f} h" if p.quota_used_hours is not None else "-",
                fmt_time(p.quota_resets) or "-",
            )
            for p in report.pools
        ],
    )
    for title, entries in (("deployment", report.deployments), ("tag", report.tags)):
        print_table(
            f"Compute hours per {title}",
            [title.capitalize(), "Runs", "Hours"],
            [(e.name, e.runs, f"{e.hours:.2f}") for e in entries],
        )


def _utc(moment: Any) -> Any:
    from datetime import timezone

    return moment.replace(tzinfo=timezone.utc) if moment is not None else None

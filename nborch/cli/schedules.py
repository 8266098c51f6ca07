"""`nborch deployment schedule ...`"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import click
from rich.markup import escape

from nborch.cli.options import client, json_option, param_option
from nborch.display import Styled, console, fmt_time, print_json, print_table
from nborch.models import CatchUp, Schedule, ScheduleSpec
from nborch.parameters import parse_cli_parameters

deployment_argument = click.argument("deployment", metavar="FLOW/DEPLOYMENT")


def schedule_options(f: Any) -> Any:
    """--cron / --interval / --timezone / --anchor-date, shared by `deploy`."""
    for option in reversed(
        [
            click.option(
                "--cron",
                "crons",
                multiple=True,
                metavar="EXPR",
                help="A cron schedule, e.g. '0 1 * * *' (repeatable).",
            ),
            click.option(
                "--interval",
                "intervals",
                multiple=True,
                type=click.FloatRange(min=1),
                metavar="SECONDS",
                help="An interval schedule in seconds (repeatable).",
            ),
            click.option(
                "--timezone",
                default="UTC",
                show_default=True,
                help="IANA time zone of the cron schedules, e.g. Europe/Paris.",
            ),
            click.option(
                "--anchor-date",
                type=click.DateTime(),
                default=None,
                help="Where interval schedules count from (default: now), in --timezone.",
            ),
        ]
    ):
        f = option(f)
    return f


catch_up_option = click.option(
    "--catch-up",
    type=click.Choice([c.value for c in CatchUp]),
    default=CatchUp.LATEST.value,
    show_default=True,
    help="Times missed while nothing could run them: run all, only the latest, or none.",
)


def specs_from_options(
    crons: tuple[str, ...],
    intervals: tuple[float, ...],
    timezone: str,
    anchor_date: datetime | None,
    parameters: dict[str, Any] | None = None,
    active: bool = True,
) -> list[ScheduleSpec]:
    parameters = parameters or {}
    return [
        *(
            ScheduleSpec(cron=c, timezone=timezone, parameters=parameters, active=active)
            for c in crons
        ),
        *(
            ScheduleSpec(
                interval_seconds=i,
                anchor_date=anchor_date,
                timezone=timezone,
                parameters=parameters,
                active=active,
            )
            for i in intervals
        ),
    ]


@click.group("schedule")
def schedule() -> None:
    """A deployment's schedules: cron or interval, each with its own parameters."""


@schedule.command("create")
@deployment_argument
@schedule_options
@param_option
@click.option("--paused", is_flag=True, help="Create it paused.")
@json_option
def create(
    deployment: str,
    crons: tuple[str, ...],
    intervals: tuple[float, ...],
    timezone: str,
    anchor_date: datetime | None,
    params: tuple[str, ...],
    paused: bool,
    as_json: bool,
) -> None:
    """Add a schedule to a deployment (give exactly one --cron or --interval)."""
    api = client()
    found = api.get_deployment(deployment)
    parameters = parse_cli_parameters(
        found.parameter_specs, params, f"deployment '{found.full_name}'"
    )
    specs = specs_from_options(crons, intervals, timezone, anchor_date, parameters, not paused)
    if len(specs) != 1:
        raise click.UsageError("Give exactly one --cron or one --interval.")
    made = api.create_schedule(deployment, specs[0])
    if as_json:
        print_json(made)
    else:
        console.print(f"Added schedule {made.id} ({made.describe()}) to '{deployment}'.")


@schedule.command("ls")
@deployment_argument
@json_option
def ls(deployment: str, as_json: bool) -> None:
    """List a deployment's schedules and when each runs next."""
    schedules = client().list_schedules(deployment)
    if as_json:
        print_json(schedules)
        return
    show_schedules(f"Schedules of '{deployment}'", schedules)


def show_schedules(title: str, schedules: list[Schedule]) -> None:
    print_table(
        title,
        ["ID", "Schedule", "Active", "Next run (UTC)", "Parameters"],
        [
            (
                s.id,
                s.describe(),
                s.active,
                Styled(f"[red]in error: {escape(s.error)}[/red]")
                if s.error
                else fmt_time(s.next_run_time),
                json.dumps(s.parameters),
            )
            for s in schedules
        ],
    )


def _set_active(deployment: str, schedule_id: str, active: bool) -> None:
    made = client().set_schedule_active(deployment, schedule_id, active)
    word = "Resumed" if active else "Paused"
    console.print(f"{word} schedule {made.id} ({made.describe()}) of '{deployment}'.")


@schedule.command("pause")
@deployment_argument
@click.argument("schedule_id")
def pause(deployment: str, schedule_id: str) -> None:
    """Pause a schedule: the runs it made that have not started are removed."""
    _set_active(deployment, schedule_id, False)


@schedule.command("resume")
@deployment_argument
@click.argument("schedule_id")
def resume(deployment: str, schedule_id: str) -> None:
    """Resume a schedule from now on (times missed while paused are not run)."""
    _set_active(deployment, schedule_id, True)


@schedule.command("delete")
@deployment_argument
@click.argument("schedule_id")
def delete(deployment: str, schedule_id: str) -> None:
    """Delete a schedule and the runs it made that have not started."""
    client().delete_schedule(deployment, schedule_id)
    console.print(f"Deleted schedule {schedule_id} of '{deployment}'.")

"""`nborch deploy` and `nborch deployment ...`"""

from __future__ import annotations

from datetime import datetime, timedelta

import click

from nborch.cli.images import image_options
from nborch.cli.options import (
    client,
    job_var_option,
    json_option,
    param_option,
    parse_job_variables,
    parse_retry_on,
    run_policy_options,
)
from nborch.cli.schedules import (
    catch_up_option,
    schedule,
    schedule_options,
    show_schedules,
    specs_from_options,
)
from nborch.cli.watch import watch_run
from nborch.display import (
    console,
    describe_policy,
    fmt_limit,
    fmt_time,
    print_deployment_summary,
    print_fields,
    print_json,
    print_table,
)
from nborch.flows import Flow
from nborch.models import ALL_RETRY_ON, Deployment
from nborch.parameters import parse_cli_parameters
from nborch.timeutil import utcnow

# A run is scheduled at most this far ahead (a larger --start-in is a typing mistake).
START_IN_MAX = 10 * 366 * 24 * 3600.0


@click.command("deploy")
@click.argument("notebook", type=click.Path(dir_okay=False))
@click.option("--name", "-n", required=True, help="Deployment name.")
@click.option("--pool", "pool_name", required=True, help="Work pool whose workers run it.")
@click.option(
    "--flow", "flow_name", default=None, help="Flow name (default: from the notebook's file name)."
)
@click.option("--queue", "queue_name", default=None, help="Work queue (default: 'default').")
@param_option
@job_var_option
@click.option("--tag", "tags", multiple=True, help="A tag (repeatable).")
@click.option("--description", default="", help="What the deployment does.")
@click.option("--version", "version", default=None, help="A version label.")
@click.option(
    "--retries",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Run again this many times after an ending --retry-on names.",
)
@run_policy_options(for_one_run=False)
@click.option(
    "--concurrency-limit",
    type=click.IntRange(min=0),
    default=None,
    help="Most runs of this deployment at once.",
)
@schedule_options
@catch_up_option
@click.option("--clear-schedules", is_flag=True, help="Remove the deployment's schedules.")
@image_options
@json_option
def deploy(
    notebook: str,
    name: str,
    pool_name: str,
    flow_name: str | None,
    queue_name: str | None,
    params: tuple[str, ...],
    job_vars: tuple[str, ...],
    tags: tuple[str, ...],
    description: str,
    version: str | None,
    retries: int,
    timeout_seconds: float | None,
    retry_delay_seconds: float | None,
    retry_backoff: float | None,
    retry_on: str | None,
    concurrency_limit: int | None,
    crons: tuple[str, ...],
    intervals: tuple[float, ...],
    timezone: str,
    anchor_date: datetime | None,
    catch_up: str,
    clear_schedules: bool,
    image: str | None,
    build: bool,
    push: bool,
    dockerfile: str | None,
    as_json: bool,
) -> None:
    """Deploy NOTEBOOK to a work pool (deploying again updates it).

    Parameters, their types and defaults come from the notebook's cell tagged
    `parameters`; --param sets the deployment's own defaults. --cron and --interval set the
    deployment's schedules (redeploying without them keeps its schedules as they are).
    """
    specs = specs_from_options(crons, intervals, timezone, anchor_date)
    flow = Flow.from_notebook(notebook, flow_name)
    parameters = parse_cli_parameters(flow.parameters, params, f"flow '{flow.name}'")
    deployment, created = flow.deploy(
        name,
        pool_name,
        work_queue_name=queue_name,
        parameters=parameters,
        job_variables=parse_job_variables(job_vars),
        tags=tags,
        description=description,
        version=version,
        retries=retries,
        timeout=timeout_seconds,
        retry_delay=retry_delay_seconds or 0.0,
        retry_backoff=retry_backoff or 1.0,
        retry_on=parse_retry_on(retry_on) or ALL_RETRY_ON,
        concurrency_limit=concurrency_limit,
        schedules=[] if clear_schedules else (specs or None),
        catch_up=catch_up,
        image=image,
        build=build,
        push=push,
        dockerfile=dockerfile,
        quiet=True,
    )
    if as_json:
        print_json(deployment)
        return
    if image and build:
        console.print(f"Built image '{image}' from {flow.source}.", markup=False)
    print_deployment_summary(deployment, created)


@click.group("deployment")
def deployment() -> None:
    """Deployments: flows bound to a work pool, with defaults and schedules."""


deployment.add_command(schedule)


@deployment.command("ls")
@click.option("--pool", "pool_name", default=None, help="Only this pool's deployments.")
@json_option
def ls(pool_name: str | None, as_json: bool) -> None:
    """List deployments."""
    deployments = client().list_deployments(pool_name=pool_name)
    if as_json:
        print_json(deployments)
        return
    print_table(
        "Deployments",
        ["Name", "Pool", "Queue", "Paused", "Schedules", "Next run (UTC)", "Parameters", "Tags"],
        [
            (
                d.full_name,
                d.pool_name or "-",
                d.queue_name or "-",
                d.paused,
                "; ".join(s.describe() + ("" if s.active else " (paused)") for s in d.schedules),
                fmt_time(next_run(d)),
                ", ".join(f"{p.name}: {p.type}" for p in d.parameter_specs),
                ", ".join(d.tags),
            )
            for d in deployments
        ],
    )


@deployment.command("inspect")
@click.argument("name", metavar="FLOW/DEPLOYMENT")
@json_option
def inspect(name: str, as_json: bool) -> None:
    """Show a deployment."""
    d = client().get_deployment(name)
    if as_json:
        print_json(d)
        return
    print_fields(
        f"Deployment '{d.full_name}'",
        [
            ("id", d.id),
            ("notebook", f"{d.source}/{d.entrypoint}"),
            ("pool", d.pool_name),
            ("queue", d.queue_name),
            ("paused", d.paused),
            (
                "parameters",
                ", ".join(
                    f"{p.name}: {p.type} = {d.parameters.get(p.name, p.default)!r}"
                    for p in d.parameter_specs
                )
                or "-",
            ),
            ("job variables", d.job_variables),
            ("tags", ", ".join(d.tags) or "-"),
            ("description", d.description or "-"),
            ("version", d.version or "-"),
            ("retries", d.retries),
            ("run policy", describe_policy(d)),
            ("concurrency limit", fmt_limit(d.concurrency_limit)),
            ("catch-up", d.catch_up.value),
            ("next run (UTC)", fmt_time(next_run(d)) or "-"),
            ("updated", fmt_time(d.updated)),
        ],
    )
    if d.schedules:
        show_schedules("Schedules", d.schedules)


def next_run(d: Deployment) -> datetime | None:
    return min((s.next_run_time for s in d.schedules if s.next_run_time), default=None)


@deployment.command("run")
@click.argument("name", metavar="FLOW/DEPLOYMENT")
@param_option
@job_var_option
@click.option("--tag", "tags", multiple=True, help="A tag for this run (repeatable).")
@click.option(
    "--start-in",
    type=click.FloatRange(min=0, max=START_IN_MAX),
    default=None,
    metavar="SECONDS",
    help="Schedule it this many seconds from now (default: now; at most ten years).",
)
@run_policy_options(for_one_run=True)
@click.option("--watch", is_flag=True, help="Follow the run's logs and state until it ends.")
@json_option
def run(
    name: str,
    params: tuple[str, ...],
    job_vars: tuple[str, ...],
    tags: tuple[str, ...],
    start_in: float | None,
    timeout_seconds: float | None,
    retry_delay_seconds: float | None,
    retry_backoff: float | None,
    retry_on: str | None,
    retries: int | None,
    watch: bool,
    as_json: bool,
) -> None:
    """Create a run of a deployment; a worker of its pool picks it up.

    Unknown parameters and values of the wrong type are refused before any run exists.
    """
    api = client()
    deployment = api.get_deployment(name)
    parameters = parse_cli_parameters(
        deployment.parameter_specs, params, f"deployment '{deployment.full_name}'"
    )
    scheduled_time = utcnow() + timedelta(seconds=start_in) if start_in else None
    flow_run = api.create_run(
        name,
        parameters=parameters,
        job_variables=parse_job_variables(job_vars),
        tags=tags,
        scheduled_time=scheduled_time,
        timeout_seconds=timeout_seconds,
        retries=retries,
        retry_delay_seconds=retry_delay_seconds,
        retry_backoff=retry_backoff,
        retry_on=parse_retry_on(retry_on),
    )
    if as_json and not watch:
        print_json(flow_run)
        return
    console.print(f"Created flow run '{flow_run.name}' ({flow_run.id}).")
    if not watch:
        console.print(f"Follow it with: nborch flow-run logs {flow_run.id} --follow")
        return
    final = watch_run(api, flow_run.id)
    raise SystemExit(0 if final.state.value == "COMPLETED" else 1)


@deployment.command("pause")
@click.argument("name", metavar="FLOW/DEPLOYMENT")
def pause(name: str) -> None:
    """Pause a deployment: its runs do not start until it is resumed."""
    client().set_deployment_paused(name, True)
    console.print(f"Paused deployment '{name}'.")


@deployment.command("resume")
@click.argument("name", metavar="FLOW/DEPLOYMENT")
def resume(name: str) -> None:
    """Resume a paused deployment."""
    client().set_deployment_paused(name, False)
    console.print(f"Resumed deployment '{name}'.")


@deployment.command("delete")
@click.argument("name", metavar="FLOW/DEPLOYMENT")
def delete(name: str) -> None:
    """Delete a deployment and its runs that have not started."""
    client().delete_deployment(name)
    console.print(f"Deleted deployment '{name}'.")

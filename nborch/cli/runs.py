"""`nborch flow-run ...` and the headless `nborch run NOTEBOOK`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
import yaml
from rich.markup import escape

from nborch.cli.options import Duration, client, json_option
from nborch.cli.watch import follow_logs
from nborch.display import (
    console,
    describe_policy,
    error_console,
    fmt_time,
    print_fields,
    print_json,
    print_table,
    styled_state,
)
from nborch.errors import NotebookError, ValidationError
from nborch.execution.notebooks import read_parameter_specs
from nborch.models import FlowRun, StateType
from nborch.parameters import parse_assignment, parse_cli_value, validate_parameters


@click.group("flow-run")
def flow_run() -> None:
    """Flow runs: list, inspect, follow logs, cancel."""


@flow_run.command("ls")
@click.option("--deployment", default=None, metavar="FLOW/DEPLOYMENT", help="Only its runs.")
@click.option("--pool", "pool_name", default=None, help="Only this pool's runs.")
@click.option(
    "--state",
    "states",
    multiple=True,
    type=click.Choice([s.value for s in StateType], case_sensitive=False),
    help="Only runs in this state (repeatable).",
)
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
@json_option
def ls(
    deployment: str | None,
    pool_name: str | None,
    states: tuple[str, ...],
    limit: int,
    as_json: bool,
) -> None:
    """List flow runs, newest first."""
    runs = client().list_runs(
        deployment=deployment,
        pool_name=pool_name,
        states=[StateType(s.upper()) for s in states],
        limit=limit,
    )
    if as_json:
        print_json(runs)
        return
    print_table(
        "Flow runs",
        ["ID", "Name", "Deployment", "State", "Scheduled", "Duration", "Parameters"],
        [
            (
                r.id,
                r.name,
                r.deployment_name or f"{r.flow_name} (ad hoc)",
                styled_state(r.state),
                fmt_time(r.scheduled_time),
                _duration(r),
                json.dumps(r.parameters),
            )
            for r in runs
        ],
    )


def _duration(run: FlowRun) -> str:
    seconds = run.duration_seconds
    return "" if seconds is None else f"{seconds:.1f} s"


def show_run(run: FlowRun) -> None:
    fields: list[tuple[str, Any]] = [
        ("id", run.id),
        ("flow", run.flow_name),
        ("deployment", run.deployment_name or "-"),
        (
            "state",
            styled_state(run.state, run.state_message),
        ),
        ("pool", run.pool_name or "-"),
        ("queue", run.queue_name or "-"),
        ("worker", run.worker_name or "-"),
        ("parameters", run.parameters),
        ("job variables", run.job_variables),
        ("notebook", run.input_path),
        ("output notebook", run.output_path),
        ("infrastructure", run.infrastructure_id or "-"),
        ("attempts", f"{run.run_count} (retries allowed: {run.retries})"),
        ("run policy", describe_policy(run)),
        ("scheduled", fmt_time(run.scheduled_time)),
        ("started", fmt_time(run.start_time)),
        ("ended", fmt_time(run.end_time)),
        ("duration", _duration(run)),
        ("created by", run.created_by or "-"),
    ]
    print_fields(f"Flow run '{run.name}'", fields)
    if run.failure:
        f = run.failure
        console.print(
            f"[bold red]Failed in cell {f.cell_index}[/] "
            + escape(f"(In [{f.execution_count}]): {f.ename}: {f.evalue}")
        )
        console.print(f.source, markup=False)
    if run.history:
        print_table(
            "States",
            ["Time", "State", "Message"],
            [(fmt_time(h.timestamp), styled_state(h.type), h.message) for h in run.history],
        )


@flow_run.command("inspect")
@click.argument("run_id")
@json_option
def inspect(run_id: str, as_json: bool) -> None:
    """Show a run: state history, parameters, failing cell, output notebook."""
    run = client().get_run(run_id)
    if as_json:
        print_json(run)
    else:
        show_run(run)


@flow_run.command("logs")
@click.argument("run_id")
@click.option("--follow", "-f", is_flag=True, help="Keep printing until the run ends.")
def logs(run_id: str, follow: bool) -> None:
    """Print a run's logs (papermill's cell log and the kernel's output)."""
    follow_logs(client(), run_id, follow=follow)


@flow_run.command("output")
@click.argument("run_id")
@click.option(
    "-o",
    "--output",
    "path",
    type=click.Path(dir_okay=False),
    default=None,
    help="Where to write it (default: RUN_NAME.ipynb, or .html with --html).",
)
@click.option("--html", "as_html", is_flag=True, help="Write the notebook as an HTML page.")
def output(run_id: str, path: str | None, as_html: bool) -> None:
    """Save a run's output notebook here (also from a server on another machine)."""
    api = client()
    notebook = api.read_output_notebook(run_id)
    if notebook is None:
        run = api.get_run(run_id)
        raise NotebookError(
            f"Flow run '{run.name}' has no output notebook yet (it is {run.state.value}). "
            f"Wait for it: nborch flow-run logs {run.id} --follow"
        )
    if path is None:
        path = f"{api.get_run(run_id).name}.{'html' if as_html else 'ipynb'}"
    if as_html:
        from nborch.execution.html import notebook_html

        Path(path).write_text(notebook_html(notebook), encoding="utf-8")
    else:
        Path(path).write_text(json.dumps(notebook, indent=1), encoding="utf-8")
    console.print(f"Wrote {path}", markup=False)


@flow_run.command("cancel")
@click.argument("run_id")
def cancel(run_id: str) -> None:
    """Cancel a run: its worker stops the notebook and the kernel."""
    run = client().cancel_run(run_id)
    console.print(f"Flow run '{run.name}' is {styled_state(run.state)}.")


def _parameters(
    notebook: str,
    params: tuple[str, ...],
    raw: tuple[str, ...],
    yaml_text: str | None,
    yaml_file: str | None,
) -> dict[str, Any]:
    """papermill's flags: -f file, -y YAML, -p typed, -r raw; later ones win."""
    specs = {s.name: s for s in read_parameter_specs(notebook)}
    owner = f"notebook '{notebook}'"
    values: dict[str, Any] = {}
    for source, text in (("-f", yaml_file and Path(yaml_file).read_text()), ("-y", yaml_text)):
        if text:
            loaded = yaml.safe_load(text)
            if not isinstance(loaded, dict):
                raise ValidationError(f"Parameters given with {source} must be a YAML mapping.")
            values.update(loaded)
    for assignment in params:
        name, value = parse_assignment(assignment)
        values[name] = parse_cli_value(specs.get(name), value, owner)
    for assignment in raw:
        name, value = parse_assignment(assignment)
        values[name] = value
    unknown = sorted(set(values) - set(specs))
    if unknown:
        error_console.print(
            f"[yellow]Warning:[/] {owner} declares no parameter(s) {', '.join(unknown)}; "
            "passing them anyway, as papermill does."
        )
    validate_parameters(specs.values(), {k: v for k, v in values.items() if k in specs}, owner)
    return values


@click.command("run")
@click.argument("notebook", type=click.Path(dir_okay=False))
@click.argument("output", required=False, type=click.Path(dir_okay=False))
@click.option(
    "-p",
    "--parameters",
    "params",
    multiple=True,
    metavar="NAME=VALUE",
    help="A parameter, read as the type the notebook declares.",
)
@click.option(
    "-r",
    "--parameters_raw",
    "raw",
    multiple=True,
    metavar="NAME=VALUE",
    help="A parameter kept as text.",
)
@click.option("-y", "--parameters_yaml", "yaml_text", default=None, help="Parameters as YAML.")
@click.option(
    "-f",
    "--parameters_file",
    "yaml_file",
    default=None,
    type=click.Path(exists=True, dir_okay=False),
    help="Parameters from a YAML file.",
)
@click.option("-k", "--kernel", "kernel_name", default=None, help="Kernel to run it with.")
@click.option(
    "--cwd",
    default=None,
    type=click.Path(file_okay=False, exists=True),
    help="Working directory (default: the notebook's folder).",
)
@click.option(
    "--execution-timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Fail when one cell runs longer than this many seconds.",
)
@click.option(
    "--timeout",
    "timeout_seconds",
    type=Duration(),
    default=None,
    metavar="DURATION",
    help="Stop the run once it has run this long (30m, 2h; at most 7d): it ends FAILED, timed out.",
)
@click.option(
    "--log-output/--no-log-output",
    default=True,
    show_default=True,
    help="Print the notebook's output as it runs.",
)
@click.option("--flow", "flow_name", default=None, help="Flow name to file the run under.")
@json_option
def run(
    notebook: str,
    output: str | None,
    params: tuple[str, ...],
    raw: tuple[str, ...],
    yaml_text: str | None,
    yaml_file: str | None,
    kernel_name: str | None,
    cwd: str | None,
    execution_timeout: float | None,
    timeout_seconds: float | None,
    log_output: bool,
    flow_name: str | None,
    as_json: bool,
) -> None:
    """Run NOTEBOOK now with papermill, tracked like any run; the executed notebook goes to
    OUTPUT (default: the run's folder under $NBORCH_HOME/runs)."""
    from nborch.workers.inline import run_notebook_here

    parameters = _parameters(notebook, params, raw, yaml_text, yaml_file)
    finished = run_notebook_here(
        client(),
        notebook,
        output,
        parameters=parameters,
        flow_name=flow_name,
        kernel_name=kernel_name,
        cwd=cwd,
        execution_timeout=execution_timeout,
        timeout=timeout_seconds,
        log_output=log_output,
        tee=(lambda line: error_console.print(line, markup=False)) if not as_json else None,
    )
    if as_json:
        print_json(finished)
    else:
        state = styled_state(finished.state, finished.state_message)
        console.print(f"Flow run '{finished.name}' ({finished.id}) {state}")
        console.print(f"Output notebook: {finished.output_path}", markup=False)
    raise SystemExit(0 if finished.state is StateType.COMPLETED else 1)

"""Options several commands share."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import click

from nborch.client import NborchClient, get_client
from nborch.models import RetryOn, retry_on_of
from nborch.parameters import parse_assignment
from nborch.timeutil import parse_duration

F = TypeVar("F", bound=Callable[..., Any])

json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")


def client() -> NborchClient:
    return get_client()


def parse_job_variables(assignments: Iterable[str]) -> dict[str, Any]:
    """``--job-var k=v``: the value is read as JSON where it parses, else kept as text."""
    variables: dict[str, Any] = {}
    for assignment in assignments:
        name, raw = parse_assignment(assignment)
        try:
            variables[name] = json.loads(raw)
        except ValueError:
            variables[name] = raw
    return variables


def job_var_option(f: F) -> F:
    return click.option(
        "--job-var",
        "job_vars",
        multiple=True,
        metavar="KEY=VALUE",
        help="A job variable for the pool's base job template (value parsed as JSON).",
    )(f)


def param_option(f: F) -> F:
    return click.option(
        "-p",
        "--param",
        "params",
        multiple=True,
        metavar="NAME=VALUE",
        help="A flow parameter, read as the type its notebook declares.",
    )(f)


class Duration(click.ParamType):
    """A duration: seconds (90), or numbers with units d, h, m, s (30m, 1h30m, 2d)."""

    name = "duration"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, (int, float)):
            return float(value)
        try:  # click names the option
            return parse_duration(str(value))
        except ValueError as err:
            self.fail(str(err), param, ctx)


def parse_retry_on(text: str | None) -> list[RetryOn] | None:
    """`--retry-on failed,timeout` as the endings to retry (None: not given)."""
    if text is None:
        return None
    try:
        return retry_on_of(text)
    except ValueError as err:
        raise click.BadParameter(str(err), param_hint="--retry-on") from err


def run_policy_options(*, for_one_run: bool) -> Callable[[F], F]:
    """--timeout, --retry-delay, --retry-backoff and --retry-on: a deployment's run policy
    (`nborch deploy`), or one run's own (`nborch deployment run`, with --retries too)."""
    whose = "this run's (default: the deployment's)" if for_one_run else "the deployment's"
    options = [
        click.option(
            "--timeout",
            "timeout_seconds",
            type=Duration(),
            default=None,
            metavar="DURATION",
            help=f"Stop a run that has run this long (30m, 2h; at most 7d): it ends FAILED, "
            f"timed out. Sets {whose} timeout" + ("." if for_one_run else " (default: none)."),
        ),
        click.option(
            "--retry-delay",
            "retry_delay_seconds",
            type=Duration(),
            default=None,
            metavar="DURATION",
            help=f"Wait this long before a retry (at most 1d). Sets {whose}"
            + ("." if for_one_run else " (default: 0, at once)."),
        ),
        click.option(
            "--retry-backoff",
            type=click.FloatRange(min=1, max=10),
            default=None,
            metavar="FACTOR",
            help="Multiply the retry delay by this for each retry before (1 to 10; up to 10% "
            f"jitter is added). Sets {whose}" + ("." if for_one_run else " (default: 1)."),
        ),
        click.option(
            "--retry-on",
            default=None,
            metavar="ENDINGS",
            help="Which endings are retried: failed, crashed, timeout, separated by commas. "
            f"Sets {whose}" + ("." if for_one_run else " (default: all three)."),
        ),
    ]
    if for_one_run:
        options.append(
            click.option(
                "--retries",
                type=click.IntRange(min=0),
                default=None,
                help="Run it again this many times after an ending its policy retries "
                "(default: the deployment's).",
            )
        )

    def decorate(f: F) -> F:
        for option in reversed(options):
            f = option(f)
        return f

    return decorate

"""Options several commands share."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import click

from nborch.client import NborchClient, get_client
from nborch.parameters import parse_assignment

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

"""`nborch secret ...`: values kept encrypted, referenced as ``{{ secret.NAME }}``."""

from __future__ import annotations

import sys

import click

from nborch.cli.options import client, json_option
from nborch.display import console, fmt_time, print_json, print_table
from nborch.errors import ValidationError
from nborch.orchestration.names import check_name
from nborch.secret_references import reference


def _read_value(name: str) -> str:
    """From stdin when it is not a terminal (one trailing newline dropped), else from a
    hidden prompt typed twice."""
    if sys.stdin.isatty():
        value = click.prompt(f"Value of secret '{name}'", hide_input=True, confirmation_prompt=True)
    else:
        value = sys.stdin.read()
        value = value[:-2] if value.endswith("\r\n") else value.removesuffix("\n")
    if not value:
        raise ValidationError(
            f"Secret '{name}' needs a value: an empty one is refused. Pipe it in "
            f"(printf %s VALUE | nborch secret set {name}) or type it at the prompt."
        )
    return value


@click.group("secret")
def secret() -> None:
    """Secrets: values stored encrypted, referenced as {{ secret.NAME }} in parameters and
    job variables, resolved only for the run that uses them and masked in what it shows."""


@secret.command("set")
@click.argument("name")
@json_option
def set_secret(name: str, as_json: bool) -> None:
    """Create or replace secret NAME; its value comes from stdin or a hidden prompt.

    \b
      printf %s "$API_TOKEN" | nborch secret set API_TOKEN
      nborch deployment run hello/demo -p token='{{ secret.API_TOKEN }}'
    """
    check_name("Secret", name)  # before asking for the value
    info = client().set_secret(name, _read_value(name))
    if as_json:
        print_json(info)
        return
    console.print(
        f"Set secret '{info.name}'. Reference it in parameters or job variables as "
        f"{reference(info.name)}, e.g. -p token='{reference(info.name)}'",
        markup=False,
    )


@secret.command("ls")
@json_option
def ls(as_json: bool) -> None:
    """List secrets: names and times, never values."""
    secrets = client().list_secrets()
    if as_json:
        print_json(secrets)
        return
    print_table(
        "Secrets",
        ["Name", "Reference", "Created", "Updated"],
        [(s.name, reference(s.name), fmt_time(s.created), fmt_time(s.updated)) for s in secrets],
    )


@secret.command("delete")
@click.argument("name")
def delete(name: str) -> None:
    """Delete secret NAME (runs that reference it then fail to start, naming it)."""
    client().delete_secret(name)
    console.print(f"Deleted secret '{name}'.")

"""`nborch secret set / ls / delete`: values in from stdin or a hidden prompt, never out."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pexpect
from click.testing import CliRunner, Result
from support.cli import Invoke, as_json, error_line, ok

from nborch.cli.main import cli
from nborch.client import LocalClient

VALUE = "hunter2-ABC-5f3c9e"


def set_from_stdin(name: str, stdin: str) -> Result:
    return CliRunner().invoke(cli, ["secret", "set", name], input=stdin, prog_name="nborch")


def test_set_from_stdin_then_ls_shows_names_never_values(
    nborch: Invoke, sqlite_client: LocalClient, pool: str, deployed: str
) -> None:
    result = ok(set_from_stdin("API_TOKEN", VALUE + "\n"))  # `echo` adds the newline
    assert "Set secret 'API_TOKEN'" in result.stdout and "{{ secret.API_TOKEN }}" in result.stdout
    assert VALUE not in result.output
    ok(set_from_stdin("DB.password", "multi\nline\n"))

    listed = ok(nborch("secret", "ls"))
    assert "API_TOKEN" in listed.stdout and "DB.password" in listed.stdout
    assert VALUE not in listed.stdout
    rows = as_json(nborch("secret", "ls", "--json"))
    assert [row["name"] for row in rows] == ["API_TOKEN", "DB.password"]
    assert all(set(row) == {"name", "created", "updated"} for row in rows)

    # The value reaches the run only when a worker runs it: here it was read exactly.
    ok(nborch("deployment", "run", deployed, "-p", "name={{ secret.API_TOKEN }}"))
    [run] = sqlite_client.list_runs()
    assert run.parameters == {"name": "{{ secret.API_TOKEN }}"}
    worker = sqlite_client.register_worker("w", pool)
    sqlite_client.claim_runs(pool, worker.id, 1)
    assert sqlite_client.resolve_run_secrets(run.id) == {"API_TOKEN": VALUE}
    inspected = ok(nborch("flow-run", "inspect", str(run.id), "--json")).stdout
    assert "{{ secret.API_TOKEN }}" in inspected and VALUE not in inspected


def test_mistakes_are_one_line_each(nborch: Invoke, deployed: str) -> None:
    error_line(set_from_stdin("EMPTY", ""), "Secret 'EMPTY' needs a value", "printf %s VALUE")
    error_line(set_from_stdin("EMPTY", "\n"), "Secret 'EMPTY' needs a value")
    error_line(set_from_stdin("a/b", VALUE), "Secret name 'a/b' is not allowed")
    error_line(nborch("secret", "delete", "NOPE"), "Secret 'NOPE' not found", "nborch secret ls")
    error_line(
        nborch("deployment", "run", deployed, "-p", "name={{ secret.NOPE }}"),
        "Secret 'NOPE' not found",
        "nborch secret set NOPE",
    )
    error_line(
        nborch("deployment", "run", deployed, "-p", "times={{ secret.NOPE }}"),
        "Parameter 'times' of deployment 'hello/demo' is int",
        "str or any parameters only",
    )
    assert as_json(nborch("secret", "ls", "--json")) == []
    assert as_json(nborch("flow-run", "ls", "--json")) == []


def test_delete(nborch: Invoke) -> None:
    ok(set_from_stdin("API_TOKEN", VALUE))
    assert "Deleted secret 'API_TOKEN'" in ok(nborch("secret", "delete", "API_TOKEN")).stdout
    assert as_json(nborch("secret", "ls", "--json")) == []


def test_at_a_terminal_the_value_is_asked_twice_and_not_echoed(
    nborch: Invoke, nborch_home: Path, sqlite_client: LocalClient
) -> None:
    child = pexpect.spawn(
        sys.executable,
        ["-m", "nborch.cli.main", "secret", "set", "API_TOKEN"],
        env={**os.environ, "NBORCH_HOME": str(nborch_home)},
        encoding="utf-8",
        timeout=60,
    )
    child.expect("Value of secret 'API_TOKEN': ")
    child.sendline(VALUE)
    child.expect("Repeat for confirmation: ")
    child.sendline(VALUE + "x")
    child.expect("Error: The two entered values do not match.")
    child.expect("Value of secret 'API_TOKEN': ")
    child.sendline(VALUE)
    child.expect("Repeat for confirmation: ")
    child.sendline(VALUE)
    child.expect("Set secret 'API_TOKEN'")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert VALUE not in (child.before or "")
    assert [s.name for s in sqlite_client.list_secrets()] == ["API_TOKEN"]

"""The `nborch` CLI, driven in-process: one clear line for each mistake, and the successes."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from support.cli import Invoke, as_json, error_line, ok

from nborch.cli.main import cli
from nborch.settings import reset_settings

REPO = Path(__file__).resolve().parents[2]
HELLO = str(REPO / "notebooks" / "hello.ipynb")


def run_count(nborch: Invoke) -> int:
    return len(as_json(nborch("flow-run", "ls", "--json")))


# --- work pools -----------------------------------------------------------------------------


def test_unknown_pool(nborch: Invoke) -> None:
    error_line(
        nborch("work-pool", "inspect", "nope"),
        "Work pool 'nope' not found",
        "nborch work-pool create nope",
    )


def test_duplicate_pool(nborch: Invoke, pool: str) -> None:
    error_line(
        nborch("work-pool", "create", pool),
        f"Work pool '{pool}' already exists",
        f"nborch work-pool inspect {pool}",
    )


def test_bad_pool_type(nborch: Invoke) -> None:
    error_line(
        nborch("work-pool", "create", "Q", "--type", "foo"),
        "Unknown work pool type 'foo'",
        "process",
    )
    assert as_json(nborch("work-pool", "ls", "--json")) == []


def test_bad_pool_name(nborch: Invoke) -> None:
    error_line(
        nborch("work-pool", "create", "a/b"),
        "Work pool name 'a/b' is not allowed",
        "letters, digits",
    )
    assert as_json(nborch("work-pool", "ls", "--json")) == []


def test_base_job_template_file_that_is_not_json(nborch: Invoke, tmp_path: Path) -> None:
    template = tmp_path / "template.json"
    template.write_text("{not json")
    error_line(
        nborch("work-pool", "create", "Q", "--base-job-template", str(template)),
        f"Base job template '{template}' is not valid JSON",
    )


def test_create_and_list_pools(nborch: Invoke) -> None:
    created = ok(nborch("work-pool", "create", "P", "--description", "for tests"))
    assert "Created work pool 'P' of type process." in created.stdout
    assert "nborch worker start --pool P" in created.stdout
    pools = as_json(nborch("work-pool", "ls", "--json"))
    assert [(p["name"], p["type"], p["status"]) for p in pools] == [("P", "process", "NOT_READY")]
    assert pools[0]["description"] == "for tests"
    assert set(pools[0]["base_job_template"]) == {"job_configuration", "variables"}
    table = ok(nborch("work-pool", "ls")).stdout
    assert "P" in table and "NOT_READY" in table


def test_get_default_base_job_template(nborch: Invoke) -> None:
    template = as_json(nborch("work-pool", "get-default-base-job-template", "--type", "process"))
    assert set(template) == {"job_configuration", "variables"}
    assert "execution_timeout" in template["variables"]["properties"]
    error_line(
        nborch("work-pool", "get-default-base-job-template", "--type", "foo"),
        "Unknown work pool type 'foo'",
    )


def test_concurrency_limit_set_and_cleared(nborch: Invoke, pool: str) -> None:
    out = ok(nborch("work-pool", "set-concurrency-limit", pool, "3")).stdout
    assert "at most 3 run(s)" in out
    assert as_json(nborch("work-pool", "inspect", pool, "--json"))["concurrency_limit"] == 3
    ok(nborch("work-pool", "clear-concurrency-limit", pool))
    assert as_json(nborch("work-pool", "inspect", pool, "--json"))["concurrency_limit"] is None


def test_pause_and_resume_pool(nborch: Invoke, pool: str) -> None:
    assert f"nborch work-pool resume {pool}" in ok(nborch("work-pool", "pause", pool)).stdout
    assert as_json(nborch("work-pool", "inspect", pool, "--json"))["status"] == "PAUSED"
    ok(nborch("work-pool", "resume", pool))
    assert as_json(nborch("work-pool", "inspect", pool, "--json"))["status"] == "NOT_READY"


def test_pause_unknown_pool(nborch: Invoke) -> None:
    error_line(nborch("work-pool", "pause", "ghost"), "Work pool 'ghost' not found")


# --- work queues ----------------------------------------------------------------------------


def test_default_queue_cannot_be_deleted(nborch: Invoke, pool: str) -> None:
    error_line(
        nborch("work-queue", "delete", "default", "--pool", pool),
        f"The default queue of pool '{pool}' cannot be deleted",
        f"nborch work-queue pause default --pool {pool}",
    )
    queues = as_json(nborch("work-queue", "ls", "--pool", pool, "--json"))
    assert [q["name"] for q in queues] == ["default"]


def test_unknown_queue(nborch: Invoke, pool: str) -> None:
    error_line(
        nborch("work-queue", "pause", "nightly", "--pool", pool),
        f"Work queue 'nightly' not found in pool '{pool}'",
        f"nborch work-queue create nightly --pool {pool}",
    )


# --- deploy ---------------------------------------------------------------------------------


def test_deploy_creates_then_updates(nborch: Invoke, pool: str) -> None:
    first = ok(nborch("deploy", HELLO, "--name", "demo", "--pool", pool))
    assert "Successfully created/updated all deployments!" in first.stdout
    assert "nborch deployment run 'hello/demo'" in first.stdout
    status = first.stdout.replace("created/updated", "")
    assert "created" in status and "updated" not in status
    second = ok(nborch("deploy", HELLO, "--name", "demo", "--pool", pool, "-p", "times=5"))
    status = second.stdout.replace("created/updated", "")
    assert "updated" in status and "created" not in status
    deployments = as_json(nborch("deployment", "ls", "--json"))
    assert len(deployments) == 1
    assert deployments[0]["parameters"] == {"times": 5}


def test_deployment_inspect_shows_the_notebook_parameters(nborch: Invoke, deployed: str) -> None:
    deployment = as_json(nborch("deployment", "inspect", deployed, "--json"))
    assert deployment["flow_name"] == "hello"
    assert deployment["name"] == "demo"
    assert deployment["pool_name"] == "P"
    assert deployment["queue_name"] == "default"
    assert deployment["parameter_specs"] == [
        {"name": "name", "type": "str", "default": "world", "help": "who to greet"},
        {"name": "times", "type": "int", "default": 2, "help": "how many greetings"},
        {"name": "excited", "type": "bool", "default": False, "help": ""},
    ]


def test_deploy_missing_notebook(nborch: Invoke, pool: str, tmp_path: Path) -> None:
    missing = tmp_path / "missing.ipynb"
    error_line(
        nborch("deploy", str(missing), "--name", "demo", "--pool", pool),
        f"Notebook '{missing}' not found",
        "Check the path",
    )
    assert as_json(nborch("deployment", "ls", "--json")) == []


def test_deploy_notebook_that_is_not_json(nborch: Invoke, pool: str, tmp_path: Path) -> None:
    broken = tmp_path / "broken.ipynb"
    broken.write_text('{"cells": ')
    error_line(
        nborch("deploy", str(broken), "--name", "demo", "--pool", pool),
        f"Notebook '{broken}'",
    )
    assert as_json(nborch("deployment", "ls", "--json")) == []


def test_deploy_notebook_that_is_not_json_says_so(
    nborch: Invoke, pool: str, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.ipynb"
    broken.write_text('{"cells": ')
    error_line(
        nborch("deploy", str(broken), "--name", "demo", "--pool", pool),
        "not valid JSON",
        "save it again",
    )


def test_deploy_to_unknown_pool(nborch: Invoke) -> None:
    error_line(
        nborch("deploy", HELLO, "--name", "demo", "--pool", "ghost"),
        "Work pool 'ghost' not found",
        "nborch work-pool create ghost",
    )
    assert as_json(nborch("deployment", "ls", "--json")) == []


def test_deploy_with_unknown_job_variable(nborch: Invoke, pool: str) -> None:
    error_line(
        nborch("deploy", HELLO, "--name", "demo", "--pool", pool, "--job-var", "image=python"),
        "Job variable 'image'",
        "Known variables:",
        "execution_timeout",
    )
    assert as_json(nborch("deployment", "ls", "--json")) == []


def test_deploy_with_bad_job_variable_value(nborch: Invoke, pool: str) -> None:
    error_line(
        nborch(
            "deploy", HELLO, "--name", "demo", "--pool", pool, "--job-var", "execution_timeout=-1"
        ),
        "Job variable 'execution_timeout' = -1",
        "Allowed: number or null",
    )


def test_deploy_with_unknown_and_wrong_typed_parameters(nborch: Invoke, pool: str) -> None:
    error_line(
        nborch("deploy", HELLO, "--name", "demo", "--pool", pool, "-p", "colour=red"),
        "Flow 'hello' has no parameter 'colour'",
        "times (int)",
    )
    error_line(
        nborch("deploy", HELLO, "--name", "demo", "--pool", pool, "-p", "excited=maybe"),
        "Parameter 'excited'",
        "must be bool",
        "-p excited=true",
    )
    assert as_json(nborch("deployment", "ls", "--json")) == []


# --- deployment run -------------------------------------------------------------------------


def test_deployment_run_creates_a_scheduled_run(nborch: Invoke, deployed: str) -> None:
    run = as_json(
        nborch("deployment", "run", deployed, "-p", "times=3", "-p", "name=007", "--json")
    )
    assert run["state"] == "SCHEDULED"
    assert run["parameters"] == {"times": 3, "name": "007"}
    runs = as_json(nborch("flow-run", "ls", "--json"))
    assert [r["id"] for r in runs] == [run["id"]]


def test_deployment_run_with_unknown_parameter(nborch: Invoke, deployed: str) -> None:
    error_line(
        nborch("deployment", "run", deployed, "-p", "nmae=Ada"),
        f"Deployment '{deployed}' has no parameter 'nmae'",
        "name (str), times (int), excited (bool)",
    )
    assert run_count(nborch) == 0


def test_deployment_run_with_wrong_typed_parameter(nborch: Invoke, deployed: str) -> None:
    error_line(
        nborch("deployment", "run", deployed, "-p", "times=abc"),
        f"Parameter 'times' of deployment '{deployed}' must be int, got 'abc'",
        "-p times=3",
    )
    assert run_count(nborch) == 0


def test_deployment_run_with_unknown_job_variable(nborch: Invoke, deployed: str) -> None:
    error_line(
        nborch("deployment", "run", deployed, "--job-var", "memory=4G"),
        "Job variable 'memory'",
    )
    assert run_count(nborch) == 0


def test_deployment_run_of_unknown_deployment(nborch: Invoke, deployed: str) -> None:
    error_line(
        nborch("deployment", "run", "hello/nope"),
        "Deployment 'hello/nope' not found",
        "nborch deployment ls",
    )
    assert run_count(nborch) == 0


def test_deployment_run_of_a_name_without_a_slash(nborch: Invoke, deployed: str) -> None:
    error_line(
        nborch("deployment", "run", "demo"),
        "Deployment name 'demo' must be 'FLOW/DEPLOYMENT'",
        "nborch deployment ls",
    )
    assert run_count(nborch) == 0


# --- flow runs ------------------------------------------------------------------------------


def test_flow_run_inspect_of_not_a_uuid(nborch: Invoke) -> None:
    error_line(
        nborch("flow-run", "inspect", "not-a-uuid"),
        "Flow run 'not-a-uuid' not found",
        "nborch flow-run ls",
    )


def test_flow_run_inspect_of_an_unknown_uuid(nborch: Invoke) -> None:
    unknown = "00000000-0000-4000-8000-000000000000"
    error_line(nborch("flow-run", "inspect", unknown), f"Flow run '{unknown}' not found")


def test_cancel_of_a_finished_run_is_refused(nborch: Invoke, deployed: str) -> None:
    run = as_json(nborch("deployment", "run", deployed, "--json"))
    cancelled = ok(nborch("flow-run", "cancel", run["id"]))
    assert "CANCELLED" in cancelled.stdout
    assert as_json(nborch("flow-run", "inspect", run["id"], "--json"))["state"] == "CANCELLED"
    error_line(
        nborch("flow-run", "cancel", run["id"]),
        f"Flow run '{run['id']}' is already CANCELLED",
        "nothing to cancel",
    )
    assert as_json(nborch("flow-run", "inspect", run["id"], "--json"))["state"] == "CANCELLED"


# --- error messages are printed as text, not as rich markup ---------------------------------


def test_error_shows_a_bracketed_value_as_typed(nborch: Invoke, deployed: str) -> None:
    error_line(
        nborch("deployment", "run", deployed, "-p", "times=[abc]"),
        "got '[abc]'",
    )


def test_error_with_a_closing_tag_in_a_name_is_one_line(nborch: Invoke) -> None:
    error_line(nborch("work-pool", "inspect", "nope[/b]"), "Work pool 'nope[/b]' not found")


# --- --help everywhere ----------------------------------------------------------------------


def _command_paths(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    paths = [prefix]
    context = click.Context(group)
    for name in group.list_commands(context):  # the top group loads its commands on demand
        command = group.get_command(context, name)
        assert command is not None
        if isinstance(command, click.Group):
            paths.extend(_command_paths(command, (*prefix, name)))
        else:
            paths.append((*prefix, name))
    return paths


def test_help_works_for_every_command(nborch: Invoke) -> None:
    paths = _command_paths(cli)
    expected = {
        ("work-pool", "create"),
        ("work-queue", "delete"),
        ("worker", "start"),
        ("deploy",),
        ("deployment", "run"),
        ("flow-run", "cancel"),
        ("run",),
    }
    assert expected <= set(paths)
    for path in paths:
        result = nborch(*path, "--help")
        assert result.exit_code == 0, (path, result.output)
        assert "Usage: nborch" in result.stdout, path
        assert " ".join(path) in result.stdout.splitlines()[0], path
        short = nborch(*path, "-h")
        assert short.exit_code == 0 and short.stdout == result.stdout, path


def test_version(nborch: Invoke) -> None:
    result = ok(nborch("--version"))
    assert "version" in result.stdout


# --- settings -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("variable", "value", "reason"),
    [
        ("NBORCH_SCHEDULER_BATCH", "abc", "valid integer"),
        ("NBORCH_POLL_INTERVAL", "0", "greater than 0"),
        ("NBORCH_SCHEDULER_MAX_RUNS", "-1", "greater than or equal to 1"),
    ],
)
def test_a_bad_setting_names_its_variable_and_the_fix(
    nborch: Invoke, monkeypatch: pytest.MonkeyPatch, variable: str, value: str, reason: str
) -> None:
    monkeypatch.setenv(variable, value)
    reset_settings()
    try:
        error_line(nborch("work-pool", "ls"), f"{variable}='{value}'", reason, "or unset it")
    finally:
        monkeypatch.delenv(variable)
        reset_settings()


def test_times_out_of_range_are_one_line(nborch: Invoke, deployed: str) -> None:
    """A run ten thousand years ahead, an anchor or a usage window near year 1 or 9999: one
    line naming the bound, never an OverflowError, and no run made."""
    runs = run_count(nborch)
    too_late = nborch("deployment", "run", deployed, "--start-in", "1e15")
    assert too_late.exit_code == 2 and "Traceback" not in too_late.output
    assert "Invalid value for '--start-in'" in too_late.stderr
    error_line(
        nborch("deployment", "schedule", "create", deployed, "--interval", "60",
               "--anchor-date", "9999-12-31T23:59:59"),
        "years 1970 to 2200",
    )  # fmt: skip
    error_line(nborch("work-pool", "usage", "--since", "0001-01-01"), "years 1970 to 2200")
    assert run_count(nborch) == runs

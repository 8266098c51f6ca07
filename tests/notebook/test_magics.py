"""The magics in a real IPython shell (in-process): flows from cells, the CLI's commands,
background workers, errors as one line, `{variables}`, help text."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

from nborch.cli.main import cli
from nborch.client import LocalClient
from nborch.models import StateType

pytestmark = pytest.mark.slow


@pytest.fixture
def shell(
    sqlite_client: LocalClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[InteractiveShell]:
    monkeypatch.chdir(tmp_path)
    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "nborch")
    yield ip
    ip.run_line_magic("worker", "stop")
    InteractiveShell.clear_instance()


def run(ip: InteractiveShell, source: str) -> str:
    with capture_output() as captured:
        result = ip.run_cell(source)
    assert result.error_in_exec is None, captured.stdout + captured.stderr
    return captured.stdout + captured.stderr


def test_flow_cell_declares_writes_and_runs_a_tracked_flow(
    shell: InteractiveShell, sqlite_client: LocalClient, tmp_path: Path
) -> None:
    out = run(shell, '%%flow_setup helpers\ndef shout(text):\n    return text.upper() + "!"')
    assert shell.user_ns["shout"]("a") == "A!"  # the setup cell ran here too
    out = run(
        shell,
        '%%flow greet --include helpers -p times=2\nname: str = "world"\n'
        "times: int = 1\n\nfor _ in range(times):\n    print(shout(name))",
    )
    assert "Flow 'greet' (name: str = 'world', times: int = 1)" in out
    assert out.count("WORLD!") >= 2 and "COMPLETED" in out
    assert (tmp_path / "greet.flow.ipynb").exists()
    [adhoc] = sqlite_client.list_runs()
    assert (adhoc.flow_name, adhoc.state, adhoc.parameters) == (
        "greet",
        StateType.COMPLETED,
        {"times": 2},
    )


def test_flow_gets_nothing_from_the_kernel_unless_included(
    shell: InteractiveShell, sqlite_client: LocalClient
) -> None:
    run(shell, "secret_helper = lambda: 42")
    out = run(shell, "%%flow leaky\nprint(secret_helper())")
    assert "FAILED" in out and "NameError" in out
    assert sqlite_client.list_runs()[0].state is StateType.FAILED


def test_deploy_worker_and_run_deployment_with_variables(
    shell: InteractiveShell, sqlite_client: LocalClient
) -> None:
    shell.user_ns["pool"] = "magic-pool"
    run(shell, "%work_pool create {pool} --type process")
    run(shell, '%%flow hello --no-run\nname = "world"\n\nprint(f"hello {name}")')
    out = run(shell, '%deploy hello --name daily --pool {pool} --cron "0 1 * * *" --tag t')
    assert "Successfully created/updated all deployments!" in out
    assert "nborch deployment run 'hello/daily'" in out
    deployment = sqlite_client.get_deployment("hello/daily")
    assert deployment.schedules[0].cron == "0 1 * * *" and deployment.tags == ["t"]
    run(shell, "%worker start --pool {pool} --poll-interval 0.2")
    out = run(shell, "%run_deployment hello/daily -p name=magic --wait")
    assert "hello magic" in out and "finished in state COMPLETED" in out
    out = run(shell, "%flow_runs --state COMPLETED")
    assert "hello/daily" in out
    out = run(shell, "%worker stop")
    assert "Stopped worker" in out


def test_serve_runs_from_the_background_and_stops(
    shell: InteractiveShell, sqlite_client: LocalClient
) -> None:
    run(shell, '%%flow ping --no-run\nmessage = "pong"\n\nprint(message)')
    out = run(shell, "%serve ping --name bg -p message=served")
    assert "is being served" in out and "nborch deployment run 'ping/bg'" in out
    assert sqlite_client.get_pool("serve-ping-bg").status.value == "READY"
    from nborch.run_handle import run_deployment

    handle = run_deployment("ping/bg", timeout=60, client=sqlite_client)
    assert handle.run.state is StateType.COMPLETED and "served" in handle.logs()
    assert "running" in run(shell, "%serve --list")
    out = run(shell, "%serve --stop ping/bg")
    assert "Stopped served deployment 'serve ping/bg'" in out


def test_errors_are_one_line(shell: InteractiveShell) -> None:
    for source, expected in [
        ("%work_pool inspect nope", "Work pool 'nope' not found"),
        ("%deploy ghost --name d --pool p", "No flow 'ghost' in this kernel"),
        ("%worker start --pool nope", "Work pool 'nope' not found"),
        ("%%flow f --include missing\nx = 1", "No %%flow_setup cell named missing"),
        ("%run_deployment nope/nothing", "Deployment 'nope/nothing' not found"),
        ("%alert create a --channel webhook --to nowhere", "Alert rule 'a' has 'nowhere'"),
    ]:
        out = run(shell, source)
        lines = [line for line in out.splitlines() if line.strip()]
        assert len(lines) == 1 and expected in lines[0], (source, out)
        assert "Traceback" not in out


def test_help_text_comes_from_the_cli(shell: InteractiveShell) -> None:
    magics = shell.magics_manager.magics
    assert "--pool" in magics["line"]["deploy"].__doc__
    assert "Deploy NOTEBOOK to a work pool" in magics["line"]["deploy"].__doc__
    assert "--include" in magics["cell"]["flow"].__doc__
    assert "parameters are the plain assignments" in magics["cell"]["flow"].__doc__


def test_inside_a_run_magics_do_not_redeclare_or_redeploy(
    shell: InteractiveShell, sqlite_client: LocalClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NBORCH_FLOW_RUN_ID", "run-under-test")
    shell.user_ns["name"] = "injected"  # as papermill's injected-parameters cell would
    out = run(shell, '%%flow again\nname = "default"\ncount = 2\n\nprint(name * count)')
    assert "inside flow run run-under-test" in out and "injectedinjected" in out
    out = run(shell, "%deploy again --name d --pool p")
    assert "not deploying again" in out
    assert sqlite_client.list_runs() == [] and sqlite_client.list_deployments() == []
    assert not os.path.exists("again.flow.ipynb")


def test_help_in_magics_leaves_the_short_help_option_of_the_cli(shell: InteractiveShell) -> None:
    # click keeps the help option it first makes for a command: the magics' help text,
    # made first, must not leave `nborch deploy` with `--help` alone.
    assert "--pool" in shell.magics_manager.magics["line"]["deploy"].__doc__
    for args in (["deploy", "-h"], ["deployment", "run", "-h"], ["worker", "start", "-h"]):
        result = CliRunner().invoke(cli, args, prog_name="nborch")
        assert result.exit_code == 0, (args, result.output)
        assert f"Usage: nborch {' '.join(args[:-1])}" in result.output


def test_alert_rules_from_a_notebook(shell: InteractiveShell, sqlite_client: LocalClient) -> None:
    out = run(
        shell, "%alert create ops --channel slack --to https://hooks.example.com/x --on FAILED"
    )
    assert "Created alert rule 'ops': FAILED → slack" in out
    assert "ops" in run(shell, "%alert ls")
    assert [r.name for r in sqlite_client.list_alert_rules()] == ["ops"]
    assert "Send a test message" in shell.magics_manager.magics["line"]["alert"].__doc__

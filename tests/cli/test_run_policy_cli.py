"""The run policy from the command line: durations as people write them, the policy kept
and shown, a run's own policy, and one clear line for each mistake."""

from __future__ import annotations

from click.testing import Result
from support.cli import Invoke, as_json, error_line, ok
from support.deployments import HELLO


def usage_error(result: Result, *fragments: str) -> None:
    """Refused by click, as it refuses a bad option value: exit code 2, its Error line."""
    assert result.exit_code == 2, result.output
    error = result.stderr.splitlines()[-1]
    assert error.startswith("Error: Invalid value for"), error
    for fragment in fragments:
        assert fragment in error, error


def test_deploy_keeps_the_policy_and_a_run_overrides_it(nborch: Invoke, pool: str) -> None:
    policy = ["--timeout", "1h30m", "--retry-delay", "30s", "--retry-backoff", "2"]
    deployed = as_json(
        nborch(
            "deploy", str(HELLO), "--name", "demo", "--pool", pool, "--retries", "2",
            *policy, "--retry-on", "failed,timeout", "--json",
        )
    )  # fmt: skip
    assert (deployed["timeout_seconds"], deployed["retry_delay_seconds"]) == (5400, 30)
    assert (deployed["retry_backoff"], deployed["retry_on"]) == (2, ["failed", "timeout"])
    shown = ok(nborch("deployment", "inspect", "hello/demo")).output
    assert "timeout 1 h 30 min; retries 30 s, x2 each; on failed, timeout" in shown
    run = as_json(
        nborch("deployment", "run", "hello/demo", "--timeout", "90", "--retries", "0", "--json")
    )
    assert (run["timeout_seconds"], run["retries"], run["retry_delay_seconds"]) == (90, 0, 30)


def test_a_bad_policy_is_one_line_and_nothing_is_stored(nborch: Invoke, pool: str) -> None:
    deploy = ["deploy", str(HELLO), "--name", "demo", "--pool", pool]
    usage_error(nborch(*deploy, "--timeout", "soon"), "'--timeout': 'soon' is not a duration")
    usage_error(nborch(*deploy, "--retry-on", "never"), "'never' names no ending", "timeout")
    usage_error(nborch(*deploy, "--retry-backoff", "0.5"), "'--retry-backoff': 0.5 is not")
    error_line(nborch(*deploy, "--timeout", "8d"), "Timeout of deployment 'hello/demo'", "7 d")
    assert as_json(nborch("deployment", "ls", "--json")) == []
    ok(nborch(*deploy))
    error_line(
        nborch("deployment", "run", "hello/demo", "--retry-delay", "2d"),
        "Retry delay of a run of deployment 'hello/demo' is 172800 s",
        "--retry-delay",
    )
    assert as_json(nborch("flow-run", "ls", "--json")) == []


def test_a_run_shows_its_policy(nborch: Invoke, deployed: str) -> None:
    run = as_json(nborch("deployment", "run", deployed, "--timeout", "2h", "--json"))
    shown = ok(nborch("flow-run", "inspect", run["id"])).output
    assert "timeout 2 h; retries at once; on failed, crashed, timeout" in shown

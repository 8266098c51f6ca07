"""Schedules from the command line: deploy --cron/--interval, `deployment schedule ...`,
and the errors for bad crons, time zones and parameters."""

from __future__ import annotations

from support.cli import Invoke, as_json, error_line, ok
from support.deployments import HELLO

from nborch.client import LocalClient
from nborch.orchestration import scheduler
from nborch.store.tables import ScheduleRow


def test_deploy_with_schedules_and_redeploy_keeps_or_replaces_them(
    nborch: Invoke, pool: str
) -> None:
    ok(
        nborch(
            "deploy",
            str(HELLO),
            "-n",
            "d",
            "--pool",
            pool,
            "--cron",
            "0 1 * * *",
            "--timezone",
            "Europe/Paris",
            "--interval",
            "3600",
            "--catch-up",
            "all",
        )
    )
    found = as_json(nborch("deployment", "inspect", "hello/d", "--json"))
    assert found["catch_up"] == "all"
    kinds = {(s["cron"], s["interval_seconds"], s["timezone"]) for s in found["schedules"]}
    assert kinds == {("0 1 * * *", None, "Europe/Paris"), (None, 3600.0, "Europe/Paris")}
    ok(nborch("deploy", str(HELLO), "-n", "d", "--pool", pool))  # no schedule options: kept
    assert len(as_json(nborch("deployment", "schedule", "ls", "hello/d", "--json"))) == 2
    ok(nborch("deploy", str(HELLO), "-n", "d", "--pool", pool, "--clear-schedules"))
    assert as_json(nborch("deployment", "schedule", "ls", "hello/d", "--json")) == []


def test_schedule_commands(nborch: Invoke, deployed: str, sqlite_client: LocalClient) -> None:
    made = as_json(
        nborch(
            "deployment",
            "schedule",
            "create",
            deployed,
            "--cron",
            "*/5 * * * *",
            "-p",
            "times=9",
            "--json",
        )
    )
    assert made["parameters"] == {"times": 9} and made["active"] is True
    scheduler.tick(sqlite_client.store)
    listed = as_json(nborch("deployment", "schedule", "ls", deployed, "--json"))
    assert listed[0]["next_run_time"] is not None
    table = ok(nborch("deployment", "schedule", "ls", deployed)).stdout
    assert made["id"] in table and "cron '*/5 * * * *' (UTC)" in table
    ok(nborch("deployment", "schedule", "pause", deployed, made["id"]))
    listed = as_json(nborch("deployment", "schedule", "ls", deployed, "--json"))
    assert listed[0]["active"] is False and listed[0]["next_run_time"] is None
    ok(nborch("deployment", "schedule", "resume", deployed, made["id"]))
    ok(nborch("deployment", "schedule", "delete", deployed, made["id"]))
    assert as_json(nborch("deployment", "schedule", "ls", deployed, "--json")) == []
    error_line(
        nborch("deployment", "schedule", "delete", deployed, made["id"]),
        f"has no schedule '{made['id']}'",
        "nborch deployment schedule ls",
    )


def test_bad_schedules_are_refused_with_the_reason(
    nborch: Invoke, pool: str, deployed: str
) -> None:
    error_line(
        nborch("deploy", str(HELLO), "-n", "x", "--pool", pool, "--cron", "61 * * * *"),
        "'61 * * * *': minute must be 0-59",
    )
    error_line(
        nborch(
            "deployment",
            "schedule",
            "create",
            deployed,
            "--cron",
            "0 1 * * *",
            "--timezone",
            "Mars/Base",
        ),
        "Unknown time zone 'Mars/Base'",
    )
    error_line(
        nborch(
            "deployment", "schedule", "create", deployed, "--cron", "0 1 * * *", "-p", "times=often"
        ),
        "'times'",
        "must be int",
    )
    assert as_json(nborch("deployment", "ls", "--json"))[0]["schedules"] == []
    result = nborch("deployment", "schedule", "create", deployed)
    assert result.exit_code == 2 and "exactly one --cron or one --interval" in result.output


def test_schedules_out_of_range_are_refused_and_one_in_error_is_shown(
    nborch: Invoke, deployed: str, sqlite_client: LocalClient
) -> None:
    create = ("deployment", "schedule", "create", deployed)
    error_line(nborch(*create, "--interval", "1e12"), "too long", "ten years")
    error_line(nborch(*create, "--cron", "0 0 30 2 *"), "never fires")
    assert as_json(nborch("deployment", "schedule", "ls", deployed, "--json")) == []
    made = as_json(nborch(*create, "--interval", "3600", "--json"))
    with sqlite_client.store.write() as session:  # an old store's schedule, past the checks
        row = session.get(ScheduleRow, made["id"])
        assert row is not None
        row.interval_seconds = 1e12
    scheduler.tick(sqlite_client.store)
    listed = ok(nborch("deployment", "schedule", "ls", deployed)).stdout
    assert "in error" in " ".join(listed.split()) and "OverflowError" in listed

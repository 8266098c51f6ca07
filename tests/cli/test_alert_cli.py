"""`nborch alert create / ls / test / history / delete` against a loopback receiver: a bad
rule is one line naming it and the fix, nothing stored; a URL's secret stays a reference in
everything the CLI prints."""

from __future__ import annotations

from support.cli import Invoke, as_json, error_line, ok
from support.receivers import webhook_receiver

from nborch.client import LocalClient


def test_create_test_ls_history_delete(
    nborch: Invoke, sqlite_client: LocalClient, deployed: str
) -> None:
    sqlite_client.set_secret("PATH", "p-4711")
    with webhook_receiver() as receiver:
        url = receiver.url + "/{{ secret.PATH }}"
        created = ok(
            nborch("alert", "create", "ops", "--channel", "slack", "--to", url,
                   "--deployment", deployed, "--on", "failed", "--on", "LATE", "--test")
        )  # fmt: skip
        assert "Created alert rule 'ops': FAILED, LATE → slack" in created.stdout
        assert [r.path for r in receiver.received] == ["/p-4711"]  # the --test message
        ok(nborch("alert", "test", "ops"))
        assert len(receiver.received) == 2
    [rule] = as_json(nborch("alert", "ls", "--json"))
    assert rule["target"] == url and rule["deployment"] == deployed
    history = as_json(nborch("alert", "history", "--rule", "ops", "--json"))
    assert [(d["status"], d["ok"]) for d in history] == [("test", True)]  # create's is not kept
    assert "p-4711" not in nborch("alert", "ls").output + nborch("alert", "history").output
    ok(nborch("alert", "delete", "ops"))
    assert as_json(nborch("alert", "ls", "--json")) == []


def test_bad_rules_are_one_line_and_store_nothing(nborch: Invoke, deployed: str) -> None:
    error_line(
        nborch("alert", "create", "x", "--channel", "webhook", "--to", "hooks.example.com"),
        "Alert rule 'x' has 'hooks.example.com', which is not a webhook URL",
    )
    error_line(
        nborch("alert", "create", "x", "--channel", "webhook", "--to", "http://h/x",
               "--deployment", "hello/missing"),
        "Deployment 'hello/missing' not found",
    )  # fmt: skip
    unknown = nborch("alert", "create", "x", "--channel", "pager", "--to", "http://h/x")
    assert unknown.exit_code == 2 and "'pager' is not one of" in unknown.output
    with webhook_receiver() as receiver:
        dead = receiver.url
    error_line(
        nborch("alert", "create", "x", "--channel", "webhook", "--to", dead, "--test"),
        "Alert rule 'x' was not created: its test message could not be delivered",
    )
    assert as_json(nborch("alert", "ls", "--json")) == []

"""Alerts on a real store (SQLite and PostgreSQL) and a real HTTP receiver on loopback:
the message is queued by the transaction that stores the state change, sent once, retried
with backoff, rate-limited into a digest, and every attempt is in the history. Bad rules
are refused with one line that names the rule and the fix, and nothing is stored."""

from __future__ import annotations

import hashlib
import hmac
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update
from support.deployments import deploy_hello, deploy_notebook
from support.notebooks import make_notebook
from support.receivers import webhook_receiver

from nborch.alert_models import AlertChannel, AlertRuleSpec
from nborch.client import LocalClient
from nborch.errors import NborchError, NotFoundError, ValidationError
from nborch.models import CellFailure, StateType
from nborch.orchestration import alert_outbox
from nborch.orchestration.alert_events import queue_alerts
from nborch.orchestration.alert_outbox import send_due
from nborch.orchestration.scheduler import mark_late_runs, tick_if_leader
from nborch.settings import reset_settings
from nborch.store.tables import AlertMessageRow, AlertRuleRow, FlowRunRow
from nborch.timeutil import utcnow

S = StateType


def _fail(client: LocalClient, run_id: object, evalue: str = "division by zero") -> None:
    client.set_state(run_id, S.PENDING)
    client.set_state(run_id, S.RUNNING)
    failure = CellFailure(
        cell_index=1,
        source="x = 1\nresult = 10 / divisor",
        ename="ZeroDivisionError",
        evalue=evalue,
    )
    client.set_state(run_id, S.FAILED, "Cell 1 raised", failure=failure)


def _webhook_rule(client: LocalClient, name: str, url: str, **options: Any) -> None:
    client.create_alert_rule(
        AlertRuleSpec(name=name, channel=AlertChannel.WEBHOOK, target=url, **options)
    )


def _outbox(client: LocalClient) -> list[AlertMessageRow]:
    with client.store.read() as session:
        return list(session.scalars(select(AlertMessageRow).order_by(AlertMessageRow.id)))


@pytest.fixture
def deployment(client: LocalClient, pool: str) -> str:
    deploy_hello(client, pool, parameters={"name": "Ada"})
    return "hello/demo"


def test_a_failure_is_queued_with_its_state_and_reaches_a_signed_webhook(
    client: LocalClient, deployment: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NBORCH_PUBLIC_URL", "https://nborch.example.com/")
    reset_settings()
    client.set_secret("HOOK_TOKEN", "tok-123")
    client.set_secret("SIGNING", "sign-key")
    with webhook_receiver() as receiver:
        _webhook_rule(
            client,
            "ops",
            receiver.url + "/hook/{{ secret.HOOK_TOKEN }}",
            deployment=deployment,
            hmac_secret="SIGNING",
        )
        run = client.create_run(deployment)
        _fail(client, run.id)
        # Stored with the change, before any sender ran: a crash now loses nothing.
        queued = _outbox(client)
        assert [(m.run_id, m.state, m.status) for m in queued] == [
            (str(run.id), "FAILED", "pending")
        ]

        assert send_due(client.store) == 1
        [got] = receiver.received
        assert got.path == "/hook/tok-123"
        expected = hmac.new(b"sign-key", got.body, hashlib.sha256).hexdigest()
        assert got.headers["X-Nborch-Signature"] == f"sha256={expected}"
        body = got.json
        assert body["deployment"] == deployment and body["state"] == "FAILED"
        assert body["run_id"] == str(run.id)
        assert body["failure"] == {
            "cell": 1,
            "line": "result = 10 / divisor",
            "exception": "ZeroDivisionError: division by zero",
        }
        assert body["parameters"] == {"name": "Ada"}
        assert body["retry"] == "nborch deployment run hello/demo -p name=Ada"
        assert body["output_html"] == (
            f"https://nborch.example.com/api/v1/flow-runs/{run.id}/output.html"
        )
        assert send_due(client.store) == 0  # sent once
    [delivery] = client.alert_history(rule="ops")
    assert delivery.ok and delivery.status == "sent" and delivery.run_id == run.id
    assert "tok-123" not in delivery.detail
    # The store keeps the reference, never the resolved URL.
    assert client.list_alert_rules()[0].target.endswith("/hook/{{ secret.HOOK_TOKEN }}")


def test_rules_match_their_deployment_pool_and_tag_only(
    client: LocalClient, deployment: str, pool: str
) -> None:
    client.create_pool("other", "process")
    for name, scope in [
        ("by-pool", {"pool": pool}),
        ("by-other-pool", {"pool": "other"}),
        ("by-tag", {"tag": "nightly"}),
        ("everything", {}),
    ]:
        _webhook_rule(client, name, "http://127.0.0.1:9/x", states=[S.CANCELLED], **scope)
    client.cancel_run(client.create_run(deployment, tags=["nightly"]).id)
    client.cancel_run(client.create_run(deployment).id)
    with client.store.read() as session:
        names = dict(session.execute(select(AlertRuleRow.id, AlertRuleRow.name)).all())
    counts: dict[str, int] = {}
    for message in _outbox(client):
        counts[names[message.rule_id]] = counts.get(names[message.rule_id], 0) + 1
    assert counts == {"by-pool": 2, "by-tag": 1, "everything": 2}


def test_the_same_event_is_queued_once(client: LocalClient, deployment: str) -> None:
    _webhook_rule(client, "ops", "http://127.0.0.1:9/x")
    run = client.create_run(deployment)
    _fail(client, run.id)
    with client.store.write() as session:  # stored again (a second scheduler, a replay)
        row = session.get(FlowRunRow, str(run.id))
        assert row is not None
        queue_alerts(session, row, S.FAILED, "again", utcnow())
    assert len(_outbox(client)) == 1


def test_a_storm_becomes_one_digest_that_counts_it(client: LocalClient, deployment: str) -> None:
    with webhook_receiver() as receiver:
        _webhook_rule(client, "storm", receiver.url, states=[S.CANCELLED], max_per_minute=10)
        for _ in range(100):
            client.cancel_run(client.create_run(deployment).id)
        assert send_due(client.store) == 1
        [got] = receiver.received
        assert got.json["kind"] == "digest" and got.json["count"] == 100
        assert got.json["states"] == {"CANCELLED": 100}
        assert {m.status for m in _outbox(client)} == {"sent", "digested"}
        [delivery] = client.alert_history(rule="storm")
        assert delivery.digest_count == 100 and delivery.ok


def test_a_rule_over_its_limit_waits_for_the_minute(client: LocalClient, deployment: str) -> None:
    with webhook_receiver() as receiver:
        _webhook_rule(client, "few", receiver.url, states=[S.CANCELLED], max_per_minute=1)
        client.cancel_run(client.create_run(deployment).id)
        assert send_due(client.store) == 1
        client.cancel_run(client.create_run(deployment).id)
        assert send_due(client.store) == 0  # the minute's one message is spent
        [waiting] = [m for m in _outbox(client) if m.status == "pending"]
        assert waiting.next_attempt > utcnow() + timedelta(seconds=30)
        assert len(receiver.received) == 1


def test_a_failed_delivery_is_retried_with_backoff_and_every_attempt_is_listed(
    client: LocalClient, deployment: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NBORCH_ALERT_TIMEOUT", "120")  # a loaded machine answers late
    reset_settings()
    with webhook_receiver() as receiver:
        receiver.answers = [500, 503]
        _webhook_rule(client, "ops", receiver.url, states=[S.CANCELLED])
        client.cancel_run(client.create_run(deployment).id)
        waits = []
        for _ in range(3):
            before = utcnow()
            send_due(client.store)
            [message] = _outbox(client)
            waits.append((message.next_attempt - before).total_seconds())
            with client.store.write() as session:  # time passes: it is due again
                session.execute(update(AlertMessageRow).values(next_attempt=utcnow()))
        assert len(receiver.received) == 1
        assert waits[1] > waits[0] > 0  # backed off, longer each time
    history = client.alert_history(rule="ops")
    assert [(d.attempt, d.ok) for d in history] == [(3, True), (2, False), (1, False)]
    assert history[2].detail.startswith("HTTP 500")


def test_a_slow_receiver_never_holds_the_schedulers_tick(
    client: LocalClient, deployment: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NBORCH_ALERT_TIMEOUT", "300")  # the receiver may take its time
    reset_settings()
    with webhook_receiver() as receiver:
        receiver.hold = threading.Event()  # answers only when the test lets it
        _webhook_rule(client, "slow", receiver.url, states=[S.CANCELLED])
        client.cancel_run(client.create_run(deployment).id)
        results: list[object] = []

        def ticks() -> None:
            for _ in range(3):
                results.append(tick_if_leader(client.store, "me"))
                receiver.arrived.wait(60)  # the alert is on its way, and held there

        ticking = threading.Thread(target=ticks, daemon=True)
        ticking.start()
        ticking.join(60)  # a generous bound: ticks take milliseconds, the receiver 300 s
        assert not ticking.is_alive() and len(results) == 3 and None not in results
        assert receiver.arrived.is_set() and receiver.received == []
        receiver.hold.set()
        receiver.wait(1)


@pytest.mark.parametrize("channel", [AlertChannel.SLACK, AlertChannel.TEAMS])
def test_slack_and_teams_get_their_own_bodies(
    client: LocalClient, deployment: str, channel: AlertChannel
) -> None:
    with webhook_receiver() as receiver:
        client.create_alert_rule(AlertRuleSpec(name="chat", channel=channel, target=receiver.url))
        run = client.create_run(deployment)
        _fail(client, run.id)
        send_due(client.store)
        body = receiver.wait(1)[0].json
    if channel is AlertChannel.SLACK:
        assert body["blocks"][0]["type"] == "header"
        assert "result = 10 / divisor" in body["blocks"][1]["text"]["text"]
    else:
        assert body["@type"] == "MessageCard" and "ZeroDivisionError" in body["text"]


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        ({"target": "not a url"}, "Alert rule 'bad' has 'not a url', which is not a webhook URL"),
        ({"target": "ftp://host/x"}, "which is not a webhook URL"),
        ({"channel": AlertChannel.EMAIL, "target": "ops@"}, "which is not an email address"),
        ({"deployment": "hello/nope"}, "Deployment 'hello/nope' not found"),
        ({"pool": "nope"}, "Work pool 'nope' not found"),
        ({"target": "http://h/{{ secret.MISSING }}"}, "Secret 'MISSING' not found"),
        ({"states": [S.RUNNING]}, "watches RUNNING: choose among"),
        ({"name": "../x"}, "Alert rule name '../x' is not allowed"),
    ],
)
def test_bad_rules_are_refused_in_one_line_and_nothing_is_stored(
    client: LocalClient, deployment: str, changes: dict[str, object], says: str
) -> None:
    spec = {"name": "bad", "channel": AlertChannel.WEBHOOK, "target": "http://127.0.0.1:9/x"}
    with pytest.raises(NborchError) as refused:
        client.create_alert_rule(AlertRuleSpec.model_validate({**spec, **changes}))
    assert says in str(refused.value) and "\n" not in str(refused.value)
    assert client.list_alert_rules() == []


def test_an_unreachable_target_fails_its_test_and_create_test_stores_nothing(
    client: LocalClient, deployment: str
) -> None:
    with webhook_receiver() as receiver:
        dead = receiver.url  # nothing listens once the receiver is gone
    spec = AlertRuleSpec(name="dead", channel=AlertChannel.WEBHOOK, target=dead)
    with pytest.raises(ValidationError, match="Alert rule 'dead' was not created: its test"):
        client.create_alert_rule(spec, test=True)
    assert client.list_alert_rules() == []
    client.create_alert_rule(spec)
    with pytest.raises(ValidationError, match="Alert rule 'dead' could not deliver a test message"):
        client.test_alert_rule("dead")
    [attempt] = client.alert_history(rule="dead")
    assert attempt.status == "test" and not attempt.ok
    client.delete_alert_rule("dead")
    with pytest.raises(NotFoundError, match="Alert rule 'dead' not found"):
        client.delete_alert_rule("dead")


def test_backoff_grows_and_is_bounded() -> None:
    assert alert_outbox.backoff(1) < alert_outbox.backoff(3) < timedelta(hours=1.3)


def test_runs_the_scheduler_marks_late_are_queued_in_its_transaction(
    client: LocalClient, deployment: str
) -> None:
    _webhook_rule(client, "late", "http://127.0.0.1:9/x", states=[S.LATE])
    run = client.create_run(deployment, scheduled_time=utcnow() - timedelta(hours=1))
    client.create_run(deployment)  # on time: not late
    assert mark_late_runs(client.store, utcnow()) == 1
    assert [(m.run_id, m.state) for m in _outbox(client)] == [(str(run.id), "LATE")]


def test_the_runs_secret_values_are_masked_in_every_message(
    client: LocalClient, pool: str, tmp_path: Path
) -> None:
    client.set_secret("TOKEN", "v4lue-in-clear")
    notebook = make_notebook(tmp_path / "uses.ipynb", 'token: str = ""', "print(token)")
    deploy_notebook(client, notebook, pool, parameters={"token": "{{ secret.TOKEN }}"})
    with webhook_receiver() as receiver:
        _webhook_rule(client, "ops", receiver.url)
        run = client.create_run("uses/demo")
        # What a worker that did not mask (an older one, a bug) would report.
        _fail(client, run.id, evalue="refused v4lue-in-clear")
        send_due(client.store)
        body = receiver.wait(1)[0]
    assert b"v4lue-in-clear" not in body.body
    assert body.json["failure"]["exception"] == "ZeroDivisionError: refused *****"
    assert body.json["parameters"] == {"token": "{{ secret.TOKEN }}"}


def test_a_run_running_longer_than_a_rule_allows_is_queued_once_by_the_tick(
    client: LocalClient, deployment: str
) -> None:
    _webhook_rule(client, "long", "http://127.0.0.1:9/x", states=[], longer_than=600)
    run = client.create_run(deployment)
    client.set_state(run.id, S.PENDING)
    client.set_state(run.id, S.RUNNING)
    later = {"crash_orphans": False}  # no worker holds it: that is not what is tested
    assert tick_if_leader(client.store, "me", utcnow() + timedelta(seconds=300), **later)
    assert _outbox(client) == []  # not long yet
    for minutes in (11, 12):  # two ticks past the limit: one message
        tick_if_leader(client.store, "me", utcnow() + timedelta(minutes=minutes), **later)
    queued_all = _outbox(client)
    assert len(queued_all) == 1, client.get_run(run.id).history
    [queued] = queued_all
    assert (queued.run_id, queued.state) == (str(run.id), "RUNNING")
    assert "longer than the 600 s" in queued.message

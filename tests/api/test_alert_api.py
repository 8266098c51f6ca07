"""Alert rules over the HTTP API: the same operations, answers and one-line errors as in
process, and a test message sent by the server to a loopback receiver."""

from __future__ import annotations

import pytest
from support.api import Server
from support.deployments import deploy_hello
from support.receivers import webhook_receiver

from nborch.alert_models import AlertChannel, AlertRuleSpec
from nborch.errors import NotFoundError, ValidationError


def test_rules_through_the_server(sqlite_server: Server) -> None:
    api = sqlite_server.client()
    api.create_pool("etl", "process")
    deploy_hello(api, "etl")
    with webhook_receiver() as receiver:
        spec = AlertRuleSpec(
            name="ops", channel=AlertChannel.TEAMS, target=receiver.url, deployment="hello/demo"
        )
        rule = api.create_alert_rule(spec, test=True)
        assert rule.deployment == "hello/demo" and receiver.received[0].json["@type"]
        assert api.test_alert_rule("ops").ok
    assert [r.name for r in api.list_alert_rules()] == ["ops"]
    assert [d.status for d in api.alert_history(rule="ops")] == ["test"]
    with pytest.raises(ValidationError, match="Alert rule 'bad' has 'x', which is not"):
        api.create_alert_rule(AlertRuleSpec(name="bad", channel=AlertChannel.SLACK, target="x"))
    api.delete_alert_rule("ops")
    with pytest.raises(NotFoundError, match="Alert rule 'ops' not found"):
        api.alert_history(rule="ops")

"""The operations on alert rules and their deliveries: each declared once, with its input
models beside it (see `nborch.client.operations`; the services are
`nborch.orchestration.alerts` and `alert_outbox`)."""

# The methods below have no body: `@operation` hands their arguments to the transport.
# mypy: disable-error-code="empty-body"

from __future__ import annotations

from pydantic import Field

from nborch.alert_models import AlertDelivery, AlertRule, AlertRuleSpec
from nborch.client.operations import ADMIN, Input, operation

# ---- inputs -------------------------------------------------------------------------------


class AlertRulePath(Input):
    name: str = Field(min_length=1, max_length=100)


class CreateAlertRuleQuery(Input):
    test: bool = False


class AlertHistoryQuery(Input):
    rule: str | None = Field(default=None, min_length=1, max_length=100)
    limit: int = Field(default=50, ge=1, le=1000)


# ---- the operations -----------------------------------------------------------------------


class AlertOperations:
    """Alert rules: what to watch, where to send it; and every delivery attempt."""

    @operation(
        "POST",
        "/alert-rules",
        ADMIN,
        params=CreateAlertRuleQuery,
        body=AlertRuleSpec,
        body_arg="spec",
        response=AlertRule,
        status=201,
        does="alerts.create_alert_rule",
    )
    def create_alert_rule(self, spec: AlertRuleSpec, *, test: bool = False) -> AlertRule:
        """Create an alert rule

        With `test`, a test message is sent first, and nothing is stored unless it arrives."""

    @operation(
        "GET", "/alert-rules", ADMIN, response=list[AlertRule], does="alerts.list_alert_rules"
    )
    def list_alert_rules(self) -> list[AlertRule]:
        """List alert rules"""

    @operation(
        "DELETE",
        "/alert-rules/{name}",
        ADMIN,
        params=AlertRulePath,
        does="alerts.delete_alert_rule",
    )
    def delete_alert_rule(self, name: str) -> None:
        """Delete an alert rule, its queued messages and its history"""

    @operation(
        "POST",
        "/alert-rules/{name}/test",
        ADMIN,
        params=AlertRulePath,
        response=AlertDelivery,
        once=False,
        does="alerts.test_alert_rule",
    )
    def test_alert_rule(self, name: str) -> AlertDelivery:
        """Send a test message to an alert rule's target now

        Refused, with the reason, when it cannot be delivered."""

    @operation(
        "GET",
        "/alert-deliveries",
        ADMIN,
        params=AlertHistoryQuery,
        response=list[AlertDelivery],
        does="alert_outbox.alert_history",
    )
    def alert_history(self, *, rule: str | None = None, limit: int = 50) -> list[AlertDelivery]:
        """Alert delivery attempts, newest first"""

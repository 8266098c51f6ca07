"""Alerts' wire models: a rule (what to watch, where to send), a delivery attempt as
`nborch alert history` shows it. The rows are in `nborch.store.tables`; the services in
`nborch.orchestration.alerts` (rules) and `alert_outbox` (sending)."""

from __future__ import annotations

import enum
from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from nborch.models import StateType


class AlertChannel(str, enum.Enum):
    """Where a rule's messages go: a webhook (nborch's JSON body), a webhook that takes a
    Slack-compatible or a Microsoft Teams-compatible body, or email through SMTP."""

    WEBHOOK = "webhook"
    SLACK = "slack"
    TEAMS = "teams"
    EMAIL = "email"


# The states a rule may watch: a run entering one of them is an event.
ALERT_STATES = frozenset(
    {
        StateType.FAILED,
        StateType.CRASHED,
        StateType.CANCELLED,
        StateType.COMPLETED,
        StateType.LATE,
    }
)


class AlertRuleSpec(BaseModel):
    """A rule as given: runs of `deployment` (FLOW/NAME), of `pool`, with `tag`, or of
    every run when none is given, entering one of `states`, are sent to `target` (a URL,
    which may hold ``{{ secret.NAME }}``, or email addresses, comma-separated) by `channel`.
    `hmac_secret` names the nborch secret that signs a webhook's body. At most
    `max_per_minute` messages a minute; beyond, one digest counts the rest. With
    `longer_than`, a run RUNNING longer than that many seconds sends one too."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    channel: AlertChannel
    target: str = Field(min_length=1, max_length=2000)
    states: list[StateType] = Field(default_factory=lambda: [StateType.FAILED, StateType.CRASHED])
    deployment: str | None = Field(default=None, max_length=401)
    pool: str | None = Field(default=None, max_length=200)
    tag: str | None = Field(default=None, max_length=200)
    hmac_secret: str | None = Field(default=None, max_length=200)
    max_per_minute: int = Field(default=10, ge=1, le=10000)
    # Also a message when a run has been RUNNING longer than this many seconds (once per
    # attempt of the run); None: not watched.
    longer_than: float | None = Field(default=None, gt=0)


class AlertRule(AlertRuleSpec):
    model_config = ConfigDict(extra="forbid", from_attributes=True)

    id: UUID
    created: datetime


class AlertDelivery(BaseModel):
    """One attempt to send a message: of a run's state (`run_id`, `state`), a digest
    (`digest_count` events), or a test. `detail` says what the receiver answered or why
    it could not be reached."""

    rule: str
    run_id: UUID | None = None
    run_name: str | None = None
    state: StateType | None = None
    digest_count: int = 1
    attempt: int
    attempted: datetime
    ok: bool
    detail: str
    status: str  # of the message: pending (retried later), sent, failed (gave up), test

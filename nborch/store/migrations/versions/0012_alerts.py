"""Alerts: rules, the outbox (a message per event, written with the state change) and
every delivery attempt.

Revision ID: 0012_alerts
Revises: 0011_run_policy
"""

import sqlalchemy as sa
from alembic import op

from nborch.store.tables import UTCDateTime

revision = "0012_alerts"
down_revision = "0011_run_policy"


def upgrade() -> None:
    op.create_table(
        "alert_rules",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("target", sa.Text, nullable=False),
        sa.Column("states", sa.JSON, nullable=False),
        sa.Column(
            "deployment_id",
            sa.String(36),
            sa.ForeignKey(
                "deployments.id",
                ondelete="CASCADE",
                name="fk_alert_rules_deployment_id_deployments",
            ),
            nullable=True,
        ),
        sa.Column(
            "pool_id",
            sa.String(36),
            sa.ForeignKey(
                "work_pools.id", ondelete="CASCADE", name="fk_alert_rules_pool_id_work_pools"
            ),
            nullable=True,
        ),
        sa.Column("tag", sa.String(200), nullable=True),
        sa.Column("hmac_secret", sa.String(200), nullable=True),
        sa.Column("max_per_minute", sa.Integer, nullable=False),
        sa.Column("longer_than", sa.Float, nullable=True),
        sa.Column("created", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_alert_rules"),
        sa.UniqueConstraint("name", name="uq_alert_rules_name"),
    )
    op.create_table(
        "alert_outbox",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column(
            "rule_id",
            sa.String(36),
            sa.ForeignKey(
                "alert_rules.id", ondelete="CASCADE", name="fk_alert_outbox_rule_id_alert_rules"
            ),
            nullable=False,
        ),
        sa.Column(
            "run_id",
            sa.String(36),
            sa.ForeignKey(
                "flow_runs.id", ondelete="CASCADE", name="fk_alert_outbox_run_id_flow_runs"
            ),
            nullable=False,
        ),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("run_count", sa.Integer, nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("created", UTCDateTime, nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt", UTCDateTime, nullable=False),
        sa.Column("claimed_until", UTCDateTime, nullable=True),
        sa.Column("sent", UTCDateTime, nullable=True),
        sa.Column("digest_id", sa.Integer, nullable=True),
        sa.Column("digest_count", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_alert_outbox"),
        sa.UniqueConstraint(
            "rule_id", "run_id", "state", "run_count", name="uq_alert_outbox_event"
        ),
    )
    op.create_index("ix_alert_outbox_status_due", "alert_outbox", ["status", "next_attempt"])
    op.create_index("ix_alert_outbox_sent", "alert_outbox", ["sent"])
    op.create_index("ix_alert_outbox_digest_id", "alert_outbox", ["digest_id"])
    op.create_table(
        "alert_deliveries",
        sa.Column("id", sa.Integer, autoincrement=True, nullable=False),
        sa.Column(
            "rule_id",
            sa.String(36),
            sa.ForeignKey(
                "alert_rules.id",
                ondelete="CASCADE",
                name="fk_alert_deliveries_rule_id_alert_rules",
            ),
            nullable=False,
        ),
        sa.Column(
            "message_id",
            sa.Integer,
            sa.ForeignKey(
                "alert_outbox.id",
                ondelete="CASCADE",
                name="fk_alert_deliveries_message_id_alert_outbox",
            ),
            nullable=True,
        ),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("attempted", UTCDateTime, nullable=False),
        sa.Column("ok", sa.Boolean, nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_alert_deliveries"),
    )
    op.create_index("ix_alert_deliveries_rule_id", "alert_deliveries", ["rule_id"])
    op.create_index("ix_alert_deliveries_message_id", "alert_deliveries", ["message_id"])

"""Schedules: cron and interval schedules per deployment, a catch-up policy, the slot each
scheduled run belongs to (unique per schedule), and leases for the scheduler's tick.

Revision ID: 0003_schedules
Revises: 0002_work_queues
"""

import sqlalchemy as sa
from alembic import op

from nborch.store.tables import ID, UTCDateTime

revision = "0003_schedules"
down_revision = "0002_work_queues"


def upgrade() -> None:
    op.create_table(
        "deployment_schedules",
        sa.Column("id", ID, primary_key=True),
        sa.Column(
            "deployment_id",
            ID,
            sa.ForeignKey(
                "deployments.id",
                ondelete="CASCADE",
                name="fk_deployment_schedules_deployment_id_deployments",
            ),
            nullable=False,
        ),
        sa.Column("cron", sa.String(200), nullable=True),
        sa.Column("interval_seconds", sa.Float, nullable=True),
        sa.Column("anchor_date", UTCDateTime, nullable=True),
        sa.Column("timezone", sa.String(100), nullable=False),
        sa.Column("parameters", sa.JSON, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("next_slot", UTCDateTime, nullable=True),
        sa.Column("created", UTCDateTime, nullable=False),
    )
    op.create_index(
        "ix_deployment_schedules_deployment_id", "deployment_schedules", ["deployment_id"]
    )
    op.create_index("ix_deployment_schedules_next_slot", "deployment_schedules", ["next_slot"])
    op.create_table(
        "leases",
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("holder", sa.String(200), nullable=False),
        sa.Column("expires", UTCDateTime, nullable=False),
    )
    with op.batch_alter_table("deployments") as batch:
        batch.add_column(
            sa.Column("catch_up", sa.String(10), nullable=False, server_default="latest")
        )
    with op.batch_alter_table("flow_runs") as batch:
        batch.add_column(sa.Column("schedule_id", ID, nullable=True))
        batch.add_column(sa.Column("slot_time", UTCDateTime, nullable=True))
        batch.create_foreign_key(
            "fk_flow_runs_schedule_id_deployment_schedules",
            "deployment_schedules",
            ["schedule_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch.create_unique_constraint("uq_flow_runs_schedule_slot", ["schedule_id", "slot_time"])
    op.create_index("ix_flow_runs_state_time", "flow_runs", ["state", "scheduled_time"])
    # The default lives in the code from now on, as for every other column.
    with op.batch_alter_table("deployments") as batch:
        batch.alter_column("catch_up", server_default=None)

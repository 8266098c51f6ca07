"""A work pool's compute-hours quota per period (managed pools, and any other), and each
run's compute time (seconds RUNNING, every attempt added up; NULL for runs from before).

Revision ID: 0006_pool_quotas
Revises: 0005_api_keys_secrets
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_pool_quotas"
down_revision = "0005_api_keys_secrets"


def upgrade() -> None:
    with op.batch_alter_table("work_pools") as batch:
        batch.add_column(sa.Column("quota_hours", sa.Float, nullable=True))
        batch.add_column(
            sa.Column("quota_period", sa.String(10), nullable=False, server_default="month")
        )
    with op.batch_alter_table("flow_runs") as batch:
        batch.add_column(sa.Column("compute_seconds", sa.Float, nullable=True))

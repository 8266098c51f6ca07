"""The run policy: a deployment's (and each run's) timeout for the whole run, retry delay,
exponential backoff and the endings that are retried. Existing deployments and runs get no
timeout and retries at once on every ending, as before.

Revision ID: 0011_run_policy
Revises: 0010_run_creators
"""

import sqlalchemy as sa
from alembic import op

revision = "0011_run_policy"
down_revision = "0010_run_creators"

RETRY_ON_ALL = "failed,crashed,timeout"


def upgrade() -> None:
    for table in ("deployments", "flow_runs"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("timeout_seconds", sa.Float, nullable=True))
            batch.add_column(
                sa.Column("retry_delay_seconds", sa.Float, nullable=False, server_default="0")
            )
            batch.add_column(
                sa.Column("retry_backoff", sa.Float, nullable=False, server_default="1")
            )
            batch.add_column(
                sa.Column("retry_on", sa.String(40), nullable=False, server_default=RETRY_ON_ALL)
            )

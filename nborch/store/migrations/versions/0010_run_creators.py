"""Runs record who made them (`flow_runs.created_by`), and runner API keys the deployments
they may run (`api_keys.deployments`). Rows from before stay NULL: unknown creator, no
deployments.

Revision ID: 0010_run_creators
Revises: 0009_run_attempts
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_run_creators"
down_revision = "0009_run_attempts"


def upgrade() -> None:
    with op.batch_alter_table("flow_runs") as batch:
        batch.add_column(sa.Column("created_by", sa.String(200), nullable=True))
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("deployments", sa.JSON, nullable=True))

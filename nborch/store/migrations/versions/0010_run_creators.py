"""Runner API keys keep the deployments they may run (`api_keys.deployments`); keys from
before stay NULL: no deployments.

Revision ID: 0010_run_creators
Revises: 0008_schedule_errors
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_run_creators"
down_revision = "0008_schedule_errors"


def upgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("deployments", sa.JSON, nullable=True))

"""The git commit a run of a git-sourced deployment was checked out at.

Revision ID: 0004_source_commit
Revises: 0003_schedules
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_source_commit"
down_revision = "0003_schedules"


def upgrade() -> None:
    with op.batch_alter_table("flow_runs") as batch:
        batch.add_column(sa.Column("source_commit", sa.String(64), nullable=True))

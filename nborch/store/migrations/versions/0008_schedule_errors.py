"""A schedule whose next time cannot be computed is marked in error (the reason), and the
scheduler skips it until it is changed or resumed.

Revision ID: 0008_schedule_errors
Revises: 0007_request_keys
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_schedule_errors"
down_revision = "0007_request_keys"


def upgrade() -> None:
    with op.batch_alter_table("deployment_schedules") as batch:
        batch.add_column(sa.Column("error", sa.Text, nullable=True))

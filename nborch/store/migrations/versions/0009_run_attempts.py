"""Run ownership is fenced: each claim of a run gives it a new attempt number, and every
write about the run from a worker carries it. Workers record the server they talk through,
and servers keep a row alive, so that a server's outage is not taken for its workers'.

Revision ID: 0009_run_attempts
Revises: 0008_schedule_errors
"""

import sqlalchemy as sa
from alembic import op

from nborch.store.tables import UTCDateTime

revision = "0009_run_attempts"
down_revision = "0008_schedule_errors"


def upgrade() -> None:
    with op.batch_alter_table("flow_runs") as batch:
        batch.add_column(sa.Column("attempt", sa.Integer, nullable=False, server_default="0"))
    with op.batch_alter_table("workers") as batch:
        batch.add_column(sa.Column("server", sa.String(300), nullable=True))
    op.create_table(
        "servers",
        sa.Column("name", sa.String(300), primary_key=True),
        sa.Column("started", UTCDateTime, nullable=False),
        sa.Column("last_seen", UTCDateTime, nullable=False),
    )

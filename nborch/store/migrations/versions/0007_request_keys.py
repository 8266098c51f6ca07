"""Requests sent with an Idempotency-Key and their answers: a request sent again after its
answer was lost is answered, not carried out twice.

Revision ID: 0007_request_keys
Revises: 0006_pool_quotas
"""

import sqlalchemy as sa
from alembic import op

from nborch.store.tables import UTCDateTime

revision = "0007_request_keys"
down_revision = "0006_pool_quotas"


def upgrade() -> None:
    op.create_table(
        "request_keys",
        sa.Column("key", sa.String(500), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("answer_status", sa.Integer, nullable=True),
        sa.Column("answer_type", sa.String(100), nullable=True),
        sa.Column("answer_body", sa.LargeBinary, nullable=True),
        sa.Column("created", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_request_keys"),
    )
    op.create_index("ix_request_keys_created", "request_keys", ["created"])

"""API keys (stored hashed) and secrets (stored encrypted).

Revision ID: 0005_api_keys_secrets
Revises: 0004_source_commit
"""

import sqlalchemy as sa
from alembic import op

from nborch.store.tables import UTCDateTime

revision = "0005_api_keys_secrets"
down_revision = "0004_source_commit"


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("prefix", sa.String(32), nullable=False),
        sa.Column("key_hash", sa.String(128), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("pools", sa.JSON, nullable=False),
        sa.Column("created", UTCDateTime, nullable=False),
        sa.Column("last_used", UTCDateTime, nullable=True),
        sa.Column("revoked", UTCDateTime, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_api_keys"),
        sa.UniqueConstraint("name", name="uq_api_keys_name"),
        sa.UniqueConstraint("prefix", name="uq_api_keys_prefix"),
    )
    op.create_table(
        "secrets",
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("ciphertext", sa.Text, nullable=False),
        sa.Column("created", UTCDateTime, nullable=False),
        sa.Column("updated", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_secrets"),
    )

"""Work queues inside pools: every pool gets a `default` queue, and existing deployments and
runs of a pool are put on it.

Revision ID: 0002_work_queues
Revises: 0001_initial
"""

import uuid

import sqlalchemy as sa
from alembic import op

from nborch.store.tables import ID

revision = "0002_work_queues"
down_revision = "0001_initial"


def upgrade() -> None:
    op.create_table(
        "work_queues",
        sa.Column("id", ID, primary_key=True),
        sa.Column(
            "pool_id",
            ID,
            sa.ForeignKey(
                "work_pools.id", ondelete="CASCADE", name="fk_work_queues_pool_id_work_pools"
            ),
            nullable=False,
        ),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("priority", sa.Integer, nullable=False),
        sa.Column("concurrency_limit", sa.Integer, nullable=True),
        sa.Column("paused", sa.Boolean, nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.UniqueConstraint("pool_id", "name", name="uq_work_queues_pool_id_name"),
    )
    for table in ("deployments", "flow_runs"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("queue_id", ID, nullable=True))
            batch.create_foreign_key(
                f"fk_{table}_queue_id_work_queues",
                "work_queues",
                ["queue_id"],
                ["id"],
                ondelete="SET NULL",
            )

    connection = op.get_bind()
    queues = sa.table(
        "work_queues",
        sa.column("id"),
        sa.column("pool_id"),
        sa.column("name"),
        sa.column("priority"),
        sa.column("concurrency_limit"),
        sa.column("paused"),
        sa.column("description"),
    )
    pool_ids = connection.execute(sa.text("SELECT id FROM work_pools")).scalars().all()
    for pool_id in pool_ids:
        queue_id = str(uuid.uuid4())
        connection.execute(
            queues.insert().values(
                id=queue_id,
                pool_id=pool_id,
                name="default",
                priority=1,
                concurrency_limit=None,
                paused=False,
                description="The pool's default queue",
            )
        )
        for table in ("deployments", "flow_runs"):
            connection.execute(
                sa.text(f"UPDATE {table} SET queue_id = :q WHERE pool_id = :p"),
                {"q": queue_id, "p": pool_id},
            )

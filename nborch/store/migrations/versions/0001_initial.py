"""The first schema: pools, workers, flows, deployments, runs, their states and logs.

Revision ID: 0001_initial
Revises:
"""

import sqlalchemy as sa
from alembic import op

from nborch.store.tables import ID, UTCDateTime

revision = "0001_initial"
down_revision = None


def upgrade() -> None:
    op.create_table(
        "work_pools",
        sa.Column("id", ID, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("type", sa.String(50), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("base_job_template", sa.JSON, nullable=False),
        sa.Column("concurrency_limit", sa.Integer, nullable=True),
        sa.Column("paused", sa.Boolean, nullable=False),
        sa.Column("created", UTCDateTime, nullable=False),
        sa.UniqueConstraint("name", name="uq_work_pools_name"),
    )
    op.create_table(
        "workers",
        sa.Column("id", ID, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column(
            "pool_id",
            ID,
            sa.ForeignKey(
                "work_pools.id", ondelete="CASCADE", name="fk_workers_pool_id_work_pools"
            ),
            nullable=True,
        ),
        sa.Column("hostname", sa.String(255), nullable=False),
        sa.Column("pid", sa.Integer, nullable=True),
        sa.Column("last_heartbeat", UTCDateTime, nullable=False),
        sa.Column("stopped", sa.Boolean, nullable=False),
    )
    op.create_index("ix_workers_pool_id", "workers", ["pool_id"])
    op.create_table(
        "flows",
        sa.Column("id", ID, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("created", UTCDateTime, nullable=False),
        sa.UniqueConstraint("name", name="uq_flows_name"),
    )
    op.create_table(
        "deployments",
        sa.Column("id", ID, primary_key=True),
        sa.Column(
            "flow_id",
            ID,
            sa.ForeignKey("flows.id", ondelete="CASCADE", name="fk_deployments_flow_id_flows"),
            nullable=False,
        ),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("entrypoint", sa.Text, nullable=False),
        sa.Column("parameter_specs", sa.JSON, nullable=False),
        sa.Column("parameters", sa.JSON, nullable=False),
        sa.Column(
            "pool_id",
            ID,
            sa.ForeignKey(
                "work_pools.id", ondelete="RESTRICT", name="fk_deployments_pool_id_work_pools"
            ),
            nullable=True,
        ),
        sa.Column("job_variables", sa.JSON, nullable=False),
        sa.Column("tags", sa.JSON, nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("version", sa.String(200), nullable=True),
        sa.Column("paused", sa.Boolean, nullable=False),
        sa.Column("concurrency_limit", sa.Integer, nullable=True),
        sa.Column("retries", sa.Integer, nullable=False),
        sa.Column("created", UTCDateTime, nullable=False),
        sa.Column("updated", UTCDateTime, nullable=False),
        sa.UniqueConstraint("flow_id", "name", name="uq_deployments_flow_id_name"),
    )
    op.create_index("ix_deployments_pool_id", "deployments", ["pool_id"])
    op.create_table(
        "flow_runs",
        sa.Column("id", ID, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column(
            "flow_id",
            ID,
            sa.ForeignKey("flows.id", ondelete="CASCADE", name="fk_flow_runs_flow_id_flows"),
            nullable=False,
        ),
        sa.Column(
            "deployment_id",
            ID,
            sa.ForeignKey(
                "deployments.id", ondelete="SET NULL", name="fk_flow_runs_deployment_id_deployments"
            ),
            nullable=True,
        ),
        sa.Column(
            "pool_id",
            ID,
            sa.ForeignKey(
                "work_pools.id", ondelete="SET NULL", name="fk_flow_runs_pool_id_work_pools"
            ),
            nullable=True,
        ),
        sa.Column(
            "worker_id",
            ID,
            sa.ForeignKey("workers.id", ondelete="SET NULL", name="fk_flow_runs_worker_id_workers"),
            nullable=True,
        ),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("state_message", sa.Text, nullable=False),
        sa.Column("parameters", sa.JSON, nullable=False),
        sa.Column("job_variables", sa.JSON, nullable=False),
        sa.Column("input_path", sa.Text, nullable=False),
        sa.Column("cwd", sa.Text, nullable=True),
        sa.Column("output_path", sa.Text, nullable=True),
        sa.Column("infrastructure_id", sa.String(200), nullable=True),
        sa.Column("failure", sa.JSON, nullable=True),
        sa.Column("run_count", sa.Integer, nullable=False),
        sa.Column("retries", sa.Integer, nullable=False),
        sa.Column("tags", sa.JSON, nullable=False),
        sa.Column("scheduled_time", UTCDateTime, nullable=False),
        sa.Column("start_time", UTCDateTime, nullable=True),
        sa.Column("end_time", UTCDateTime, nullable=True),
        sa.Column("created", UTCDateTime, nullable=False),
    )
    op.create_index("ix_flow_runs_deployment_id", "flow_runs", ["deployment_id"])
    op.create_index(
        "ix_flow_runs_pool_state_time", "flow_runs", ["pool_id", "state", "scheduled_time"]
    )
    op.create_index("ix_flow_runs_worker_state", "flow_runs", ["worker_id", "state"])
    for table in ("flow_run_states", "flow_run_logs"):
        extra = (
            [
                sa.Column("type", sa.String(20), nullable=False),
                sa.Column("message", sa.Text, nullable=False),
            ]
            if table == "flow_run_states"
            else [sa.Column("message", sa.Text, nullable=False)]
        )
        op.create_table(
            table,
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column(
                "run_id",
                ID,
                sa.ForeignKey(
                    "flow_runs.id", ondelete="CASCADE", name=f"fk_{table}_run_id_flow_runs"
                ),
                nullable=False,
            ),
            sa.Column("timestamp", UTCDateTime, nullable=False),
            *extra,
        )
        op.create_index(f"ix_{table}_run_id", table, ["run_id"])

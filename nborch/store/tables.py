"""The store's tables (SQLAlchemy). Rows stay here; services convert them to `nborch.models`.

This module describes the schema at the newest migration; `tests/store/test_migrations.py`
checks that the two agree.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every back end (SQLite keeps no time zone)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r} given to the store; use UTC-aware times")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else value.replace(tzinfo=timezone.utc)


def new_id() -> str:
    return str(uuid.uuid4())


NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


ID = String(36)
RETRY_ON_ALL = "failed,crashed,timeout"


class WorkPoolRow(Base):
    __tablename__ = "work_pools"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    type: Mapped[str] = mapped_column(String(50))
    description: Mapped[str] = mapped_column(Text, default="")
    base_job_template: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    concurrency_limit: Mapped[int | None] = mapped_column(Integer, nullable=True)
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    created: Mapped[datetime] = mapped_column(UTCDateTime)
    # Compute hours per period (day, week, month: UTC calendar); None: no quota.
    quota_hours: Mapped[float | None] = mapped_column(Float, nullable=True)
    quota_period: Mapped[str] = mapped_column(String(10), default="month", server_default="month")


class WorkQueueRow(Base):
    __tablename__ = "work_queues"
    __table_args__ = (UniqueConstraint("pool_id", "name", name="uq_work_queues_pool_id_name"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    pool_id: Mapped[str] = mapped_column(ID, ForeignKey("work_pools.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    priority: Mapped[int] = mapped_column(Integer, default=1)
    concurrency_limit: Mapped[int | None] = mapped_column(Integer, nullable=True)
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    description: Mapped[str] = mapped_column(Text, default="")


class WorkerRow(Base):
    __tablename__ = "workers"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    pool_id: Mapped[str | None] = mapped_column(
        ID, ForeignKey("work_pools.id", ondelete="CASCADE"), nullable=True, index=True
    )
    hostname: Mapped[str] = mapped_column(String(255), default="")
    pid: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_heartbeat: Mapped[datetime] = mapped_column(UTCDateTime)
    stopped: Mapped[bool] = mapped_column(Boolean, default=False)
    # The server its heartbeats come through (None: it uses the store itself).
    server: Mapped[str | None] = mapped_column(String(300), nullable=True)


class FlowRow(Base):
    __tablename__ = "flows"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created: Mapped[datetime] = mapped_column(UTCDateTime)


class RunPolicyColumns:
    """A run policy's columns (`nborch.models.RunPolicy`): a deployment's defaults, and each
    run's own (copied from its deployment, or given for the run). `retry_on` is a
    comma-separated list of `RetryOn` values."""

    timeout_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    retry_delay_seconds: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    retry_backoff: Mapped[float] = mapped_column(Float, default=1.0, server_default="1")
    retry_on: Mapped[str] = mapped_column(
        String(40), default=RETRY_ON_ALL, server_default=RETRY_ON_ALL
    )


class DeploymentRow(RunPolicyColumns, Base):
    __tablename__ = "deployments"
    __table_args__ = (UniqueConstraint("flow_id", "name", name="uq_deployments_flow_id_name"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    flow_id: Mapped[str] = mapped_column(ID, ForeignKey("flows.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(Text)
    entrypoint: Mapped[str] = mapped_column(Text)
    parameter_specs: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    pool_id: Mapped[str | None] = mapped_column(
        ID, ForeignKey("work_pools.id", ondelete="RESTRICT"), nullable=True, index=True
    )
    queue_id: Mapped[str | None] = mapped_column(
        ID, ForeignKey("work_queues.id", ondelete="SET NULL"), nullable=True
    )
    job_variables: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    description: Mapped[str] = mapped_column(Text, default="")
    version: Mapped[str | None] = mapped_column(String(200), nullable=True)
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    concurrency_limit: Mapped[int | None] = mapped_column(Integer, nullable=True)
    retries: Mapped[int] = mapped_column(Integer, default=0)
    catch_up: Mapped[str] = mapped_column(String(10), default="latest")
    created: Mapped[datetime] = mapped_column(UTCDateTime)
    updated: Mapped[datetime] = mapped_column(UTCDateTime)


class ScheduleRow(Base):
    __tablename__ = "deployment_schedules"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    deployment_id: Mapped[str] = mapped_column(
        ID, ForeignKey("deployments.id", ondelete="CASCADE"), index=True
    )
    cron: Mapped[str | None] = mapped_column(String(200), nullable=True)
    interval_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    anchor_date: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    timezone: Mapped[str] = mapped_column(String(100), default="UTC")
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # The first slot the scheduler has not made a run for yet; None: start from now.
    next_slot: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True, index=True)
    created: Mapped[datetime] = mapped_column(UTCDateTime)
    # Why the scheduler could not compute its next time; it is skipped while this is set.
    error: Mapped[str | None] = mapped_column(Text, nullable=True)


class LeaseRow(Base):
    """Who may do a singleton job (the scheduler's tick) until when."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    expires: Mapped[datetime] = mapped_column(UTCDateTime)


class ServerRow(Base):
    """An API server (`nborch server start`, Jupyter) that workers talk through: up since
    `started` while `last_seen` is recent. Its workers' silence while it is down is not
    theirs (see `nborch.orchestration.crash_detection`)."""

    __tablename__ = "servers"

    name: Mapped[str] = mapped_column(String(300), primary_key=True)
    started: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime)


class FlowRunRow(RunPolicyColumns, Base):
    __tablename__ = "flow_runs"
    __table_args__ = (
        Index("ix_flow_runs_pool_state_time", "pool_id", "state", "scheduled_time"),
        Index("ix_flow_runs_worker_state", "worker_id", "state"),
        Index("ix_flow_runs_state_time", "state", "scheduled_time"),
        # The scheduler never makes two runs for one slot of a schedule, whoever ticks.
        UniqueConstraint("schedule_id", "slot_time", name="uq_flow_runs_schedule_slot"),
    )

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    flow_id: Mapped[str] = mapped_column(ID, ForeignKey("flows.id", ondelete="CASCADE"))
    deployment_id: Mapped[str | None] = mapped_column(
        ID, ForeignKey("deployments.id", ondelete="SET NULL"), nullable=True, index=True
    )
    pool_id: Mapped[str | None] = mapped_column(
        ID, ForeignKey("work_pools.id", ondelete="SET NULL"), nullable=True
    )
    queue_id: Mapped[str | None] = mapped_column(
        ID, ForeignKey("work_queues.id", ondelete="SET NULL"), nullable=True
    )
    worker_id: Mapped[str | None] = mapped_column(
        ID, ForeignKey("workers.id", ondelete="SET NULL"), nullable=True
    )
    schedule_id: Mapped[str | None] = mapped_column(
        ID, ForeignKey("deployment_schedules.id", ondelete="SET NULL"), nullable=True
    )
    slot_time: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    state: Mapped[str] = mapped_column(String(20))
    state_message: Mapped[str] = mapped_column(Text, default="")
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    job_variables: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    input_path: Mapped[str] = mapped_column(Text)
    cwd: Mapped[str | None] = mapped_column(Text, nullable=True)
    output_path: Mapped[str | None] = mapped_column(Text, nullable=True)
    infrastructure_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    source_commit: Mapped[str | None] = mapped_column(String(64), nullable=True)
    failure: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    run_count: Mapped[int] = mapped_column(Integer, default=0)
    retries: Mapped[int] = mapped_column(Integer, default=0)
    # Which claim of the run holds it: each hand-over to a worker counts one up, and every
    # write about the run from a worker carries it (a write of an earlier one is refused).
    attempt: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    scheduled_time: Mapped[datetime] = mapped_column(UTCDateTime)
    start_time: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    end_time: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created: Mapped[datetime] = mapped_column(UTCDateTime)
    # Who made the run (`FlowRun.created_by`); NULL for runs from before migration 0010.
    created_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    # Seconds spent RUNNING, every attempt added up when it ends (usage and quotas); NULL
    # until an attempt ended, and for runs from before migration 0006.
    compute_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)


class FlowRunStateRow(Base):
    __tablename__ = "flow_run_states"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(
        ID, ForeignKey("flow_runs.id", ondelete="CASCADE"), index=True
    )
    type: Mapped[str] = mapped_column(String(20))
    message: Mapped[str] = mapped_column(Text, default="")
    timestamp: Mapped[datetime] = mapped_column(UTCDateTime)


class FlowRunLogRow(Base):
    __tablename__ = "flow_run_logs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(
        ID, ForeignKey("flow_runs.id", ondelete="CASCADE"), index=True
    )
    timestamp: Mapped[datetime] = mapped_column(UTCDateTime)
    message: Mapped[str] = mapped_column(Text)


class ApiKeyRow(Base):
    """An API key: only its hash is kept; `prefix` (not secret) finds the row."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    prefix: Mapped[str] = mapped_column(String(32), unique=True)
    key_hash: Mapped[str] = mapped_column(String(128))
    role: Mapped[str] = mapped_column(String(20))
    pools: Mapped[list[str]] = mapped_column(JSON, default=list)
    # A runner key's deployment patterns; NULL for keys from before migration 0010.
    deployments: Mapped[list[str] | None] = mapped_column(JSON, nullable=True, default=list)
    created: Mapped[datetime] = mapped_column(UTCDateTime)
    last_used: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revoked: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class SecretRow(Base):
    """A secret value, encrypted (Fernet) with the key named by the settings."""

    __tablename__ = "secrets"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    ciphertext: Mapped[str] = mapped_column(Text)
    created: Mapped[datetime] = mapped_column(UTCDateTime)
    updated: Mapped[datetime] = mapped_column(UTCDateTime)


class RequestKeyRow(Base):
    """A request sent with an Idempotency-Key, and its answer once it has one: a request
    sent again after its answer was lost gets that answer instead of being carried out
    twice. `key` is the caller's name and their key; `answer_status` is NULL while the first
    request is being carried out."""

    __tablename__ = "request_keys"

    key: Mapped[str] = mapped_column(String(500), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))  # the request: method, path, body
    answer_status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    answer_type: Mapped[str | None] = mapped_column(String(100), nullable=True)
    answer_body: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    created: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class AlertRuleRow(Base):
    """What to watch (a deployment, a pool, a tag or every run; the states) and where to
    send it. `target` keeps secret references as they were written."""

    __tablename__ = "alert_rules"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    channel: Mapped[str] = mapped_column(String(20))
    target: Mapped[str] = mapped_column(Text)
    states: Mapped[list[str]] = mapped_column(JSON, default=list)
    deployment_id: Mapped[str | None] = mapped_column(
        ID, ForeignKey("deployments.id", ondelete="CASCADE"), nullable=True
    )
    pool_id: Mapped[str | None] = mapped_column(
        ID, ForeignKey("work_pools.id", ondelete="CASCADE"), nullable=True
    )
    tag: Mapped[str | None] = mapped_column(String(200), nullable=True)
    hmac_secret: Mapped[str | None] = mapped_column(String(200), nullable=True)
    max_per_minute: Mapped[int] = mapped_column(Integer, default=10)
    longer_than: Mapped[float | None] = mapped_column(Float, nullable=True)
    created: Mapped[datetime] = mapped_column(UTCDateTime)


class AlertMessageRow(Base):
    """The outbox: one message per (rule, run, state, attempt of the run), written in the
    transaction that stored the state. `status`: pending, sent, failed (gave up), digested
    (carried by the digest `digest_id`). A sender holds it until `claimed_until`."""

    __tablename__ = "alert_outbox"
    __table_args__ = (
        UniqueConstraint("rule_id", "run_id", "state", "run_count", name="uq_alert_outbox_event"),
        Index("ix_alert_outbox_status_due", "status", "next_attempt"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    rule_id: Mapped[str] = mapped_column(ID, ForeignKey("alert_rules.id", ondelete="CASCADE"))
    run_id: Mapped[str] = mapped_column(ID, ForeignKey("flow_runs.id", ondelete="CASCADE"))
    state: Mapped[str] = mapped_column(String(20))
    run_count: Mapped[int] = mapped_column(Integer, default=0)
    message: Mapped[str] = mapped_column(Text, default="")  # the state's message
    created: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(10), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt: Mapped[datetime] = mapped_column(UTCDateTime)
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    sent: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True, index=True)
    digest_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    digest_count: Mapped[int] = mapped_column(Integer, default=1)


class AlertDeliveryRow(Base):
    """One attempt to send a message (or a rule's test, `message_id` None)."""

    __tablename__ = "alert_deliveries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    rule_id: Mapped[str] = mapped_column(
        ID, ForeignKey("alert_rules.id", ondelete="CASCADE"), index=True
    )
    message_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("alert_outbox.id", ondelete="CASCADE"), nullable=True, index=True
    )
    attempt: Mapped[int] = mapped_column(Integer, default=1)  # the message's 1st, 2nd ...
    attempted: Mapped[datetime] = mapped_column(UTCDateTime)
    ok: Mapped[bool] = mapped_column(Boolean)
    detail: Mapped[str] = mapped_column(Text, default="")

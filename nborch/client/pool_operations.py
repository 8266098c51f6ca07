"""The operations on work pools, their queues and workers, and the claims workers make: each
declared once, with its input models beside it (see `nborch.client.operations`)."""

# The methods below have no body: `@operation` hands their arguments to the transport.
# mypy: disable-error-code="empty-body"

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, Field

from nborch.client.operations import (
    ADMIN,
    KEEP,
    READ,
    Changes,
    Input,
    Name,
    Time,
    operation,
    pool_access,
    worker_access,
)
from nborch.models import (
    FlowRun,
    HeldRun,
    PoolType,
    QuotaPeriod,
    UsageReport,
    Worker,
    WorkPool,
    WorkQueue,
)

# The longest a claim may wait for runs (a long poll), in seconds.
MAX_CLAIM_WAIT = 30.0


# ---- inputs -------------------------------------------------------------------------------


class PoolPath(Input):
    name: str = Name


class QueuesPath(Input):
    pool_name: str = Name


class QueuePath(Input):
    pool_name: str = Name
    name: str = Name


class WorkerPath(Input):
    worker_id: uuid.UUID


class ListWorkersQuery(Input):
    pool_name: str | None = Field(default=None, min_length=1, max_length=200)


class NextRunTimeQuery(QueuesPath):
    lookahead: float = Field(default=0.0, ge=0, le=86400)


class CreatePool(Input):
    name: str = Name
    type: str = Field(
        min_length=1, max_length=50, json_schema_extra={"enum": [t.value for t in PoolType]}
    )
    description: str = Field(default="", max_length=10_000)
    base_job_template: dict[str, Any] | None = None
    concurrency_limit: int | None = None  # checked by the orchestration
    paused: bool = False
    quota_hours: float | None = None  # checked by the orchestration
    quota_period: QuotaPeriod = QuotaPeriod.MONTH


class UpdatePool(Changes):
    """Only the fields given change; `concurrency_limit: null` removes the limit,
    `quota_hours: null` the quota."""

    paused: bool | None = None
    concurrency_limit: int | None = None  # checked by the orchestration
    description: str | None = Field(default=None, max_length=10_000)
    base_job_template: dict[str, Any] | None = None
    quota_hours: float | None = None  # checked by the orchestration
    quota_period: QuotaPeriod | None = None


def _iso_time(value: Any) -> Any:
    """Times in a query are ISO 8601 text, not the numbers pydantic would also take."""
    if isinstance(value, str) and not re.match(r"^\d{4}-\d\d-\d\d", value):
        raise ValueError("must be an ISO 8601 date-time, e.g. 2026-11-01T00:00:00Z")
    return value


IsoDateTime = Annotated[Time, BeforeValidator(_iso_time)]


class UsageQuery(Input):
    pool_name: str | None = Field(default=None, min_length=1, max_length=200)
    since: IsoDateTime | None = None
    until: IsoDateTime | None = None


class CreateQueue(Input):
    name: str = Name
    priority: int = Field(default=1, le=1_000_000)  # >= 1: checked by the orchestration
    concurrency_limit: int | None = None  # checked by the orchestration
    description: str = Field(default="", max_length=10_000)


class UpdateQueue(Changes):
    """Only the fields given change; `concurrency_limit: null` removes the limit."""

    paused: bool | None = None
    priority: int | None = Field(default=None, le=1_000_000)
    concurrency_limit: int | None = None  # checked by the orchestration


class RegisterWorker(Input):
    name: str = Field(min_length=1, max_length=200)
    pool_name: str | None = Field(default=None, min_length=1, max_length=200)
    pid: int | None = Field(default=None, ge=0, le=2**31 - 1)
    worker_id: uuid.UUID | None = None
    hostname: str | None = Field(default=None, max_length=255)


class Heartbeat(Input):
    stopped: bool = False


class ClaimRuns(Input):
    worker_id: uuid.UUID
    limit: int = Field(ge=1, le=1000)
    lookahead: float = Field(default=0.0, ge=0, le=86400)
    # A long poll: with none due, answer as soon as some are (or after this many seconds).
    wait: float = Field(default=0.0, ge=0, le=MAX_CLAIM_WAIT)


# ---- outputs that are not models of their own --------------------------------------------


class NextRunTime(BaseModel):
    next_run_time: datetime | None


def _next_to_wire(value: datetime | None) -> NextRunTime:
    return NextRunTime(next_run_time=value)


def _next_from_wire(answer: NextRunTime) -> datetime | None:
    return answer.next_run_time


# ---- the operations -----------------------------------------------------------------------


class PoolOperations:
    """Work pools, queues, workers and claims."""

    @operation("GET", "/work-pools", READ, response=list[WorkPool], does="pools.list_pools")
    def list_pools(self) -> list[WorkPool]:
        """List work pools"""

    @operation(
        "POST",
        "/work-pools",
        ADMIN,
        body=CreatePool,
        response=WorkPool,
        status=201,
        does="pools.create_pool",
    )
    def create_pool(
        self,
        name: str,
        type: str,
        *,
        description: str = "",
        base_job_template: dict[str, Any] | None = None,
        concurrency_limit: int | None = None,
        paused: bool = False,
        quota_hours: float | None = None,
        quota_period: str = "month",
    ) -> WorkPool:
        """Create a work pool"""

    @operation(
        "GET",
        "/work-pools/{name}",
        pool_access("name", reads=True),
        params=PoolPath,
        response=WorkPool,
        does="pools.get_pool",
    )
    def get_pool(self, name: str) -> WorkPool:
        """Inspect a work pool"""

    @operation(
        "PATCH",
        "/work-pools/{name}",
        ADMIN,
        params=PoolPath,
        body=UpdatePool,
        response=WorkPool,
        does="pools.update_pool",
    )
    def update_pool(
        self,
        name: str,
        *,
        paused: bool | None = None,
        concurrency_limit: Any = KEEP,
        description: str | None = None,
        base_job_template: dict[str, Any] | None = None,
        quota_hours: Any = KEEP,
        quota_period: str | None = None,
    ) -> WorkPool:
        """Pause, resume, limit or describe a work pool"""

    @operation("DELETE", "/work-pools/{name}", ADMIN, params=PoolPath, does="pools.delete_pool")
    def delete_pool(self, name: str) -> None:
        """Delete a work pool"""

    @operation(
        "GET",
        "/usage",
        READ,
        params=UsageQuery,
        response=UsageReport,
        does="usage.usage_report",
    )
    def usage(
        self,
        *,
        pool_name: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> UsageReport:
        """Compute hours per pool, deployment and tag, and each pool's quota use.

        Between `since` (default: the start of this month, UTC) and `until` (default: now),
        times with a time zone in the years 1970-2200."""

    @operation(
        "GET",
        "/work-pools/{pool_name}/next-run-time",
        pool_access("pool_name", reads=True),
        params=NextRunTimeQuery,
        response=NextRunTime,
        to_wire=_next_to_wire,
        from_wire=_next_from_wire,
        does="claims.next_run_time",
    )
    def next_run_time(self, pool_name: str, *, lookahead: float = 0.0) -> datetime | None:
        """When the pool's next waiting run is due

        If beyond `lookahead` seconds from now."""

    @operation(
        "POST",
        "/work-pools/{pool_name}/claims",
        pool_access("pool_name"),
        params=QueuesPath,
        body=ClaimRuns,
        response=list[FlowRun],
        does="claims.claim_runs_or_wait",
        waits_for="wait",
        once=False,  # may wait (a long poll); the client settles a lost answer itself
    )
    def claim_runs(
        self,
        pool_name: str,
        worker_id: uuid.UUID,
        limit: int,
        *,
        lookahead: float = 0.0,
        wait: float = 0.0,
    ) -> list[FlowRun]:
        """Claim due runs of the pool for a worker (with wait: a long poll for them)

        Up to `limit` runs due now (or within `lookahead` seconds), each to one worker.
        With `wait`, when none is due, wait up to that many seconds for one: the answer
        comes as soon as runs can be claimed."""

    # work queues

    @operation(
        "GET",
        "/work-pools/{pool_name}/queues",
        pool_access("pool_name", reads=True),
        params=QueuesPath,
        response=list[WorkQueue],
        does="queues.list_queues",
    )
    def list_queues(self, pool_name: str) -> list[WorkQueue]:
        """List a pool's work queues"""

    @operation(
        "POST",
        "/work-pools/{pool_name}/queues",
        ADMIN,
        params=QueuesPath,
        body=CreateQueue,
        response=WorkQueue,
        status=201,
        does="queues.create_queue",
    )
    def create_queue(
        self,
        pool_name: str,
        name: str,
        *,
        priority: int = 1,
        concurrency_limit: int | None = None,
        description: str = "",
    ) -> WorkQueue:
        """Create a work queue"""

    @operation(
        "PATCH",
        "/work-pools/{pool_name}/queues/{name}",
        ADMIN,
        params=QueuePath,
        body=UpdateQueue,
        response=WorkQueue,
        does="queues.update_queue",
    )
    def update_queue(
        self,
        pool_name: str,
        name: str,
        *,
        paused: bool | None = None,
        priority: int | None = None,
        concurrency_limit: Any = KEEP,
    ) -> WorkQueue:
        """Pause, resume, prioritise or limit a work queue"""

    @operation(
        "DELETE",
        "/work-pools/{pool_name}/queues/{name}",
        ADMIN,
        params=QueuePath,
        does="queues.delete_queue",
    )
    def delete_queue(self, pool_name: str, name: str) -> None:
        """Delete a work queue"""

    # workers

    @operation(
        "GET",
        "/workers",
        pool_access("pool_name", reads=True),
        params=ListWorkersQuery,
        response=list[Worker],
        does="workers.list_workers",
    )
    def list_workers(self, pool_name: str | None = None) -> list[Worker]:
        """List workers"""

    @operation(
        "POST",
        "/workers",
        pool_access("pool_name"),
        body=RegisterWorker,
        response=Worker,
        status=201,
        does="workers.register_worker",
        filled_by_server=("server",),
    )
    def register_worker(
        self,
        name: str,
        pool_name: str | None,
        *,
        pid: int | None = None,
        worker_id: uuid.UUID | None = None,
        hostname: str | None = None,
    ) -> Worker:
        """Register a worker"""

    @operation(
        "GET",
        "/workers/{worker_id}",
        worker_access(reads=True),
        params=WorkerPath,
        response=Worker,
        does="workers.get_worker",
    )
    def get_worker(self, worker_id: uuid.UUID) -> Worker:
        """Inspect a worker"""

    @operation(
        "POST",
        "/workers/{worker_id}/heartbeat",
        worker_access(),
        params=WorkerPath,
        body=Heartbeat,
        once=False,
        does="workers.heartbeat",
        filled_by_server=("server",),
    )
    def heartbeat(self, worker_id: uuid.UUID, *, stopped: bool = False) -> None:
        """A worker's heartbeat"""

    @operation(
        "GET",
        "/workers/{worker_id}/runs",
        worker_access(reads=True),
        params=WorkerPath,
        response=list[HeldRun],
        does="fencing.held_runs",
    )
    def held_runs(self, worker_id: uuid.UUID) -> list[HeldRun]:
        """The runs the store says the worker holds

        Each with its attempt and state: a run the worker has in hand that is not among
        them, or under another attempt, is lost to it (it stops it); a CANCELLING one is to
        be cancelled."""

"""Domain objects and closed vocabularies, as every front end sees them (pydantic).

These are wire models: the store keeps rows of its own and converts at its boundary.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field


class PoolType(str, enum.Enum):
    """Which infrastructure a work pool's runs get.

    `process` and `docker` are pull pools: a worker someone starts polls them. A managed pool
    (`nborch:managed`) and the push pools (`docker-swarm`, `dask`, `kubernetes`) need no
    worker: the nborch server (or `nborch dispatcher start`) runs or submits their runs.
    """

    PROCESS = "process"
    DOCKER = "docker"
    MANAGED = "nborch:managed"
    DOCKER_SWARM = "docker-swarm"
    DASK = "dask"
    KUBERNETES = "kubernetes"

    @property
    def is_dispatched(self) -> bool:
        """Served by nborch's own dispatcher (managed and push pools), not a user's worker."""
        return self in DISPATCHED_POOL_TYPES


DISPATCHED_POOL_TYPES = frozenset(
    {PoolType.MANAGED, PoolType.DOCKER_SWARM, PoolType.DASK, PoolType.KUBERNETES}
)


class QuotaPeriod(str, enum.Enum):
    """The calendar period (UTC) a pool's compute-hours quota is counted over."""

    DAY = "day"
    WEEK = "week"  # from Monday 00:00 UTC
    MONTH = "month"


class PoolStatus(str, enum.Enum):
    READY = "READY"
    NOT_READY = "NOT_READY"
    PAUSED = "PAUSED"


class WorkerStatus(str, enum.Enum):
    ONLINE = "ONLINE"
    OFFLINE = "OFFLINE"


class StateType(str, enum.Enum):
    """The states of a flow run."""

    SCHEDULED = "SCHEDULED"
    LATE = "LATE"  # still waiting, past its time plus the grace period
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CRASHED = "CRASHED"
    CANCELLING = "CANCELLING"
    CANCELLED = "CANCELLED"

    @property
    def is_final(self) -> bool:
        return self in FINAL_STATES

    @property
    def holds_a_slot(self) -> bool:
        """Claimed by a worker and not finished: counts against concurrency limits."""
        return self in ACTIVE_STATES


FINAL_STATES = frozenset(
    {StateType.COMPLETED, StateType.FAILED, StateType.CRASHED, StateType.CANCELLED}
)
ACTIVE_STATES = frozenset({StateType.PENDING, StateType.RUNNING, StateType.CANCELLING})
WAITING_STATES = frozenset({StateType.SCHEDULED, StateType.LATE})


class CatchUp(str, enum.Enum):
    """What a schedule does with times it missed (nothing ran, or nothing could start):
    run them ALL, only the LATEST, or NONE of them."""

    ALL = "all"
    LATEST = "latest"
    NONE = "none"


class RetryOn(str, enum.Enum):
    """Which endings of a run are retried (while it has retries left): a failure (a cell
    raised, papermill failed), a crash (the infrastructure or its worker died), or the run's
    timeout. A run that times out ends FAILED, but counts as `timeout` only."""

    FAILED = "failed"
    CRASHED = "crashed"
    TIMEOUT = "timeout"


ALL_RETRY_ON = (RetryOn.FAILED, RetryOn.CRASHED, RetryOn.TIMEOUT)


def retry_on_of(values: str | Iterable[str | RetryOn]) -> list[RetryOn]:
    """`"failed,timeout"` (or a list of endings) as `RetryOn` values, without repeats;
    a ValueError naming the endings there are for anything else."""
    texts = (
        values.split(",")
        if isinstance(values, str)
        else [v.value if isinstance(v, RetryOn) else str(v) for v in values]
    )
    kinds = [text.strip().lower() for text in texts if text.strip()]
    allowed = [kind.value for kind in ALL_RETRY_ON]
    unknown = [kind for kind in kinds if kind not in allowed]
    if unknown or not kinds:
        raise ValueError(
            f"Retry on '{','.join(unknown) or values}' names no ending nborch retries. Give one "
            f"or more of {','.join(allowed)} (e.g. --retry-on failed,timeout)."
        )
    return [RetryOn(kind) for kind in dict.fromkeys(kinds)]


class _Model(BaseModel):
    model_config = ConfigDict(from_attributes=True, use_enum_values=False)


class _Spec(_Model):
    """What a front end sends (a request body, or part of one): a field it does not know is
    refused, never silently dropped, so a misspelt option is an error, not a no-op."""

    model_config = ConfigDict(extra="forbid")


class RunPolicy(_Model):
    """How long a run may take and how it is retried (`nborch.orchestration.run_policy`):
    a deployment's defaults, which its runs take unless they are given their own."""

    # The longest a run may be RUNNING (None: no limit); past it, its worker stops it and
    # it ends FAILED, "timed out in cell N after ...".
    timeout_seconds: float | None = None
    # A retry starts `retry_delay_seconds` after the ending, times `retry_backoff` for each
    # retry before it, plus up to 10% of that at random (jitter).
    retry_delay_seconds: float = 0.0
    retry_backoff: float = 1.0
    retry_on: list[RetryOn] = Field(default_factory=lambda: list(ALL_RETRY_ON))


class ParameterSpec(_Spec):
    """One flow parameter, as declared in the notebook's `parameters` cell."""

    name: str
    type: str = "any"  # one of nborch.parameters.TYPE_NAMES
    default: Any = None
    help: str = ""


class WorkQueue(_Model):
    id: UUID
    pool_name: str
    name: str
    priority: int = 1
    concurrency_limit: int | None = None
    paused: bool = False
    description: str = ""


class WorkPool(_Model):
    id: UUID
    name: str
    type: PoolType
    description: str = ""
    base_job_template: dict[str, Any] = Field(default_factory=dict)
    concurrency_limit: int | None = None
    paused: bool = False
    status: PoolStatus = PoolStatus.NOT_READY
    created: datetime
    # Compute hours the pool's runs may use per period; None: no quota.
    quota_hours: float | None = None
    quota_period: QuotaPeriod = QuotaPeriod.MONTH
    # Filled in by inspect/list: runs holding a slot, workers online.
    active_runs: int = 0
    workers_online: int = 0


class Worker(_Model):
    id: UUID
    name: str
    pool_name: str | None
    hostname: str = ""
    pid: int | None = None
    last_heartbeat: datetime
    status: WorkerStatus = WorkerStatus.ONLINE
    active_runs: int = 0
    server: str | None = None  # the server it talks through (None: the store itself)


class ScheduleSpec(_Spec):
    """A cron expression in a time zone, or an interval from an anchor, with the
    parameters its runs get (on top of the deployment's)."""

    cron: str | None = None
    interval_seconds: float | None = None
    anchor_date: datetime | None = None
    timezone: str = "UTC"
    parameters: dict[str, Any] = Field(default_factory=dict)
    active: bool = True

    def describe(self) -> str:
        if self.cron:
            return f"cron '{self.cron}' ({self.timezone})"
        return f"every {self.interval_seconds:g} s"


class Schedule(ScheduleSpec):
    model_config = ConfigDict(extra="ignore")  # an answer: fields of a newer server pass
    id: UUID
    deployment_name: str
    created: datetime
    next_run_time: datetime | None = None
    # Why the scheduler could not compute its next time: it makes no runs until the
    # schedule is changed or resumed.
    error: str | None = None


class Deployment(RunPolicy):
    id: UUID
    flow_name: str
    name: str
    source: str
    entrypoint: str
    parameter_specs: list[ParameterSpec] = Field(default_factory=list)
    parameters: dict[str, Any] = Field(default_factory=dict)
    pool_name: str | None = None
    queue_name: str | None = None
    job_variables: dict[str, Any] = Field(default_factory=dict)
    tags: list[str] = Field(default_factory=list)
    description: str = ""
    version: str | None = None
    paused: bool = False
    concurrency_limit: int | None = None
    retries: int = 0
    catch_up: CatchUp = CatchUp.LATEST
    schedules: list[Schedule] = Field(default_factory=list)
    created: datetime
    updated: datetime

    @property
    def full_name(self) -> str:
        return f"{self.flow_name}/{self.name}"


class DeploymentSpec(_Spec, RunPolicy):
    """What `deploy` asks for; the CLI, the Python API and the magics all build one."""

    flow_name: str
    name: str
    source: str
    entrypoint: str
    pool_name: str | None = None
    parameter_specs: list[ParameterSpec] = Field(default_factory=list)
    parameters: dict[str, Any] = Field(default_factory=dict)
    queue_name: str | None = None
    job_variables: dict[str, Any] = Field(default_factory=dict)
    tags: list[str] = Field(default_factory=list)
    description: str = ""
    version: str | None = None
    concurrency_limit: int | None = None
    retries: int = 0
    paused: bool = False
    catch_up: CatchUp = CatchUp.LATEST
    # None: keep the deployment's schedules as they are; a list: exactly these.
    schedules: list[ScheduleSpec] | None = None


class State(_Model):
    type: StateType
    timestamp: datetime
    message: str = ""


class CellFailure(_Spec):
    """Where a notebook raised: the cell and the exception, as papermill reports it."""

    cell_index: int
    execution_count: int | None = None
    source: str
    ename: str
    evalue: str


class FlowRun(RunPolicy):
    id: UUID
    name: str
    flow_name: str
    deployment_id: UUID | None = None
    deployment_name: str | None = None
    pool_name: str | None = None
    queue_name: str | None = None
    worker_id: UUID | None = None
    worker_name: str | None = None
    schedule_id: UUID | None = None
    state: StateType
    state_message: str = ""
    parameters: dict[str, Any] = Field(default_factory=dict)
    job_variables: dict[str, Any] = Field(default_factory=dict)
    source: str | None = None  # the deployment's source: a folder or a git URL
    source_commit: str | None = None  # the git commit this run was checked out at
    input_path: str
    cwd: str | None = None
    output_path: str | None = None
    infrastructure_id: str | None = None
    failure: CellFailure | None = None
    run_count: int = 0
    retries: int = 0
    # Which claim holds the run: its worker's writes about it carry this number.
    attempt: int = 0
    tags: list[str] = Field(default_factory=list)
    scheduled_time: datetime
    start_time: datetime | None = None
    end_time: datetime | None = None
    created: datetime
    # Who made the run: key:NAME (an API key), jupyter:USER (a Jupyter user), local:USER (a
    # process of that OS user on the store), or scheduler; None for runs older than that.
    created_by: str | None = None
    history: list[State] = Field(default_factory=list)

    @property
    def duration_seconds(self) -> float | None:
        if self.start_time is None:
            return None
        end = self.end_time or self.start_time
        return (end - self.start_time).total_seconds()


class HeldRun(_Model):
    """A run in a worker's hands as the store sees it: a worker that holds the run under
    another attempt, or not at all, has lost it; CANCELLING asks it to stop the run."""

    id: UUID
    attempt: int
    state: StateType


class LogLine(_Model):
    seq: int
    timestamp: datetime
    message: str


class ApiKeyRole(str, enum.Enum):
    """What an API key (or a Jupyter user) may do: everything; a worker's share of some
    pools; read pools, deployments, runs, logs and outputs and nothing secret (viewer); or
    that and run the deployments matching some patterns (runner). Which operation admits
    which role is declared per operation (`nborch.client.operations.Access`)."""

    ADMIN = "admin"
    WORKER = "worker"
    VIEWER = "viewer"
    RUNNER = "runner"


class ApiKey(_Model):
    """An API key as listed (the key itself is shown once, when it is created)."""

    id: UUID
    name: str
    prefix: str
    role: ApiKeyRole
    pools: list[str] = Field(default_factory=list)
    deployments: list[str] = Field(default_factory=list)  # a runner key's FLOW/NAME patterns
    created: datetime
    last_used: datetime | None = None
    revoked: datetime | None = None


class NewApiKey(ApiKey):
    """A key just created: `key` is the secret to hand to its user; nborch keeps its hash."""

    key: str


class SecretInfo(_Model):
    """A secret as listed: its name and when it was set, never its value."""

    name: str
    created: datetime
    updated: datetime


class UsageEntry(_Model):
    """Compute time of some runs: a pool's, a deployment's or a tag's, over a window."""

    name: str
    runs: int = 0  # runs that ran (some of) their time in the window
    hours: float = 0.0


class PoolUsage(UsageEntry):
    type: PoolType
    quota_hours: float | None = None
    quota_period: QuotaPeriod = QuotaPeriod.MONTH
    # Hours used in the quota's current period (whatever the report's window).
    quota_used_hours: float | None = None
    quota_resets: datetime | None = None


class UsageReport(_Model):
    """Hours of compute per pool, per deployment and per tag between `since` and `until`.

    A run's compute time is the time it spent RUNNING (and CANCELLING), each attempt counted;
    a run with several tags counts for each of them."""

    since: datetime
    until: datetime
    pools: list[PoolUsage] = Field(default_factory=list)
    deployments: list[UsageEntry] = Field(default_factory=list)
    tags: list[UsageEntry] = Field(default_factory=list)


# ---- what an operation hands back that is not stored ------------------------------------------


@dataclass
class TickResult:
    """What one scheduler tick did: runs made, marked LATE, skipped by the catch-up policy,
    and crashed (their worker vanished)."""

    created: int = 0
    late: int = 0
    skipped: int = 0
    crashed: int = 0
    # Schedules due by the horizon were left for the next tick (it stopped at its batch).
    more: bool = False


class Watch:
    """One subscription to a pool's wake-ups (see `nborch.store.wakeups`); `close()` ends it."""

    def __init__(self, close: Callable[[], None]) -> None:
        self._close = close
        self._closed = False

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._close()

"""The HTTP API's contract: one route per client operation.

The server's handlers and the HTTP client both read this table, so the two cannot drift: a
route names the `NborchClient` method it stands for, where its inputs travel (path, query,
body), what it answers, and who may call it. The OpenAPI document is made from it too.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from nborch.models import (
    ApiKey,
    CellFailure,
    Deployment,
    DeploymentSpec,
    FlowRun,
    LogLine,
    NewApiKey,
    ParameterSpec,
    PoolType,
    QuotaPeriod,
    Schedule,
    ScheduleSpec,
    SecretInfo,
    StateType,
    UsageReport,
    Worker,
    WorkPool,
    WorkQueue,
)
from nborch.orchestration.scheduler import TickResult

API_PREFIX = "/api/v1"
# A request sent again with its key is answered, not carried out twice (routes with `once`).
IDEMPOTENCY_HEADER = "Idempotency-Key"
# Request bodies beyond these sizes are refused (413) before they are parsed.
MAX_BODY_BYTES = 1024 * 1024
MAX_NOTEBOOK_BYTES = 64 * 1024 * 1024
# The longest a claim may wait for runs (a long poll), in seconds.
MAX_CLAIM_WAIT = 30.0


# ---- who may call a route -------------------------------------------------------------------


@dataclass(frozen=True)
class Access:
    """Who may call a route.

    `kind` is one of: "public" (anyone, e.g. health), "any" (any valid key), "admin" (admin keys only), "pool" (a
    worker key of the pool named by input `field`), "run" (of the run's pool), "worker" (of
    the worker's pool). Admin keys may call every route.
    """

    kind: str
    field: str | None = None


PUBLIC = Access("public")
ANY_KEY = Access("any")
ADMIN = Access("admin")


def pool_access(field: str) -> Access:
    return Access("pool", field)


def run_access(field: str = "run_id") -> Access:
    return Access("run", field)


def worker_access(field: str = "worker_id") -> Access:
    return Access("worker", field)


# ---- inputs ---------------------------------------------------------------------------------


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NoInput(_Input):
    pass


class Changes(_Input):
    """An update: only the fields given are passed on (the others are left as they are)."""


# Documented in the OpenAPI document, checked by the orchestration (whose messages say more).
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\- ]{0,99}$"
Name = Field(min_length=1, max_length=200, json_schema_extra={"pattern": NAME_PATTERN})


class PoolPath(_Input):
    name: str = Name


class QueuesPath(_Input):
    pool_name: str = Name


class QueuePath(_Input):
    pool_name: str = Name
    name: str = Name


class DeploymentPath(_Input):
    full_name: str = Field(min_length=3, max_length=401)


class SchedulePath(DeploymentPath):
    schedule_id: str = Field(min_length=1, max_length=36)


class RunPath(_Input):
    run_id: uuid.UUID


class WorkerPath(_Input):
    worker_id: uuid.UUID


class NamePath(_Input):
    name: str = Name


class ListWorkersQuery(_Input):
    pool_name: str | None = Field(default=None, min_length=1, max_length=200)


class ListDeploymentsQuery(_Input):
    pool_name: str | None = Field(default=None, min_length=1, max_length=200)


class NextRunTimeQuery(QueuesPath):
    lookahead: float = Field(default=0.0, ge=0, le=86400)


class ListRunsQuery(_Input):
    deployment: str | None = Field(default=None, min_length=3, max_length=401)
    pool_name: str | None = Field(default=None, min_length=1, max_length=200)
    states: list[StateType] = Field(default_factory=list, max_length=20)
    limit: int = Field(default=50, ge=1, le=1000)


class ReadLogsQuery(RunPath):
    after: int = Field(default=0, ge=0)
    limit: int | None = Field(default=None, ge=1, le=100_000)


class CreatePool(_Input):
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


IsoDateTime = Annotated[datetime, BeforeValidator(_iso_time)]


class UsageQuery(_Input):
    pool_name: str | None = Field(default=None, min_length=1, max_length=200)
    since: IsoDateTime | None = None
    until: IsoDateTime | None = None


class CreateQueue(_Input):
    name: str = Name
    priority: int = Field(default=1, le=1_000_000)  # >= 1: checked by the orchestration
    concurrency_limit: int | None = None  # checked by the orchestration
    description: str = Field(default="", max_length=10_000)


class UpdateQueue(Changes):
    """Only the fields given change; `concurrency_limit: null` removes the limit."""

    paused: bool | None = None
    priority: int | None = Field(default=None, le=1_000_000)
    concurrency_limit: int | None = None  # checked by the orchestration


class RegisterWorker(_Input):
    name: str = Field(min_length=1, max_length=200)
    pool_name: str | None = Field(default=None, min_length=1, max_length=200)
    pid: int | None = Field(default=None, ge=0, le=2**31 - 1)
    worker_id: uuid.UUID | None = None
    hostname: str | None = Field(default=None, max_length=255)


class Heartbeat(_Input):
    stopped: bool = False


class SetPaused(_Input):
    paused: bool


class SetActive(_Input):
    active: bool


class CreateRun(_Input):
    deployment: str = Field(min_length=3, max_length=401)
    parameters: dict[str, Any] | None = None
    job_variables: dict[str, Any] | None = None
    scheduled_time: datetime | None = None
    tags: list[str] = Field(default_factory=list, max_length=100)


class CreateAdhocRun(_Input):
    flow_name: str = Name
    input_path: str = Field(min_length=1, max_length=4096)
    parameters: dict[str, Any] = Field(default_factory=dict)
    job_variables: dict[str, Any] = Field(default_factory=dict)
    output_path: str | None = Field(default=None, max_length=4096)
    cwd: str | None = Field(default=None, max_length=4096)
    worker_id: uuid.UUID
    tags: list[str] = Field(default_factory=list, max_length=100)


class ClaimRuns(_Input):
    worker_id: uuid.UUID
    limit: int = Field(ge=1, le=1000)
    lookahead: float = Field(default=0.0, ge=0, le=86400)
    # A long poll: with none due, answer as soon as some are (or after this many seconds).
    wait: float = Field(default=0.0, ge=0, le=MAX_CLAIM_WAIT)


class SetState(_Input):
    state: StateType
    message: str = Field(default="", max_length=100_000)
    failure: CellFailure | None = None


class RecordInfrastructure(_Input):
    infrastructure_id: str = Field(min_length=1, max_length=200)


class RecordSourceCommit(_Input):
    commit: str = Field(min_length=4, max_length=64)


class TakeOverRun(_Input):
    worker_id: uuid.UUID
    from_worker_id: uuid.UUID | None = None


class AppendLogs(_Input):
    lines: list[str] = Field(max_length=100_000)


class SchedulerTick(_Input):
    holder: str = Field(min_length=1, max_length=400)
    crash_orphans: bool = True


class CreateApiKey(_Input):
    name: str = Name
    role: str = Field(min_length=1, max_length=20)
    pools: list[str] = Field(default_factory=list, max_length=1000)


class SetSecret(_Input):
    value: str = Field(min_length=1, max_length=65_536)


# What the JupyterLab panel asks: notebook paths are relative to the server's folder.
NotebookPath = Field(min_length=1, max_length=4096)
CronExpression = Field(min_length=1, max_length=200)
TimeZone = Field(default="UTC", min_length=1, max_length=100)


class NotebookPathQuery(_Input):
    path: str = NotebookPath


class CronPreviewQuery(_Input):
    cron: str = CronExpression
    timezone: str = TimeZone
    count: int = Field(default=5, ge=1, le=50)


class DeployNotebook(_Input):
    """Deploy the notebook at `path` (under the server's folder) as `flow_name/name`; its
    schedule is exactly `cron` (in `timezone`), or none without one."""

    path: str = NotebookPath
    name: str = Name
    pool_name: str = Name
    flow_name: str | None = Field(
        default=None, min_length=1, max_length=200, json_schema_extra={"pattern": NAME_PATTERN}
    )
    cron: str | None = Field(default=None, max_length=200)
    timezone: str = TimeZone
    parameters: dict[str, Any] = Field(default_factory=dict)
    job_variables: dict[str, Any] = Field(default_factory=dict)
    image: str | None = Field(default=None, min_length=1, max_length=400)
    build_image: bool = False  # build `image` from the notebook's folder (docker pools)
    description: str = Field(default="", max_length=10_000)


# ---- outputs that are not models of their own -------------------------------------------------


class AppliedDeployment(BaseModel):
    deployment: Deployment
    created: bool


class NextRunTime(BaseModel):
    next_run_time: datetime | None


class Health(BaseModel):
    status: str
    version: str


class NotebookParameters(BaseModel):
    path: str
    flow_name: str  # the flow's name when deployed: from the notebook's file name
    parameters: list[ParameterSpec]


class CronPreview(BaseModel):
    cron: str  # as nborch reads it (spaces normalised, nicknames lower-cased)
    timezone: str
    times: list[datetime]  # the next fire times, aware UTC


# ---- the table ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    """One API operation: `op` is the `NborchClient` method it stands for."""

    method: str
    path: str  # under API_PREFIX; `{field}` segments are path inputs
    op: str
    access: Access
    summary: str
    params: type[BaseModel] = NoInput  # path and query inputs
    body: type[BaseModel] | Any = None  # a model whose fields are inputs, or any other type
    body_arg: str | None = None  # set when the whole body is one input of that name
    response: Any = None  # None: 204 No Content
    status: int = 200
    content_type: str = "application/json"
    max_body: int = MAX_BODY_BYTES
    # wire answer -> what the client method returns, and back
    to_wire: Callable[[Any], Any] | None = None
    from_wire: Callable[[Any], Any] | None = None
    # Not idempotent by itself: the client sends an Idempotency-Key, and a copy of the
    # request (sent again after a lost answer) gets the first one's answer.
    once: bool = False

    @property
    def success_status(self) -> int:
        return 204 if self.response is None else self.status

    @property
    def path_fields(self) -> list[str]:
        return re.findall(r"\{(\w+)\}", self.path)


def _applied_to_wire(result: tuple[Deployment, bool]) -> AppliedDeployment:
    return AppliedDeployment(deployment=result[0], created=result[1])


def _applied_from_wire(answer: AppliedDeployment) -> tuple[Deployment, bool]:
    return answer.deployment, answer.created


def _next_to_wire(value: datetime | None) -> NextRunTime:
    return NextRunTime(next_run_time=value)


def _next_from_wire(answer: NextRunTime) -> datetime | None:
    return answer.next_run_time


def _route(method: str, path: str, op: str, access: Access, summary: str, **rest: Any) -> Route:
    rest.setdefault("once", method == "POST")  # GET, PUT, PATCH and DELETE repeat harmlessly
    return Route(method, path, op, access, summary, **rest)


# fmt: off
ROUTES: list[Route] = [
    # answered by the server itself, not by a client operation
    _route("GET", "/health", "health", PUBLIC, "Is the server up", response=Health),
    _route(
        "GET", "/openapi.json", "openapi", ANY_KEY, "This API's OpenAPI document",
        response=dict[str, Any],
    ),
    _route(
        "GET", "/flow-runs/{run_id}/output.html", "output_html", run_access(),
        "The run's output notebook as HTML", params=RunPath, response=str,
        content_type="text/html",
    ),
    # for the JupyterLab panel
    _route(
        "GET", "/notebook-parameters", "notebook_parameters", ADMIN,
        "The parameters of a notebook in the server's folder (from its cell tagged parameters)",
        params=NotebookPathQuery, response=NotebookParameters,
    ),
    _route(
        "GET", "/cron-preview", "cron_preview", ADMIN,
        "The next times of a cron expression in a time zone",
        params=CronPreviewQuery, response=CronPreview,
    ),
    _route(
        "POST", "/deploy-notebook", "deploy_notebook", ADMIN,
        "Deploy a notebook in the server's folder by its path",
        body=DeployNotebook, body_arg="request", response=AppliedDeployment,
    ),
    # work pools
    _route("GET", "/work-pools", "list_pools", ADMIN, "List work pools", response=list[WorkPool]),
    _route(
        "POST", "/work-pools", "create_pool", ADMIN, "Create a work pool",
        body=CreatePool, response=WorkPool, status=201,
    ),
    _route(
        "GET", "/work-pools/{name}", "get_pool", pool_access("name"), "Inspect a work pool",
        params=PoolPath, response=WorkPool,
    ),
    _route(
        "PATCH", "/work-pools/{name}", "update_pool", ADMIN, "Pause, resume, limit or describe a work pool",
        params=PoolPath, body=UpdatePool, response=WorkPool,
    ),
    _route(
        "DELETE", "/work-pools/{name}", "delete_pool", ADMIN, "Delete a work pool",
        params=PoolPath,
    ),
    _route(
        "GET", "/usage", "usage", ADMIN,
        "Compute hours per pool, deployment and tag, and each pool's quota use",
        params=UsageQuery, response=UsageReport,
    ),
    _route(
        "GET", "/work-pools/{pool_name}/next-run-time", "next_run_time", pool_access("pool_name"),
        "When the pool's next waiting run is due",
        params=NextRunTimeQuery, response=NextRunTime,
        to_wire=_next_to_wire, from_wire=_next_from_wire,
    ),
    _route(
        "POST", "/work-pools/{pool_name}/claims", "claim_runs", pool_access("pool_name"),
        "Claim due runs of the pool for a worker (with wait: a long poll for them)",
        params=QueuesPath, body=ClaimRuns, response=list[FlowRun],
        once=False,  # may wait (a long poll); the client settles a lost answer itself
    ),
    # work queues
    _route(
        "GET", "/work-pools/{pool_name}/queues", "list_queues", pool_access("pool_name"),
        "List a pool's work queues", params=QueuesPath, response=list[WorkQueue],
    ),
    _route(
        "POST", "/work-pools/{pool_name}/queues", "create_queue", ADMIN, "Create a work queue",
        params=QueuesPath, body=CreateQueue, response=WorkQueue, status=201,
    ),
    _route(
        "PATCH", "/work-pools/{pool_name}/queues/{name}", "update_queue", ADMIN,
        "Pause, resume, prioritise or limit a work queue",
        params=QueuePath, body=UpdateQueue, response=WorkQueue,
    ),
    _route(
        "DELETE", "/work-pools/{pool_name}/queues/{name}", "delete_queue", ADMIN,
        "Delete a work queue", params=QueuePath,
    ),
    # workers
    _route(
        "GET", "/workers", "list_workers", pool_access("pool_name"), "List workers",
        params=ListWorkersQuery, response=list[Worker],
    ),
    _route(
        "POST", "/workers", "register_worker", pool_access("pool_name"), "Register a worker",
        body=RegisterWorker, response=Worker, status=201,
    ),
    _route(
        "GET", "/workers/{worker_id}", "get_worker", worker_access(), "Inspect a worker",
        params=WorkerPath, response=Worker,
    ),
    _route(
        "POST", "/workers/{worker_id}/heartbeat", "heartbeat", worker_access(),
        "A worker's heartbeat", params=WorkerPath, body=Heartbeat, once=False,
    ),
    _route(
        "GET", "/workers/{worker_id}/cancelling", "runs_being_cancelled", worker_access(),
        "The worker's runs that are being cancelled", params=WorkerPath, response=list[str],
    ),
    # deployments and schedules
    _route(
        "GET", "/deployments", "list_deployments", ADMIN, "List deployments",
        params=ListDeploymentsQuery, response=list[Deployment],
    ),
    _route(
        "PUT", "/deployments", "apply_deployment", ADMIN, "Create or update a deployment",
        body=DeploymentSpec, body_arg="spec", response=AppliedDeployment,
        to_wire=_applied_to_wire, from_wire=_applied_from_wire,
    ),
    _route(
        "GET", "/deployments/{full_name}", "get_deployment", ADMIN,
        "Inspect a deployment (FLOW/NAME, the slash percent-encoded)",
        params=DeploymentPath, response=Deployment,
    ),
    _route(
        "PATCH", "/deployments/{full_name}", "set_deployment_paused", ADMIN,
        "Pause or resume a deployment", params=DeploymentPath, body=SetPaused, response=Deployment,
    ),
    _route(
        "DELETE", "/deployments/{full_name}", "delete_deployment", ADMIN, "Delete a deployment",
        params=DeploymentPath,
    ),
    _route(
        "GET", "/deployments/{full_name}/schedules", "list_schedules", ADMIN,
        "List a deployment's schedules", params=DeploymentPath, response=list[Schedule],
    ),
    _route(
        "POST", "/deployments/{full_name}/schedules", "create_schedule", ADMIN,
        "Add a schedule to a deployment",
        params=DeploymentPath, body=ScheduleSpec, body_arg="spec", response=Schedule, status=201,
    ),
    _route(
        "PATCH", "/deployments/{full_name}/schedules/{schedule_id}", "set_schedule_active",
        ADMIN, "Pause or resume a schedule",
        params=SchedulePath, body=SetActive, response=Schedule,
    ),
    _route(
        "DELETE", "/deployments/{full_name}/schedules/{schedule_id}", "delete_schedule", ADMIN,
        "Delete a schedule", params=SchedulePath,
    ),
    _route(
        "POST", "/scheduler/tick", "scheduler_tick", ADMIN,
        "One scheduler tick, if the holder gets the lease",
        body=SchedulerTick, response=TickResult | None, once=False,
    ),
    # flow runs
    _route(
        "GET", "/flow-runs", "list_runs", pool_access("pool_name"), "List flow runs, newest first",
        params=ListRunsQuery, response=list[FlowRun],
    ),
    _route(
        "POST", "/flow-runs", "create_run", ADMIN, "Create a run of a deployment",
        body=CreateRun, response=FlowRun, status=201,
    ),
    _route(
        "POST", "/flow-runs/adhoc", "create_adhoc_run", ADMIN,
        "Record a run of a notebook outside any deployment (nborch run)",
        body=CreateAdhocRun, response=FlowRun, status=201,
    ),
    _route(
        "POST", "/flow-runs/crash-orphaned", "crash_orphaned_runs", ADMIN,
        "Mark the runs of vanished workers CRASHED", response=list[str], once=False,
    ),
    _route(
        "GET", "/flow-runs/{run_id}", "get_run", run_access(), "Inspect a flow run",
        params=RunPath, response=FlowRun,
    ),
    _route(
        "POST", "/flow-runs/{run_id}/state", "set_state", run_access(),
        "Move a run to another state", params=RunPath, body=SetState, response=FlowRun,
    ),
    _route(
        "POST", "/flow-runs/{run_id}/cancel", "cancel_run", ADMIN, "Cancel a flow run",
        params=RunPath, response=FlowRun,
    ),
    _route(
        "POST", "/flow-runs/{run_id}/take-over", "take_over_run", run_access(),
        "Hand a run of a vanished worker to another", params=RunPath, body=TakeOverRun,
        response=FlowRun,
    ),
    _route(
        "POST", "/flow-runs/{run_id}/infrastructure", "record_infrastructure", run_access(),
        "Record the run's process or container", params=RunPath, body=RecordInfrastructure,
        once=False,
    ),
    _route(
        "POST", "/flow-runs/{run_id}/source-commit", "record_source_commit", run_access(),
        "Record the git commit the run was checked out at",
        params=RunPath, body=RecordSourceCommit, once=False,
    ),
    _route(
        "GET", "/flow-runs/{run_id}/logs", "read_logs", run_access(), "Read a run's logs",
        params=ReadLogsQuery, response=list[LogLine],
    ),
    _route(
        "POST", "/flow-runs/{run_id}/logs", "append_logs", run_access(), "Append log lines",
        params=RunPath, body=AppendLogs,
    ),
    _route(
        "GET", "/flow-runs/{run_id}/output-notebook", "read_output_notebook", run_access(),
        "The run's output notebook (nbformat JSON), null while there is none",
        params=RunPath, response=dict[str, Any] | None,
    ),
    _route(
        "PUT", "/flow-runs/{run_id}/output-notebook", "write_output_notebook", run_access(),
        "Store the run's output notebook", params=RunPath, body=dict[str, Any],
        body_arg="notebook", max_body=MAX_NOTEBOOK_BYTES,
    ),
    _route(
        "GET", "/flow-runs/{run_id}/secrets", "resolve_run_secrets", run_access(),
        "The values of the secrets the run references (for the worker that runs it)",
        params=RunPath, response=dict[str, str],
    ),
    # secrets
    _route("GET", "/secrets", "list_secrets", ADMIN, "List secrets (names only)", response=list[SecretInfo]),
    _route(
        "PUT", "/secrets/{name}", "set_secret", ADMIN, "Create or replace a secret",
        params=NamePath, body=SetSecret, response=SecretInfo,
    ),
    _route("DELETE", "/secrets/{name}", "delete_secret", ADMIN, "Delete a secret", params=NamePath),
    # API keys
    _route("GET", "/api-keys", "list_api_keys", ADMIN, "List API keys", response=list[ApiKey]),
    _route(
        "POST", "/api-keys", "create_api_key", ADMIN,
        "Create an API key (its secret is in this answer only)",
        body=CreateApiKey, response=NewApiKey, status=201,
        once=False,  # an answer with a secret is never stored; a copy finds the name taken
    ),
    _route(
        "DELETE", "/api-keys/{name}", "revoke_api_key", ADMIN, "Revoke an API key",
        params=NamePath, response=ApiKey,
    ),
]
# fmt: on

ROUTES_BY_OP: dict[str, Route] = {route.op: route for route in ROUTES}
# Operations the server answers itself; every other route is a client method.
SERVER_OPS = frozenset(
    {"health", "openapi", "output_html", "notebook_parameters", "cron_preview", "deploy_notebook"}
)

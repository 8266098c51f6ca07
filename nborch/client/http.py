"""The HTTP client: the same questions as `LocalClient`, asked of a server over its API.

Every method is one route of `nborch.client.routes`; answers and errors come back as the same
models and the same error classes (with the same messages) as in-process.

While the server cannot be reached, a call is retried for `retry_for` seconds (a worker keeps
trying for minutes, a command for a few seconds), so a server restart loses nothing.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx
from pydantic import TypeAdapter
from pydantic_core import to_jsonable_python

from nborch.client.base import KEEP, NborchClient
from nborch.client.routes import API_PREFIX, IDEMPOTENCY_HEADER, ROUTES_BY_OP, Route
from nborch.client.wire_errors import ServerUnavailableError, error_from_body
from nborch.errors import ConflictError
from nborch.models import (
    ApiKey,
    CellFailure,
    Deployment,
    DeploymentSpec,
    FlowRun,
    LogLine,
    NewApiKey,
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

# Answers that say "not now" rather than "no": retried like a lost connection.
_RETRY_STATUSES = {502, 503, 504}


class HttpClient(NborchClient):
    """A client of the nborch server at `url` (NBORCH_API_URL), with an API key."""

    is_remote = True

    def __init__(
        self,
        url: str,
        api_key: str | None = None,
        *,
        retry_for: float = 10.0,
        timeout: float = 30.0,
        on_connection: Callable[[bool, str], None] | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.http = httpx.Client(base_url=self.url + API_PREFIX, headers=headers, timeout=timeout)
        self.timeout = timeout
        self.retry_for = retry_for
        # Told (False, why) when the server is lost and (True, "") when it answers again.
        self.on_connection = on_connection
        self._lost = threading.Event()
        # Per thread: did the last call go out more than once? Then the server may have
        # done it already, its answer lost (see set_state and claim_runs).
        self._calls = threading.local()

    def close(self) -> None:
        self.http.close()

    # ---- one route ------------------------------------------------------------------------

    def _call(self, op: str, **kwargs: Any) -> Any:
        route = ROUTES_BY_OP[op]
        args = {name: value for name, value in kwargs.items() if value is not KEEP}
        path = route.path
        for name in route.path_fields:
            path = path.replace("{" + name + "}", quote(str(args.pop(name)), safe=""))
        query = {
            name: to_jsonable_python(args.pop(name))
            for name in list(args)
            if name in route.params.model_fields and args[name] is not None
        }
        body: Any = None
        if route.body_arg:
            body = to_jsonable_python(args.pop(route.body_arg))
        elif route.body is not None:
            body = to_jsonable_python(args)
        response = self._send(route, path, query, body)
        if response.status_code >= 400:
            raise error_from_body(response.status_code, _json_or_text(response))
        if route.response is None:
            return None
        value = TypeAdapter(route.response).validate_python(response.json())
        return route.from_wire(value) if route.from_wire else value

    def _send(self, route: Route, path: str, query: dict[str, Any], body: Any) -> httpx.Response:
        deadline = time.monotonic() + self.retry_for
        pause = 0.2
        self._calls.sent_again = False
        # Every copy of the request carries the same key: the server carries it out once.
        headers = {IDEMPOTENCY_HEADER: str(uuid.uuid4())} if route.once else None
        while True:
            try:
                response = self.http.request(
                    route.method,
                    path,
                    params=query,
                    json=body if body is not None else None,
                    headers=headers,
                    # A long poll's answer may take its wait on top of the usual time.
                    timeout=getattr(self._calls, "timeout", None) or httpx.USE_CLIENT_DEFAULT,
                )
            except httpx.TransportError as err:
                failure = f"{type(err).__name__}: {err}"
            else:
                if response.status_code not in _RETRY_STATUSES:
                    self._connected()
                    return response
                failure = f"HTTP {response.status_code}"
                if time.monotonic() >= deadline:
                    return response
            if time.monotonic() >= deadline:
                raise ServerUnavailableError(
                    f"Cannot reach the nborch server at {self.url} ({failure}). Start it with: "
                    "nborch server start — or unset NBORCH_API_URL to use the local store."
                )
            self._disconnected(failure)
            time.sleep(pause)
            pause = min(pause * 2, 2.0)
            self._calls.sent_again = True

    def _disconnected(self, why: str) -> None:
        if not self._lost.is_set():
            self._lost.set()
            if self.on_connection:
                self.on_connection(False, why)

    def _connected(self) -> None:
        if self._lost.is_set():
            self._lost.clear()
            if self.on_connection:
                self.on_connection(True, "")

    # ---- work pools -----------------------------------------------------------------------

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
        return self._call(  # type: ignore[no-any-return]
            "create_pool",
            name=name,
            type=type,
            description=description,
            base_job_template=base_job_template,
            concurrency_limit=concurrency_limit,
            paused=paused,
            quota_hours=quota_hours,
            quota_period=quota_period,
        )

    def get_pool(self, name: str) -> WorkPool:
        return self._call("get_pool", name=name)  # type: ignore[no-any-return]

    def list_pools(self) -> list[WorkPool]:
        return self._call("list_pools")  # type: ignore[no-any-return]

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
        changes = {
            "paused": paused,
            "description": description,
            "base_job_template": base_job_template,
            "quota_period": quota_period,
        }
        return self._call(  # type: ignore[no-any-return]
            "update_pool",
            name=name,
            concurrency_limit=concurrency_limit,
            quota_hours=quota_hours,
            **{key: value for key, value in changes.items() if value is not None},
        )

    def delete_pool(self, name: str) -> None:
        self._call("delete_pool", name=name)

    def usage(
        self,
        *,
        pool_name: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> UsageReport:
        return self._call(  # type: ignore[no-any-return]
            "usage", pool_name=pool_name, since=since, until=until
        )

    # ---- work queues ----------------------------------------------------------------------

    def create_queue(
        self,
        pool_name: str,
        name: str,
        *,
        priority: int = 1,
        concurrency_limit: int | None = None,
        description: str = "",
    ) -> WorkQueue:
        return self._call(  # type: ignore[no-any-return]
            "create_queue",
            pool_name=pool_name,
            name=name,
            priority=priority,
            concurrency_limit=concurrency_limit,
            description=description,
        )

    def list_queues(self, pool_name: str) -> list[WorkQueue]:
        return self._call("list_queues", pool_name=pool_name)  # type: ignore[no-any-return]

    def update_queue(
        self,
        pool_name: str,
        name: str,
        *,
        paused: bool | None = None,
        priority: int | None = None,
        concurrency_limit: Any = KEEP,
    ) -> WorkQueue:
        changes = {"paused": paused, "priority": priority}
        return self._call(  # type: ignore[no-any-return]
            "update_queue",
            pool_name=pool_name,
            name=name,
            concurrency_limit=concurrency_limit,
            **{key: value for key, value in changes.items() if value is not None},
        )

    def delete_queue(self, pool_name: str, name: str) -> None:
        self._call("delete_queue", pool_name=pool_name, name=name)

    # ---- workers --------------------------------------------------------------------------

    def register_worker(
        self,
        name: str,
        pool_name: str | None,
        *,
        pid: int | None = None,
        worker_id: uuid.UUID | None = None,
        hostname: str | None = None,
    ) -> Worker:
        return self._call(  # type: ignore[no-any-return]
            "register_worker",
            name=name,
            pool_name=pool_name,
            pid=pid,
            worker_id=worker_id,
            hostname=hostname,
        )

    def heartbeat(self, worker_id: uuid.UUID, *, stopped: bool = False) -> None:
        self._call("heartbeat", worker_id=worker_id, stopped=stopped)

    def list_workers(self, pool_name: str | None = None) -> list[Worker]:
        return self._call("list_workers", pool_name=pool_name)  # type: ignore[no-any-return]

    def get_worker(self, worker_id: uuid.UUID) -> Worker:
        return self._call("get_worker", worker_id=worker_id)  # type: ignore[no-any-return]

    # ---- deployments and schedules --------------------------------------------------------

    def apply_deployment(self, spec: DeploymentSpec) -> tuple[Deployment, bool]:
        return self._call("apply_deployment", spec=spec)  # type: ignore[no-any-return]

    def get_deployment(self, full_name: str) -> Deployment:
        return self._call("get_deployment", full_name=full_name)  # type: ignore[no-any-return]

    def list_deployments(self, *, pool_name: str | None = None) -> list[Deployment]:
        return self._call("list_deployments", pool_name=pool_name)  # type: ignore[no-any-return]

    def set_deployment_paused(self, full_name: str, paused: bool) -> Deployment:
        return self._call(  # type: ignore[no-any-return]
            "set_deployment_paused", full_name=full_name, paused=paused
        )

    def delete_deployment(self, full_name: str) -> None:
        self._call("delete_deployment", full_name=full_name)

    def create_schedule(self, full_name: str, spec: ScheduleSpec) -> Schedule:
        return self._call(  # type: ignore[no-any-return]
            "create_schedule", full_name=full_name, spec=spec
        )

    def list_schedules(self, full_name: str) -> list[Schedule]:
        return self._call("list_schedules", full_name=full_name)  # type: ignore[no-any-return]

    def set_schedule_active(self, full_name: str, schedule_id: str, active: bool) -> Schedule:
        return self._call(  # type: ignore[no-any-return]
            "set_schedule_active", full_name=full_name, schedule_id=schedule_id, active=active
        )

    def delete_schedule(self, full_name: str, schedule_id: str) -> None:
        self._call("delete_schedule", full_name=full_name, schedule_id=schedule_id)

    def scheduler_tick(self, holder: str, *, crash_orphans: bool = True) -> TickResult | None:
        return self._call(  # type: ignore[no-any-return]
            "scheduler_tick", holder=holder, crash_orphans=crash_orphans
        )

    def next_run_time(self, pool_name: str, *, lookahead: float = 0.0) -> datetime | None:
        return self._call(  # type: ignore[no-any-return]
            "next_run_time", pool_name=pool_name, lookahead=lookahead
        )

    # ---- flow runs ------------------------------------------------------------------------

    def create_run(
        self,
        deployment: str,
        *,
        parameters: dict[str, Any] | None = None,
        job_variables: dict[str, Any] | None = None,
        scheduled_time: datetime | None = None,
        tags: Sequence[str] = (),
    ) -> FlowRun:
        return self._call(  # type: ignore[no-any-return]
            "create_run",
            deployment=deployment,
            parameters=parameters,
            job_variables=job_variables,
            scheduled_time=scheduled_time,
            tags=list(tags),
        )

    def create_adhoc_run(
        self,
        flow_name: str,
        input_path: str,
        *,
        parameters: dict[str, Any],
        job_variables: dict[str, Any],
        output_path: str | None,
        cwd: str | None,
        worker_id: uuid.UUID,
        tags: Sequence[str] = (),
    ) -> FlowRun:
        return self._call(  # type: ignore[no-any-return]
            "create_adhoc_run",
            flow_name=flow_name,
            input_path=input_path,
            parameters=parameters,
            job_variables=job_variables,
            output_path=output_path,
            cwd=cwd,
            worker_id=worker_id,
            tags=list(tags),
        )

    def get_run(self, run_id: str | uuid.UUID) -> FlowRun:
        return self._call("get_run", run_id=run_id)  # type: ignore[no-any-return]

    def list_runs(
        self,
        *,
        deployment: str | None = None,
        pool_name: str | None = None,
        states: Sequence[StateType] = (),
        limit: int = 50,
    ) -> list[FlowRun]:
        return self._call(  # type: ignore[no-any-return]
            "list_runs",
            deployment=deployment,
            pool_name=pool_name,
            states=list(states) or None,
            limit=limit,
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
        self._calls.timeout = wait + self.timeout if wait > 0 else None
        try:
            claimed: list[FlowRun] = self._call(
                "claim_runs",
                pool_name=pool_name,
                worker_id=worker_id,
                limit=limit,
                lookahead=lookahead,
                **({"wait": wait} if wait > 0 else {}),
            )
        finally:
            self._calls.timeout = None
        if self._calls.sent_again:
            # A claim whose answer was lost handed runs to this worker all the same: take them
            # too, or they would wait, PENDING, for as long as the worker lives.
            got = {run.id for run in claimed}
            pending = self.list_runs(pool_name=pool_name, states=[StateType.PENDING], limit=1000)
            claimed += [r for r in pending if r.worker_id == worker_id and r.id not in got]
        return claimed

    def set_state(
        self,
        run_id: str | uuid.UUID,
        state: StateType,
        message: str = "",
        *,
        failure: CellFailure | None = None,
    ) -> FlowRun:
        try:
            return self._call(  # type: ignore[no-any-return]
                "set_state", run_id=run_id, state=state, message=message, failure=failure
            )
        except ConflictError:
            if not self._calls.sent_again:
                raise
            # Sent again after a lost answer: the change may have been made the first time.
            run = self.get_run(run_id)
            if run.state is state:
                return run
            raise

    def record_infrastructure(self, run_id: str | uuid.UUID, infrastructure_id: str) -> None:
        self._call("record_infrastructure", run_id=run_id, infrastructure_id=infrastructure_id)

    def record_source_commit(self, run_id: str | uuid.UUID, commit: str) -> None:
        self._call("record_source_commit", run_id=run_id, commit=commit)

    def take_over_run(
        self,
        run_id: str | uuid.UUID,
        worker_id: uuid.UUID,
        *,
        from_worker_id: uuid.UUID | None,
    ) -> FlowRun:
        return self._call(  # type: ignore[no-any-return]
            "take_over_run", run_id=run_id, worker_id=worker_id, from_worker_id=from_worker_id
        )

    def cancel_run(self, run_id: str | uuid.UUID) -> FlowRun:
        return self._call("cancel_run", run_id=run_id)  # type: ignore[no-any-return]

    def runs_being_cancelled(self, worker_id: uuid.UUID) -> list[str]:
        return self._call(  # type: ignore[no-any-return]
            "runs_being_cancelled", worker_id=worker_id
        )

    def crash_orphaned_runs(self) -> list[str]:
        return self._call("crash_orphaned_runs")  # type: ignore[no-any-return]

    def append_logs(self, run_id: str | uuid.UUID, lines: Sequence[str]) -> None:
        self._call("append_logs", run_id=run_id, lines=list(lines))

    def read_logs(
        self, run_id: str | uuid.UUID, *, after: int = 0, limit: int | None = None
    ) -> list[LogLine]:
        return self._call(  # type: ignore[no-any-return]
            "read_logs", run_id=run_id, after=after, limit=limit
        )

    # ---- API keys -------------------------------------------------------------------------

    def create_api_key(self, name: str, role: str, pools: Sequence[str] = ()) -> NewApiKey:
        return self._call(  # type: ignore[no-any-return]
            "create_api_key", name=name, role=role, pools=list(pools)
        )

    def list_api_keys(self) -> list[ApiKey]:
        return self._call("list_api_keys")  # type: ignore[no-any-return]

    def revoke_api_key(self, name: str) -> ApiKey:
        return self._call("revoke_api_key", name=name)  # type: ignore[no-any-return]

    # ---- secrets --------------------------------------------------------------------------

    def set_secret(self, name: str, value: str) -> SecretInfo:
        return self._call("set_secret", name=name, value=value)  # type: ignore[no-any-return]

    def list_secrets(self) -> list[SecretInfo]:
        return self._call("list_secrets")  # type: ignore[no-any-return]

    def delete_secret(self, name: str) -> None:
        self._call("delete_secret", name=name)

    def resolve_run_secrets(self, run_id: str | uuid.UUID) -> dict[str, str]:
        return self._call("resolve_run_secrets", run_id=run_id)  # type: ignore[no-any-return]

    # ---- output notebooks -----------------------------------------------------------------

    def read_output_notebook(self, run_id: str | uuid.UUID) -> dict[str, Any] | None:
        return self._call("read_output_notebook", run_id=run_id)  # type: ignore[no-any-return]

    def write_output_notebook(self, run_id: str | uuid.UUID, notebook: dict[str, Any]) -> None:
        self._call("write_output_notebook", run_id=run_id, notebook=notebook)


def _json_or_text(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text

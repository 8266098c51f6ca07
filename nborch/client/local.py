"""The in-process client: calls the orchestration services on the local store."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from nborch.client.base import KEEP, NborchClient
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
from nborch.orchestration import (
    api_keys,
    claims,
    deployments,
    output_notebooks,
    pools,
    queues,
    run_logs,
    runs,
    scheduler,
    schedules,
    secrets,
    usage,
    workers,
)
from nborch.orchestration.scheduler import TickResult
from nborch.settings import get_settings
from nborch.store.engine import Store, open_store
from nborch.store.wakeups import Watch


class LocalClient(NborchClient):
    """Answers from the store named by the settings (SQLite under NBORCH_HOME by default)."""

    def __init__(self, store: Store | None = None) -> None:
        self.store = store or open_store(get_settings().resolved_database_url)

    # work pools
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
        return pools.create_pool(
            self.store,
            name,
            type,
            description=description,
            base_job_template=base_job_template,
            concurrency_limit=concurrency_limit,
            paused=paused,
            quota_hours=quota_hours,
            quota_period=quota_period,
        )

    def get_pool(self, name: str) -> WorkPool:
        return pools.get_pool(self.store, name)

    def list_pools(self) -> list[WorkPool]:
        return pools.list_pools(self.store)

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
        return pools.update_pool(
            self.store,
            name,
            paused=paused,
            concurrency_limit=concurrency_limit,
            description=description,
            base_job_template=base_job_template,
            quota_hours=quota_hours,
            quota_period=quota_period,
        )

    def delete_pool(self, name: str) -> None:
        pools.delete_pool(self.store, name)

    def usage(
        self,
        *,
        pool_name: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> UsageReport:
        return usage.usage_report(self.store, pool_name=pool_name, since=since, until=until)

    # work queues
    def create_queue(
        self,
        pool_name: str,
        name: str,
        *,
        priority: int = 1,
        concurrency_limit: int | None = None,
        description: str = "",
    ) -> WorkQueue:
        return queues.create_queue(
            self.store,
            pool_name,
            name,
            priority=priority,
            concurrency_limit=concurrency_limit,
            description=description,
        )

    def list_queues(self, pool_name: str) -> list[WorkQueue]:
        return queues.list_queues(self.store, pool_name)

    def update_queue(
        self,
        pool_name: str,
        name: str,
        *,
        paused: bool | None = None,
        priority: int | None = None,
        concurrency_limit: Any = KEEP,
    ) -> WorkQueue:
        return queues.update_queue(
            self.store,
            pool_name,
            name,
            paused=paused,
            priority=priority,
            concurrency_limit=concurrency_limit,
        )

    def delete_queue(self, pool_name: str, name: str) -> None:
        queues.delete_queue(self.store, pool_name, name)

    # workers
    def register_worker(
        self,
        name: str,
        pool_name: str | None,
        *,
        pid: int | None = None,
        worker_id: uuid.UUID | None = None,
        hostname: str | None = None,
    ) -> Worker:
        return workers.register_worker(
            self.store, name, pool_name, pid=pid, worker_id=worker_id, hostname=hostname
        )

    def heartbeat(self, worker_id: uuid.UUID, *, stopped: bool = False) -> None:
        workers.heartbeat(self.store, worker_id, stopped=stopped)

    def list_workers(self, pool_name: str | None = None) -> list[Worker]:
        return workers.list_workers(self.store, pool_name)

    def get_worker(self, worker_id: uuid.UUID) -> Worker:
        return workers.get_worker(self.store, worker_id)

    # deployments
    def apply_deployment(self, spec: DeploymentSpec) -> tuple[Deployment, bool]:
        return deployments.apply_deployment(self.store, spec)

    def get_deployment(self, full_name: str) -> Deployment:
        return deployments.get_deployment(self.store, full_name)

    def list_deployments(self, *, pool_name: str | None = None) -> list[Deployment]:
        return deployments.list_deployments(self.store, pool_name=pool_name)

    def set_deployment_paused(self, full_name: str, paused: bool) -> Deployment:
        return deployments.set_deployment_paused(self.store, full_name, paused)

    def delete_deployment(self, full_name: str) -> None:
        deployments.delete_deployment(self.store, full_name)

    # schedules and the scheduler
    def create_schedule(self, full_name: str, spec: ScheduleSpec) -> Schedule:
        return schedules.create_schedule(self.store, full_name, spec)

    def list_schedules(self, full_name: str) -> list[Schedule]:
        return schedules.list_schedules(self.store, full_name)

    def set_schedule_active(self, full_name: str, schedule_id: str, active: bool) -> Schedule:
        return schedules.set_schedule_active(self.store, full_name, schedule_id, active)

    def delete_schedule(self, full_name: str, schedule_id: str) -> None:
        schedules.delete_schedule(self.store, full_name, schedule_id)

    def scheduler_tick(self, holder: str, *, crash_orphans: bool = True) -> TickResult | None:
        return scheduler.tick_if_leader(self.store, holder, crash_orphans=crash_orphans)

    def next_run_time(self, pool_name: str, *, lookahead: float = 0.0) -> datetime | None:
        return claims.next_run_time(self.store, pool_name, lookahead=lookahead)

    # flow runs
    def create_run(
        self,
        deployment: str,
        *,
        parameters: dict[str, Any] | None = None,
        job_variables: dict[str, Any] | None = None,
        scheduled_time: datetime | None = None,
        tags: Sequence[str] = (),
    ) -> FlowRun:
        return runs.create_run(
            self.store,
            deployment,
            parameters=parameters,
            job_variables=job_variables,
            scheduled_time=scheduled_time,
            tags=tags,
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
        return runs.create_adhoc_run(
            self.store,
            flow_name,
            input_path,
            parameters=parameters,
            job_variables=job_variables,
            output_path=output_path,
            cwd=cwd,
            worker_id=worker_id,
            tags=tags,
        )

    def get_run(self, run_id: str | uuid.UUID) -> FlowRun:
        return runs.get_run(self.store, run_id)

    def list_runs(
        self,
        *,
        deployment: str | None = None,
        pool_name: str | None = None,
        states: Sequence[StateType] = (),
        limit: int = 50,
    ) -> list[FlowRun]:
        return runs.list_runs(
            self.store, deployment=deployment, pool_name=pool_name, states=states, limit=limit
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
        def claim() -> list[FlowRun]:
            return claims.claim_runs(self.store, pool_name, worker_id, limit, lookahead=lookahead)

        return claims.claim_waiting(self.store, pool_name, claim, wait) if wait > 0 else claim()

    def watch_pool(self, pool_name: str, on_work: Callable[[], None]) -> Watch | None:
        return claims.watch_pool(self.store, pool_name, on_work)

    def set_state(
        self,
        run_id: str | uuid.UUID,
        state: StateType,
        message: str = "",
        *,
        failure: CellFailure | None = None,
    ) -> FlowRun:
        return runs.set_state(self.store, run_id, state, message, failure=failure)

    def record_infrastructure(self, run_id: str | uuid.UUID, infrastructure_id: str) -> None:
        runs.record_infrastructure(self.store, run_id, infrastructure_id)

    def record_source_commit(self, run_id: str | uuid.UUID, commit: str) -> None:
        runs.record_source_commit(self.store, run_id, commit)

    def take_over_run(
        self,
        run_id: str | uuid.UUID,
        worker_id: uuid.UUID,
        *,
        from_worker_id: uuid.UUID | None,
    ) -> FlowRun:
        return runs.take_over_run(self.store, run_id, worker_id, from_worker_id=from_worker_id)

    def cancel_run(self, run_id: str | uuid.UUID) -> FlowRun:
        return runs.cancel_run(self.store, run_id)

    def runs_being_cancelled(self, worker_id: uuid.UUID) -> list[str]:
        return runs.runs_being_cancelled(self.store, worker_id)

    def crash_orphaned_runs(self) -> list[str]:
        return runs.crash_orphaned_runs(self.store)

    def append_logs(self, run_id: str | uuid.UUID, lines: Sequence[str]) -> None:
        run_logs.append_logs(self.store, run_id, lines)

    def read_logs(
        self, run_id: str | uuid.UUID, *, after: int = 0, limit: int | None = None
    ) -> list[LogLine]:
        return run_logs.read_logs(self.store, run_id, after=after, limit=limit)

    # API keys
    def create_api_key(self, name: str, role: str, pools: Sequence[str] = ()) -> NewApiKey:
        return api_keys.create_api_key(self.store, name, role, pools)

    def list_api_keys(self) -> list[ApiKey]:
        return api_keys.list_api_keys(self.store)

    def revoke_api_key(self, name: str) -> ApiKey:
        return api_keys.revoke_api_key(self.store, name)

    # output notebooks
    def read_output_notebook(self, run_id: str | uuid.UUID) -> dict[str, Any] | None:
        return output_notebooks.read_output_notebook(self.store, run_id)

    def write_output_notebook(self, run_id: str | uuid.UUID, notebook: dict[str, Any]) -> None:
        output_notebooks.write_output_notebook(self.store, run_id, notebook)

    # secrets
    def set_secret(self, name: str, value: str) -> SecretInfo:
        return secrets.set_secret(self.store, name, value)

    def list_secrets(self) -> list[SecretInfo]:
        return secrets.list_secrets(self.store)

    def delete_secret(self, name: str) -> None:
        secrets.delete_secret(self.store, name)

    def resolve_run_secrets(self, run_id: str | uuid.UUID) -> dict[str, str]:
        return secrets.resolve_run_secrets(self.store, run_id)


def get_client(*, retry_for: float | None = None) -> NborchClient:
    """The client the settings call for: a server's when NBORCH_API_URL is set (retrying
    for `retry_for` seconds while it cannot be reached), else the local store."""
    settings = get_settings()
    if not settings.api_url:
        return LocalClient()
    from nborch.client.http import HttpClient

    return HttpClient(
        settings.api_url,
        settings.api_key.get_secret_value() if settings.api_key else None,
        retry_for=settings.api_retry_for if retry_for is None else retry_for,
    )

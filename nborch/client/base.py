"""What a front end or a worker may ask of nborch. `LocalClient` answers in-process from the
store; an HTTP client (for `NBORCH_API_URL`) answers the same questions over the API."""

from __future__ import annotations

import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

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
from nborch.store.wakeups import Watch

KEEP: Any = ...  # "leave as it is" for optional updates where None means "clear"


class NborchClient(ABC):
    # True for a client of a server elsewhere: its workers hand output notebooks over and
    # leave the scheduler to the server.
    is_remote: bool = False

    # work pools
    @abstractmethod
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
    ) -> WorkPool: ...
    @abstractmethod
    def get_pool(self, name: str) -> WorkPool: ...
    @abstractmethod
    def list_pools(self) -> list[WorkPool]: ...
    @abstractmethod
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
    ) -> WorkPool: ...
    @abstractmethod
    def delete_pool(self, name: str) -> None: ...
    @abstractmethod
    def usage(
        self,
        *,
        pool_name: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> UsageReport:
        """Compute hours per pool, deployment and tag between `since` (default: the start
        of this month, UTC) and `until` (default: now), and each pool's quota use."""

    # work queues
    @abstractmethod
    def create_queue(
        self,
        pool_name: str,
        name: str,
        *,
        priority: int = 1,
        concurrency_limit: int | None = None,
        description: str = "",
    ) -> WorkQueue: ...
    @abstractmethod
    def list_queues(self, pool_name: str) -> list[WorkQueue]: ...
    @abstractmethod
    def update_queue(
        self,
        pool_name: str,
        name: str,
        *,
        paused: bool | None = None,
        priority: int | None = None,
        concurrency_limit: Any = KEEP,
    ) -> WorkQueue: ...
    @abstractmethod
    def delete_queue(self, pool_name: str, name: str) -> None: ...

    # workers
    @abstractmethod
    def register_worker(
        self,
        name: str,
        pool_name: str | None,
        *,
        pid: int | None = None,
        worker_id: uuid.UUID | None = None,
        hostname: str | None = None,
    ) -> Worker: ...
    @abstractmethod
    def heartbeat(self, worker_id: uuid.UUID, *, stopped: bool = False) -> None: ...
    @abstractmethod
    def list_workers(self, pool_name: str | None = None) -> list[Worker]: ...
    @abstractmethod
    def get_worker(self, worker_id: uuid.UUID) -> Worker: ...

    # deployments
    @abstractmethod
    def apply_deployment(self, spec: DeploymentSpec) -> tuple[Deployment, bool]: ...
    @abstractmethod
    def get_deployment(self, full_name: str) -> Deployment: ...
    @abstractmethod
    def list_deployments(self, *, pool_name: str | None = None) -> list[Deployment]: ...
    @abstractmethod
    def set_deployment_paused(self, full_name: str, paused: bool) -> Deployment: ...
    @abstractmethod
    def delete_deployment(self, full_name: str) -> None: ...

    # schedules and the scheduler
    @abstractmethod
    def create_schedule(self, full_name: str, spec: ScheduleSpec) -> Schedule: ...
    @abstractmethod
    def list_schedules(self, full_name: str) -> list[Schedule]: ...
    @abstractmethod
    def set_schedule_active(self, full_name: str, schedule_id: str, active: bool) -> Schedule: ...
    @abstractmethod
    def delete_schedule(self, full_name: str, schedule_id: str) -> None: ...
    @abstractmethod
    def scheduler_tick(self, holder: str, *, crash_orphans: bool = True) -> TickResult | None:
        """One tick of the scheduler if `holder` holds its lease (None otherwise); without
        `crash_orphans` it leaves the runs of silent workers alone this time."""

    @abstractmethod
    def next_run_time(self, pool_name: str, *, lookahead: float = 0.0) -> datetime | None:
        """When the pool's next waiting run is due, if beyond `lookahead` seconds from now."""

    # flow runs
    @abstractmethod
    def create_run(
        self,
        deployment: str,
        *,
        parameters: dict[str, Any] | None = None,
        job_variables: dict[str, Any] | None = None,
        scheduled_time: datetime | None = None,
        tags: Sequence[str] = (),
    ) -> FlowRun: ...
    @abstractmethod
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
    ) -> FlowRun: ...
    @abstractmethod
    def get_run(self, run_id: str | uuid.UUID) -> FlowRun: ...
    @abstractmethod
    def list_runs(
        self,
        *,
        deployment: str | None = None,
        pool_name: str | None = None,
        states: Sequence[StateType] = (),
        limit: int = 50,
    ) -> list[FlowRun]: ...
    @abstractmethod
    def claim_runs(
        self,
        pool_name: str,
        worker_id: uuid.UUID,
        limit: int,
        *,
        lookahead: float = 0.0,
        wait: float = 0.0,
    ) -> list[FlowRun]:
        """Up to `limit` runs due now (or within `lookahead` seconds), each to one worker.
        With `wait`, when none is due, wait up to that many seconds for one (a long poll):
        the answer comes as soon as runs can be claimed."""

    def watch_pool(self, pool_name: str, on_work: Callable[[], None]) -> Watch | None:
        """Call `on_work` (on another thread; keep it quick) whenever the pool may have
        new work: a run created or released, a schedule's runs made, the pool resumed.
        None when this client cannot tell (its worker long-polls `claim_runs` instead)."""
        return None

    @abstractmethod
    def set_state(
        self,
        run_id: str | uuid.UUID,
        state: StateType,
        message: str = "",
        *,
        failure: CellFailure | None = None,
    ) -> FlowRun: ...
    @abstractmethod
    def record_infrastructure(self, run_id: str | uuid.UUID, infrastructure_id: str) -> None: ...
    @abstractmethod
    def record_source_commit(self, run_id: str | uuid.UUID, commit: str) -> None: ...
    @abstractmethod
    def take_over_run(
        self,
        run_id: str | uuid.UUID,
        worker_id: uuid.UUID,
        *,
        from_worker_id: uuid.UUID | None,
    ) -> FlowRun: ...
    @abstractmethod
    def cancel_run(self, run_id: str | uuid.UUID) -> FlowRun: ...
    @abstractmethod
    def runs_being_cancelled(self, worker_id: uuid.UUID) -> list[str]: ...
    @abstractmethod
    def crash_orphaned_runs(self) -> list[str]: ...
    @abstractmethod
    def append_logs(self, run_id: str | uuid.UUID, lines: Sequence[str]) -> None: ...
    @abstractmethod
    def read_logs(
        self, run_id: str | uuid.UUID, *, after: int = 0, limit: int | None = None
    ) -> list[LogLine]: ...

    # API keys
    @abstractmethod
    def create_api_key(self, name: str, role: str, pools: Sequence[str] = ()) -> NewApiKey: ...
    @abstractmethod
    def list_api_keys(self) -> list[ApiKey]: ...
    @abstractmethod
    def revoke_api_key(self, name: str) -> ApiKey: ...

    # output notebooks
    @abstractmethod
    def read_output_notebook(self, run_id: str | uuid.UUID) -> dict[str, Any] | None:
        """The run's output notebook as nbformat JSON as it stands now (papermill saves it
        after every cell), or None while there is none."""

    @abstractmethod
    def write_output_notebook(self, run_id: str | uuid.UUID, notebook: dict[str, Any]) -> None:
        """Store the run's output notebook (a worker on another host hands it over)."""

    # secrets
    @abstractmethod
    def set_secret(self, name: str, value: str) -> SecretInfo:
        """Create or replace a secret; its value is stored encrypted, and never shown."""

    @abstractmethod
    def list_secrets(self) -> list[SecretInfo]: ...
    @abstractmethod
    def delete_secret(self, name: str) -> None: ...
    @abstractmethod
    def resolve_run_secrets(self, run_id: str | uuid.UUID) -> dict[str, str]:
        """The values of the secrets a run's parameters and job variables reference, for
        the worker running it (refused once the run is not in a worker's hands)."""

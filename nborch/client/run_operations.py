"""The operations on flow runs (states, logs, output notebooks, the secrets they reference),
secrets and API keys: each declared once, with its input models beside it (see
`nborch.client.operations`)."""

# The methods below have no body: `@operation` hands their arguments to the transport.
# mypy: disable-error-code="empty-body"

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pydantic import Field

from nborch.client.operations import (
    ADMIN,
    MAX_NOTEBOOK_BYTES,
    Input,
    Name,
    Time,
    operation,
    pool_access,
    run_access,
    runner_access,
)
from nborch.models import (
    ApiKey,
    CellFailure,
    FlowRun,
    LogLine,
    NewApiKey,
    RetryOn,
    SecretInfo,
    StateType,
)

# ---- inputs -------------------------------------------------------------------------------


class RunPath(Input):
    run_id: uuid.UUID


class HeldRunPath(RunPath):
    """A worker's write about a run: `attempt`, the claim it holds the run by, fences it
    (refused with 409 RunLostError once that attempt no longer holds the run). Worker keys
    must give it; admins and people may leave it out."""

    attempt: int | None = Field(default=None, ge=0, le=2**31 - 1)


class NamePath(Input):
    name: str = Name


class ListRunsQuery(Input):
    deployment: str | None = Field(default=None, min_length=3, max_length=401)
    pool_name: str | None = Field(default=None, min_length=1, max_length=200)
    states: list[StateType] = Field(default_factory=list, max_length=20)
    limit: int = Field(default=50, ge=1, le=1000)


class ReadLogsQuery(RunPath):
    after: int = Field(default=0, ge=0)
    limit: int | None = Field(default=None, ge=1, le=100_000)


class CreateRun(Input):
    deployment: str = Field(min_length=3, max_length=401)
    parameters: dict[str, Any] | None = None
    job_variables: dict[str, Any] | None = None
    scheduled_time: Time | None = None
    tags: list[str] = Field(default_factory=list, max_length=100)
    # This run's policy where it is not the deployment's (bounds: nborch.orchestration.run_policy).
    timeout_seconds: float | None = None
    retries: int | None = None
    retry_delay_seconds: float | None = None
    retry_backoff: float | None = None
    retry_on: list[RetryOn] | None = Field(default=None, max_length=3)


class CreateAdhocRun(Input):
    flow_name: str = Name
    input_path: str = Field(min_length=1, max_length=4096)
    parameters: dict[str, Any] = Field(default_factory=dict)
    job_variables: dict[str, Any] = Field(default_factory=dict)
    output_path: str | None = Field(default=None, max_length=4096)
    cwd: str | None = Field(default=None, max_length=4096)
    worker_id: uuid.UUID
    tags: list[str] = Field(default_factory=list, max_length=100)
    timeout_seconds: float | None = None


class SetState(Input):
    state: StateType
    message: str = Field(default="", max_length=100_000)
    failure: CellFailure | None = None
    timed_out: bool = False


class RecordInfrastructure(Input):
    infrastructure_id: str = Field(min_length=1, max_length=200)


class RecordSourceCommit(Input):
    commit: str = Field(min_length=4, max_length=64)


class TakeOverRun(Input):
    worker_id: uuid.UUID
    from_worker_id: uuid.UUID | None = None


class AppendLogs(Input):
    lines: list[str] = Field(max_length=100_000)


class CreateApiKey(Input):
    name: str = Name
    role: str = Field(min_length=1, max_length=20)
    pools: list[str] = Field(default_factory=list, max_length=1000)
    deployments: list[str] = Field(default_factory=list, max_length=1000)


class SetSecret(Input):
    value: str = Field(min_length=1, max_length=65_536)


RunId = str | uuid.UUID


# ---- the operations -----------------------------------------------------------------------


class RunOperations:
    """Flow runs and what belongs to them; secrets and API keys."""

    @operation(
        "GET",
        "/flow-runs",
        pool_access("pool_name", reads=True),
        params=ListRunsQuery,
        response=list[FlowRun],
        does="runs.list_runs",
    )
    def list_runs(
        self,
        *,
        deployment: str | None = None,
        pool_name: str | None = None,
        states: Sequence[StateType] = (),
        limit: int = 50,
    ) -> list[FlowRun]:
        """List flow runs, newest first"""

    @operation(
        "POST",
        "/flow-runs",
        runner_access("deployment"),
        body=CreateRun,
        response=FlowRun,
        status=201,
        does="runs.create_run",
        caller="created_by",
    )
    def create_run(
        self,
        deployment: str,
        *,
        parameters: dict[str, Any] | None = None,
        job_variables: dict[str, Any] | None = None,
        scheduled_time: datetime | None = None,
        tags: Sequence[str] = (),
        timeout_seconds: float | None = None,
        retries: int | None = None,
        retry_delay_seconds: float | None = None,
        retry_backoff: float | None = None,
        retry_on: Sequence[RetryOn] | None = None,
    ) -> FlowRun:
        """Create a run of a deployment

        `scheduled_time` (default: now) needs a time zone, e.g. `datetime.now(timezone.utc)
        + timedelta(hours=1)`, and a year from 1970 to 2200.
        The run policy's values given (its timeout, retries, ...) are this run's; the others
        are its deployment's."""

    @operation(
        "POST",
        "/flow-runs/adhoc",
        ADMIN,
        body=CreateAdhocRun,
        response=FlowRun,
        status=201,
        does="runs.create_adhoc_run",
        caller="created_by",
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
        timeout_seconds: float | None = None,
    ) -> FlowRun:
        """Record a run of a notebook outside any deployment (nborch run)"""

    @operation(
        "POST",
        "/flow-runs/crash-orphaned",
        ADMIN,
        response=list[str],
        once=False,
        does="crash_detection.crash_orphaned_runs",
    )
    def crash_orphaned_runs(self) -> list[str]:
        """Mark the runs of vanished workers CRASHED"""

    @operation(
        "GET",
        "/flow-runs/{run_id}",
        run_access(reads=True),
        params=RunPath,
        response=FlowRun,
        does="runs.get_run",
    )
    def get_run(self, run_id: RunId) -> FlowRun:
        """Inspect a flow run"""

    @operation(
        "POST",
        "/flow-runs/{run_id}/state",
        run_access(),
        params=HeldRunPath,
        body=SetState,
        response=FlowRun,
        does="runs.set_state",
    )
    def set_state(
        self,
        run_id: RunId,
        state: StateType,
        message: str = "",
        *,
        failure: CellFailure | None = None,
        attempt: int | None = None,
        timed_out: bool = False,
    ) -> FlowRun:
        """Move a run to another state

        `timed_out`: the run ended FAILED because its timeout passed."""

    @operation(
        "POST",
        "/flow-runs/{run_id}/cancel",
        ADMIN,
        params=RunPath,
        response=FlowRun,
        does="runs.cancel_run",
    )
    def cancel_run(self, run_id: RunId) -> FlowRun:
        """Cancel a flow run"""

    @operation(
        "POST",
        "/flow-runs/{run_id}/take-over",
        run_access(),
        params=RunPath,
        body=TakeOverRun,
        response=FlowRun,
        does="runs.take_over_run",
    )
    def take_over_run(
        self, run_id: RunId, worker_id: uuid.UUID, *, from_worker_id: uuid.UUID | None
    ) -> FlowRun:
        """Hand a run of a vanished worker to another"""

    @operation(
        "POST",
        "/flow-runs/{run_id}/infrastructure",
        run_access(),
        params=HeldRunPath,
        body=RecordInfrastructure,
        once=False,
        does="runs.record_infrastructure",
    )
    def record_infrastructure(
        self, run_id: RunId, infrastructure_id: str, *, attempt: int | None = None
    ) -> None:
        """Record the run's process or container"""

    @operation(
        "POST",
        "/flow-runs/{run_id}/source-commit",
        run_access(),
        params=HeldRunPath,
        body=RecordSourceCommit,
        once=False,
        does="runs.record_source_commit",
    )
    def record_source_commit(
        self, run_id: RunId, commit: str, *, attempt: int | None = None
    ) -> None:
        """Record the git commit the run was checked out at"""

    @operation(
        "GET",
        "/flow-runs/{run_id}/logs",
        run_access(reads=True),
        params=ReadLogsQuery,
        response=list[LogLine],
        does="run_logs.read_logs",
    )
    def read_logs(
        self, run_id: RunId, *, after: int = 0, limit: int | None = None
    ) -> list[LogLine]:
        """Read a run's logs"""

    @operation(
        "POST",
        "/flow-runs/{run_id}/logs",
        run_access(),
        params=HeldRunPath,
        body=AppendLogs,
        does="run_logs.append_logs",
    )
    def append_logs(
        self, run_id: RunId, lines: Sequence[str], *, attempt: int | None = None
    ) -> None:
        """Append log lines"""

    @operation(
        "GET",
        "/flow-runs/{run_id}/output-notebook",
        run_access(reads=True),
        params=RunPath,
        response=dict[str, Any] | None,
        does="output_notebooks.read_output_notebook",
    )
    def read_output_notebook(self, run_id: RunId) -> dict[str, Any] | None:
        """The run's output notebook (nbformat JSON), null while there is none

        As it stands now: papermill saves it after every cell."""

    @operation(
        "PUT",
        "/flow-runs/{run_id}/output-notebook",
        run_access(),
        params=HeldRunPath,
        body=dict[str, Any],
        body_arg="notebook",
        max_body=MAX_NOTEBOOK_BYTES,
        does="output_notebooks.write_output_notebook",
    )
    def write_output_notebook(
        self, run_id: RunId, notebook: dict[str, Any], *, attempt: int | None = None
    ) -> None:
        """Store the run's output notebook

        A worker on another host hands it over."""

    @operation(
        "GET",
        "/flow-runs/{run_id}/secrets",
        run_access(),
        params=HeldRunPath,
        response=dict[str, str],
        does="secrets.resolve_run_secrets",
    )
    def resolve_run_secrets(self, run_id: RunId, *, attempt: int | None = None) -> dict[str, str]:
        """The values of the secrets the run references (for the worker that runs it)

        Refused once the run is not in a worker's hands."""

    # secrets

    @operation("GET", "/secrets", ADMIN, response=list[SecretInfo], does="secrets.list_secrets")
    def list_secrets(self) -> list[SecretInfo]:
        """List secrets (names only)"""

    @operation(
        "PUT",
        "/secrets/{name}",
        ADMIN,
        params=NamePath,
        body=SetSecret,
        response=SecretInfo,
        does="secrets.set_secret",
    )
    def set_secret(self, name: str, value: str) -> SecretInfo:
        """Create or replace a secret

        Its value is stored encrypted, and never shown."""

    @operation("DELETE", "/secrets/{name}", ADMIN, params=NamePath, does="secrets.delete_secret")
    def delete_secret(self, name: str) -> None:
        """Delete a secret"""

    # API keys

    @operation("GET", "/api-keys", ADMIN, response=list[ApiKey], does="api_keys.list_api_keys")
    def list_api_keys(self) -> list[ApiKey]:
        """List API keys"""

    @operation(
        "POST",
        "/api-keys",
        ADMIN,
        body=CreateApiKey,
        response=NewApiKey,
        status=201,
        does="api_keys.create_api_key",
        once=False,  # an answer with a secret is never stored; a copy finds the name taken
    )
    def create_api_key(
        self, name: str, role: str, pools: Sequence[str] = (), deployments: Sequence[str] = ()
    ) -> NewApiKey:
        """Create an API key (its secret is in this answer only)

        `pools` for a worker key; `deployments` (FLOW/NAME patterns, `*` matching any part)
        for a runner key, which may read what a viewer key reads and run those deployments."""

    @operation(
        "DELETE",
        "/api-keys/{name}",
        ADMIN,
        params=NamePath,
        response=ApiKey,
        does="api_keys.revoke_api_key",
    )
    def revoke_api_key(self, name: str) -> ApiKey:
        """Revoke an API key"""

"""The operations on deployments, their schedules and the scheduler: each declared once,
with its input models beside it (see `nborch.client.operations`)."""

# The methods below have no body: `@operation` hands their arguments to the transport.
# mypy: disable-error-code="empty-body"

from __future__ import annotations

from pydantic import BaseModel, Field

from nborch.client.operations import ADMIN, READ, Input, operation
from nborch.models import Deployment, DeploymentSpec, Schedule, ScheduleSpec, TickResult

# ---- inputs -------------------------------------------------------------------------------


class DeploymentPath(Input):
    full_name: str = Field(min_length=3, max_length=401)


class SchedulePath(DeploymentPath):
    schedule_id: str = Field(min_length=1, max_length=36)


class ListDeploymentsQuery(Input):
    pool_name: str | None = Field(default=None, min_length=1, max_length=200)


class SetPaused(Input):
    paused: bool


class SetActive(Input):
    active: bool


class SchedulerTick(Input):
    holder: str = Field(min_length=1, max_length=400)
    crash_orphans: bool = True


# ---- outputs that are not models of their own --------------------------------------------


class AppliedDeployment(BaseModel):
    deployment: Deployment
    created: bool


def _applied_to_wire(result: tuple[Deployment, bool]) -> AppliedDeployment:
    return AppliedDeployment(deployment=result[0], created=result[1])


def _applied_from_wire(answer: AppliedDeployment) -> tuple[Deployment, bool]:
    return answer.deployment, answer.created


# ---- the operations -----------------------------------------------------------------------


class DeploymentOperations:
    """Deployments, schedules and the scheduler's tick."""

    @operation(
        "GET",
        "/deployments",
        READ,
        params=ListDeploymentsQuery,
        response=list[Deployment],
        does="deployments.list_deployments",
    )
    def list_deployments(self, *, pool_name: str | None = None) -> list[Deployment]:
        """List deployments"""

    @operation(
        "PUT",
        "/deployments",
        ADMIN,
        body=DeploymentSpec,
        body_arg="spec",
        response=AppliedDeployment,
        to_wire=_applied_to_wire,
        from_wire=_applied_from_wire,
        does="deployments.apply_deployment",
    )
    def apply_deployment(self, spec: DeploymentSpec) -> tuple[Deployment, bool]:
        """Create or update a deployment"""

    @operation(
        "GET",
        "/deployments/{full_name}",
        READ,
        params=DeploymentPath,
        response=Deployment,
        does="deployments.get_deployment",
    )
    def get_deployment(self, full_name: str) -> Deployment:
        """Inspect a deployment (FLOW/NAME, the slash percent-encoded)"""

    @operation(
        "PATCH",
        "/deployments/{full_name}",
        ADMIN,
        params=DeploymentPath,
        body=SetPaused,
        response=Deployment,
        does="deployments.set_deployment_paused",
    )
    def set_deployment_paused(self, full_name: str, paused: bool) -> Deployment:
        """Pause or resume a deployment"""

    @operation(
        "DELETE",
        "/deployments/{full_name}",
        ADMIN,
        params=DeploymentPath,
        does="deployments.delete_deployment",
    )
    def delete_deployment(self, full_name: str) -> None:
        """Delete a deployment"""

    @operation(
        "GET",
        "/deployments/{full_name}/schedules",
        READ,
        params=DeploymentPath,
        response=list[Schedule],
        does="schedules.list_schedules",
    )
    def list_schedules(self, full_name: str) -> list[Schedule]:
        """List a deployment's schedules"""

    @operation(
        "POST",
        "/deployments/{full_name}/schedules",
        ADMIN,
        params=DeploymentPath,
        body=ScheduleSpec,
        body_arg="spec",
        response=Schedule,
        status=201,
        does="schedules.create_schedule",
    )
    def create_schedule(self, full_name: str, spec: ScheduleSpec) -> Schedule:
        """Add a schedule to a deployment"""

    @operation(
        "PATCH",
        "/deployments/{full_name}/schedules/{schedule_id}",
        ADMIN,
        params=SchedulePath,
        body=SetActive,
        response=Schedule,
        does="schedules.set_schedule_active",
    )
    def set_schedule_active(self, full_name: str, schedule_id: str, active: bool) -> Schedule:
        """Pause or resume a schedule"""

    @operation(
        "DELETE",
        "/deployments/{full_name}/schedules/{schedule_id}",
        ADMIN,
        params=SchedulePath,
        does="schedules.delete_schedule",
    )
    def delete_schedule(self, full_name: str, schedule_id: str) -> None:
        """Delete a schedule"""

    @operation(
        "POST",
        "/scheduler/tick",
        ADMIN,
        body=SchedulerTick,
        response=TickResult | None,
        once=False,
        does="scheduler.tick_if_leader",
    )
    def scheduler_tick(self, holder: str, *, crash_orphans: bool = True) -> TickResult | None:
        """One scheduler tick, if the holder gets the lease

        Without `crash_orphans` it leaves the runs of silent workers alone this time."""

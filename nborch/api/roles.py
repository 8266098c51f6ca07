"""Who may call what: the one rule that reads an operation's declared `Access` and the
caller's role, and the refusal that names the caller, the reason and the fix.

    admin   every operation
    worker  operations scoped to a pool (pool, run, worker) of one of its pools
    viewer  operations that only read and show nothing secret (`Access.reads`)
    runner  what a viewer may, and operations that run a deployment its patterns match
            (`Access.runs`)

Any valid caller may call "any" operations, anyone "public" ones. A Jupyter user with no
nborch role (`Principal.role` None) may call nothing but those. API keys carry their role
(`nborch.orchestration.api_keys`); Jupyter users get theirs from `nborch.api.jupyter_roles`.
"""

from __future__ import annotations

from collections.abc import Callable

from nborch.client.operations import Access, Operation
from nborch.client.wire_errors import PermissionDeniedError
from nborch.models import ApiKeyRole
from nborch.orchestration.api_keys import Principal

POOL_SCOPED = frozenset({"pool", "run", "worker"})
RESOURCE = "nborch"  # what Jupyter's authorizer is asked about


def permits(
    access: Access,
    principal: Principal,
    pool: Callable[[], str | None],
    deployment: str | None,
) -> bool:
    """Whether `principal` may call an operation declared with `access`. `pool` finds the
    pool the operation is scoped to (asked only of worker keys: it may read the store);
    `deployment` is the input `access.runs` names, if any."""
    role = principal.role
    if role is ApiKeyRole.ADMIN or access.kind == "public":
        return True
    if role is None:
        return False
    if access.kind == "any":
        return True
    if role is ApiKeyRole.WORKER:
        return access.kind in POOL_SCOPED and principal.may_use_pool(pool())
    if access.reads:  # viewer and runner
        return True
    return role is ApiKeyRole.RUNNER and deployment is not None and principal.may_run(deployment)


def refusal(
    operation: Operation, principal: Principal, pool: str | None, deployment: str | None
) -> PermissionDeniedError:
    """The 403 for a call `permits` refused: who calls, what it may do, and how to get more."""
    who = principal.title
    if principal.source == "jupyter":
        fix = (
            f"To give more, add '{principal.name}' to c.NborchApp.admin_users (everything), "
            "c.NborchApp.run_deployments (runs of some deployments) or "
            "c.NborchApp.viewer_users (reading) in Jupyter's config, and let Jupyter's "
            f"authorizer allow write, execute or read on '{RESOURCE}'."
        )
    else:
        fix = "Use an admin key (nborch api-key create NAME --role admin, on the server's host)."
    limits = f" ({principal.limits})" if principal.limits else ""
    role = principal.role
    if role is None:
        return PermissionDeniedError(f"{who} has no nborch role{limits}. {fix}")
    if role is ApiKeyRole.WORKER:
        reach = ", ".join(sorted(principal.pools)) or "no pool"
        where = f" for pool '{pool}'" if pool else ""
        return PermissionDeniedError(
            f"{who} is a worker key for {reach}: it may not call {operation.name}{where}. "
            "Use an admin key."
        )
    if role is ApiKeyRole.RUNNER and operation.access.runs and deployment is not None:
        patterns = ", ".join(principal.deployments)
        return PermissionDeniedError(
            f"{who} is a runner of {patterns}{limits}: it may not run deployment "
            f"'{deployment}'. {fix}"
        )
    kind = "runner" if role is ApiKeyRole.RUNNER else "viewer"
    return PermissionDeniedError(
        f"{who} is a {kind}{limits}: it may read pools, deployments, runs, logs and outputs, "
        f"not call {operation.name}. {fix}"
    )

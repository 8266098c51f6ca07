"""The nborch role of a logged-in Jupyter user: what Jupyter's config grants it
(`c.NborchApp.admin_users`, `run_deployments`, `viewer_users`), capped by what Jupyter's own
authorizer allows it on the resource "nborch" (read, execute, write), so that a JupyterHub
with RBAC (custom scopes `custom:jupyter_server:<action>:nborch`, or any Authorizer
configured as `c.ServerApp.authorizer_class`) decides as well.

    configured          authorizer allows     role
    admin               write (and execute)   admin
    admin or runner     execute (and read)    runner (an admin: of every deployment)
    any of the three    read                  viewer
    otherwise                                 none: refused everything but health

With none of the three lists configured every logged-in user is configured an admin:
a default single-user Jupyter (whose authorizer allows everything) keeps its user an admin.
"*" in a list stands for every logged-in user.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from nborch.api.roles import RESOURCE
from nborch.models import ApiKeyRole
from nborch.orchestration.api_keys import Principal

EVERYONE = "*"
# Each role and the action it needs of Jupyter's authorizer, the highest first: a user gets
# the highest its configured role reaches down to that the authorizer allows.
_LADDER = [(ApiKeyRole.ADMIN, "write"), (ApiKeyRole.RUNNER, "execute"), (ApiKeyRole.VIEWER, "read")]


@dataclass(frozen=True)
class JupyterRoles:
    """The roles Jupyter's config grants (the `NborchApp` traitlets of the same names)."""

    admin_users: frozenset[str] = frozenset()
    viewer_users: frozenset[str] = frozenset()
    run_deployments: Mapping[str, Sequence[str]] = field(default_factory=dict)

    @property
    def configured(self) -> bool:
        return bool(self.admin_users or self.viewer_users or self.run_deployments)

    def granted(self, user: str) -> tuple[ApiKeyRole | None, tuple[str, ...]]:
        """The role the config grants `user`, and a runner's deployment patterns."""
        if not self.configured or _named(user, self.admin_users):
            return ApiKeyRole.ADMIN, ("*",)
        patterns = tuple(
            pattern for name in (user, EVERYONE) for pattern in self.run_deployments.get(name, ())
        )
        if patterns:
            return ApiKeyRole.RUNNER, patterns
        if _named(user, self.viewer_users):
            return ApiKeyRole.VIEWER, ()
        return None, ()


def _named(user: str, users: frozenset[str]) -> bool:
    return user in users or EVERYONE in users


async def jupyter_principal(handler: Any, roles: JupyterRoles) -> Principal | None:
    """The principal of the user logged in to `handler` (a Jupyter handler), or None when
    nobody is: the configured role, lowered to what Jupyter's authorizer allows."""
    user = handler.current_user
    if user is None:
        return None
    name = str(getattr(user, "username", user))
    role, patterns = roles.granted(name)
    if role is None:
        return Principal(name, None, source="jupyter", limits="not in c.NborchApp's user lists")
    denied: list[str] = []
    for rank, action in _LADDER[[r for r, _ in _LADDER].index(role) :]:
        if await _allows(handler, user, action):
            mine = patterns if rank is ApiKeyRole.RUNNER else ()
            return Principal(name, rank, deployments=mine, source="jupyter",
                             limits=_denials(denied))  # fmt: skip
        denied.append(action)
    return Principal(name, None, source="jupyter", limits=_denials(denied))


def _denials(actions: list[str]) -> str:
    return f"Jupyter's authorizer denies {' and '.join(actions)} on '{RESOURCE}'" if actions else ""


async def _allows(handler: Any, user: Any, action: str) -> bool:
    """Jupyter's authorizer's answer (it may be a coroutine since jupyter_server 2)."""
    answer = handler.authorizer.is_authorized(handler, user, action, RESOURCE)
    if inspect.isawaitable(answer):
        answer = await answer
    return bool(answer)

"""Who calls a Jupyter server in tests, and what Jupyter's authorizer lets them do.

`HeaderIdentityProviderFake` stands in for JupyterHub's identity provider, which cannot run
here: a request with Jupyter's token is the user its `X-Test-User` header names.
`TableAuthorizer` is a real `jupyter_server.auth.Authorizer` (configured as
`c.ServerApp.authorizer_class`, asynchronous as JupyterHub's may be): it denies the actions
`DENIED` lists for a user on the resource "nborch", and allows everything else."""

from __future__ import annotations

from typing import Any

from jupyter_server.auth import Authorizer, IdentityProvider, User

USER_HEADER = "X-Test-User"
DENIED = {"capped": {"write"}, "blocked": {"read", "write", "execute"}}


class HeaderIdentityProviderFake(IdentityProvider):
    async def get_user(self, handler: Any) -> User | None:  # type: ignore[override]
        user = await self._get_user(handler)
        name = handler.request.headers.get(USER_HEADER)
        return User(username=name) if user is not None and name else user


class TableAuthorizer(Authorizer):
    async def is_authorized(  # type: ignore[override]
        self, handler: Any, user: User, action: str, resource: str
    ) -> bool:
        return not (resource == "nborch" and action in DENIED.get(user.username, set()))

"""The in-process transport: each operation is its orchestration function, called with the
store (SQLite under NBORCH_HOME by default, or NBORCH_DATABASE_URL). Whoever can open the
store may do anything: an operation told who calls (`Operation.caller`) is told
`local:USER`, this process's OS user, unless the server already said who (its callers'
keys and logins, `nborch.api.service`).

The store and the orchestration are imported when the transport is made, not before: a
process that only talks to a server never loads them.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from nborch.client.operations import Operation
from nborch.models import Watch

if TYPE_CHECKING:
    from nborch.store.engine import Store


class InProcessTransport:
    """Carries operations out on `store` (by default the one the settings name)."""

    is_remote = False

    def __init__(self, store: Store | None = None) -> None:
        if store is None:
            from nborch.settings import get_settings
            from nborch.store.engine import open_store

            store = open_store(get_settings().resolved_database_url)
        self.store = store
        self._functions: dict[str, Callable[..., Any]] = {}

    def call(self, operation: Operation, arguments: dict[str, Any]) -> Any:
        function = self._functions.get(operation.name)
        if function is None:
            function = self._functions[operation.name] = operation.function()
        if operation.caller and operation.caller not in arguments:
            arguments = {**arguments, operation.caller: local_caller()}
        return function(self.store, **arguments)

    def watch_pool(self, pool_name: str, on_work: Callable[[], None]) -> Watch | None:
        from nborch.orchestration.claims import watch_pool

        return watch_pool(self.store, pool_name, on_work)


def local_caller() -> str:
    """`local:USER`: this process's OS user (its uid where it has no name)."""
    try:
        return f"local:{getpass.getuser()}"
    except (KeyError, OSError):
        return f"local:uid {os.getuid()}"

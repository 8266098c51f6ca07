"""`Client`: the one client interface every front end uses (CLI, magics, Python API, workers,
dashboards), written once over a transport.

Its methods are the operations of `pool_operations`, `deployment_operations`,
`run_operations` and `alert_operations`; each hands its arguments to the transport, which
carries it out in-process on the store (`nborch.client.in_process`) or over the HTTP API
(`nborch.client.http`), the way httpx writes its client once over `BaseTransport`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from nborch.client.alert_operations import AlertOperations
from nborch.client.deployment_operations import DeploymentOperations
from nborch.client.operations import Transport
from nborch.client.pool_operations import PoolOperations
from nborch.client.run_operations import RunOperations
from nborch.models import Watch


class ClientTransport(Transport, Protocol):
    """What a client needs of its transport: to carry operations out, to say whether it
    reaches a server elsewhere, and to watch a pool where it can."""

    # True for a server elsewhere: its workers hand output notebooks over and leave the
    # scheduler to the server.
    is_remote: bool

    def watch_pool(self, pool_name: str, on_work: Callable[[], None]) -> Watch | None:
        """See `Client.watch_pool`."""


class Client(PoolOperations, DeploymentOperations, RunOperations, AlertOperations):
    """Asks nborch through `transport`: the same calls, answers and errors whichever it is."""

    def __init__(self, transport: ClientTransport) -> None:
        self.transport = transport

    @property
    def is_remote(self) -> bool:
        """A client of a server elsewhere: its workers hand output notebooks over and leave
        the scheduler to the server."""
        return self.transport.is_remote

    def watch_pool(self, pool_name: str, on_work: Callable[[], None]) -> Watch | None:
        """Call `on_work` (on another thread; keep it quick) whenever the pool may have
        new work: a run created or released, a schedule's runs made, the pool resumed.
        None when this client cannot tell (its worker long-polls `claim_runs` instead)."""
        return self.transport.watch_pool(pool_name, on_work)

    def last_request_sent(self) -> float | None:
        """time.monotonic() when this thread's last call reached nborch, if it may have been
        sent well after it was made (over HTTP, sent again while the server was away);
        None: when it was made."""
        return None

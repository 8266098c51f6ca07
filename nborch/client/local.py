"""`LocalClient`, the client of the store in this process, and `get_client`, the client the
settings call for."""

from __future__ import annotations

from typing import TYPE_CHECKING

from nborch.client.client import Client
from nborch.client.in_process import InProcessTransport
from nborch.settings import get_settings

if TYPE_CHECKING:
    from nborch.store.engine import Store


class LocalClient(Client):
    """Answers from the store named by the settings (SQLite under NBORCH_HOME by default)."""

    transport: InProcessTransport

    def __init__(self, store: Store | None = None) -> None:
        super().__init__(InProcessTransport(store))

    @property
    def store(self) -> Store:
        return self.transport.store


def get_client(*, retry_for: float | None = None) -> Client:
    """The client the settings call for: a server's when NBORCH_API_URL is set (retrying
    for `retry_for` seconds while it cannot be reached), else the local store."""
    settings = get_settings()
    if not settings.api_url:
        return LocalClient()
    from nborch.client.http import HttpClient  # httpx: only a server's clients need it

    return HttpClient(
        settings.api_url,
        settings.api_key.get_secret_value() if settings.api_key else None,
        retry_for=settings.api_retry_for if retry_for is None else retry_for,
    )

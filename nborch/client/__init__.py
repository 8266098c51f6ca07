"""The one client interface every front end uses (CLI, magics, Python API, workers)."""

from nborch.client.base import NborchClient
from nborch.client.local import LocalClient, get_client

__all__ = ["LocalClient", "NborchClient", "get_client"]

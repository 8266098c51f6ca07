"""The one client interface every front end uses (CLI, magics, Python API, workers): `Client`
over an in-process or an HTTP transport. See `nborch.client.operations` for the table."""

from nborch.client.client import Client
from nborch.client.local import LocalClient, get_client

NborchClient = Client

__all__ = ["Client", "LocalClient", "NborchClient", "get_client"]

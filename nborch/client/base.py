"""The client interface under the name front ends and workers have used since the start:
`NborchClient` is `Client` (`nborch.client.client`), written once over its transports."""

from __future__ import annotations

from nborch.client.client import Client
from nborch.client.operations import KEEP

NborchClient = Client

__all__ = ["KEEP", "NborchClient"]

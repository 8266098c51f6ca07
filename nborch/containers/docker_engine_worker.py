"""What the workers that run on a Docker engine share: who they are (for the labels that let
the next worker settle what a dead one left) and their two connections to the Docker
engine (docker_engine.py)."""

from __future__ import annotations

import os
import socket
from typing import Any

import docker
import psutil

from nborch.containers.docker_engine import connect_engine
from nborch.containers.spec import WorkerIdentity, store_label
from nborch.settings import get_settings
from nborch.workers.base import BaseWorker, Job


class DockerEngineWorker(BaseWorker[Job]):
    """A worker whose runs live on a Docker engine (containers, swarm services)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.identity = WorkerIdentity(
            id=str(self.id),
            host=socket.gethostname(),
            pid=os.getpid(),
            started=f"{psutil.Process().create_time():.2f}",
        )
        self.store = store_label(get_settings().resolved_database_url)
        self._engine: docker.DockerClient | None = None
        self._streams: docker.DockerClient | None = None

    @property
    def engine(self) -> docker.DockerClient:
        """The engine, for calls that return at once."""
        if self._engine is None:
            self._engine = connect_engine(timeout=60)
        return self._engine

    @property
    def streams(self) -> docker.DockerClient:
        """The engine, for calls that last as long as a run (waits, followed logs)."""
        if self._streams is None:
            self._streams = connect_engine(timeout=None, max_pool_size=64)
        return self._streams

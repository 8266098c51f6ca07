"""Which worker serves which pool type. Modules are imported when first asked for, so
importing nborch starts no back end."""

from __future__ import annotations

import importlib

from nborch.errors import ValidationError
from nborch.models import PoolType

_WORKERS: dict[PoolType, str] = {
    PoolType.PROCESS: "nborch.workers.process:ProcessWorker",
    PoolType.DOCKER: "nborch.containers.docker_worker:DockerWorker",
    PoolType.MANAGED: "nborch.workers.managed:ManagedWorker",
    PoolType.DOCKER_SWARM: "nborch.containers.swarm_worker:SwarmWorker",
    PoolType.DASK: "nborch.workers.dask_worker:DaskWorker",
}


def worker_class_for(pool_type: PoolType):  # type: ignore[no-untyped-def]
    target = _WORKERS.get(pool_type)
    if target is None:
        raise ValidationError(
            f"No worker for pools of type '{pool_type.value}' in this version of nborch. "
            f"Worker types: {', '.join(t.value for t in _WORKERS)}"
        )
    module_name, _, class_name = target.partition(":")
    return getattr(importlib.import_module(module_name), class_name)

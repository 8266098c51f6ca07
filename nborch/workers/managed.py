"""The `nborch:managed` pool's worker: nborch itself provisions each run's infrastructure,
a fresh papermill process of its own on the machine that serves the pool (the nborch server,
Jupyter, or `nborch dispatcher start`), and nobody starts a worker. Its compute hours count
against the pool's quota (see `nborch.orchestration.quotas`): over the quota, nothing more is
claimed, and new runs are refused."""

from __future__ import annotations

from nborch.jobs.variables import ManagedJob
from nborch.models import PoolType
from nborch.workers.process import ProcessWorker


class ManagedWorker(ProcessWorker):
    """Runs each run of a managed pool in a process of its own, like a `process` worker, but
    started by nborch's dispatcher rather than by a person."""

    pool_type = PoolType.MANAGED
    job_type = ManagedJob  # no standby kernels: a papermill process per run

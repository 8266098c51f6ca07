"""Workers: a light polling process bound to one pool, turning runs into infrastructure."""

from nborch.workers.base import BaseWorker
from nborch.workers.registry import worker_class_for

__all__ = ["BaseWorker", "worker_class_for"]

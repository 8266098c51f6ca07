"""nborch: notebook orchestration that lives inside Jupyter.

from nborch import Flow, get_client

flow = Flow.from_notebook("notebooks/hello.ipynb")
flow.deploy("daily", "my-pool", parameters={"times": 2})
get_client().create_run("hello/daily", parameters={"name": "Ada"})
"""

from importlib.metadata import PackageNotFoundError, version

from nborch.client import NborchClient, get_client
from nborch.errors import NborchError
from nborch.flows import Flow
from nborch.models import (
    Deployment,
    FlowRun,
    PoolStatus,
    PoolType,
    StateType,
    Worker,
    WorkPool,
    WorkQueue,
)

try:
    __version__ = version("nborch")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"

__all__ = [
    "Deployment",
    "Flow",
    "FlowRun",
    "NborchClient",
    "NborchError",
    "PoolStatus",
    "PoolType",
    "StateType",
    "WorkPool",
    "WorkQueue",
    "Worker",
    "__version__",
    "get_client",
]

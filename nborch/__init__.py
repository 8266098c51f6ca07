"""nborch: notebook orchestration that lives inside Jupyter.

    from nborch import flow, run_deployment

    hello = flow("notebooks/hello.ipynb")
    hello.deploy("daily", "my-pool", cron="0 1 * * *", parameters={"times": 2})
    run = run_deployment("hello/daily", parameters={"name": "Ada"}, timeout=60)
    run.output_notebook()

In a notebook: `%load_ext nborch`, then `%%flow`, `%deploy`, `%serve`, `%worker` ...;
`nborch.dashboard()` (or `%nborch_dashboard`) shows pools, workers, deployments and runs live.

Names are imported when first used, so that a process that needs one module of nborch
(a papermill run, say) does not pay for all of it.
"""

from __future__ import annotations

from importlib import import_module
from importlib.metadata import PackageNotFoundError, version
from typing import Any

try:
    __version__ = version("nborch")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"

_WHERE = {
    "AlertChannel": "nborch.alert_models",
    "AlertRule": "nborch.alert_models",
    "AlertRuleSpec": "nborch.alert_models",
    "Deployment": "nborch.models",
    "Flow": "nborch.flows",
    "FlowRun": "nborch.models",
    "NborchClient": "nborch.client",
    "NborchError": "nborch.errors",
    "PoolStatus": "nborch.models",
    "PoolType": "nborch.models",
    "RunHandle": "nborch.run_handle",
    "StateType": "nborch.models",
    "WorkPool": "nborch.models",
    "WorkQueue": "nborch.models",
    "Worker": "nborch.models",
    "dashboard": "nborch.notebook.dashboard",
    "flow": "nborch.flows",
    "get_client": "nborch.client",
    "load_ipython_extension": "nborch.notebook",
    "run_deployment": "nborch.run_handle",
}

__all__ = sorted([*_WHERE, "__version__"])


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'nborch' has no attribute {name!r}")
    value = getattr(import_module(_WHERE[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    """Jupyter finds the server extension (the API, the scheduler, the dispatcher) here;
    imported only when Jupyter asks, so that `import nborch` stays light."""
    from nborch.api.jupyter_extension import NborchApp

    return [{"module": "nborch.api.jupyter_extension", "app": NborchApp}]

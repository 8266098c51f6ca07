"""Flows: a parameterised notebook, ready to deploy to a work pool."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nborch.client import NborchClient, get_client
from nborch.execution.notebooks import default_flow_name, read_parameter_specs
from nborch.models import Deployment, DeploymentSpec, ParameterSpec
from nborch.parameters import validate_parameters


@dataclass
class Flow:
    """A notebook with its parameters. `source` is the folder, `entrypoint` the notebook
    path inside it; workers run the notebook from there (it is referenced, not copied)."""

    name: str
    source: str
    entrypoint: str
    parameters: list[ParameterSpec] = field(default_factory=list)

    @classmethod
    def from_notebook(cls, path: str | Path, name: str | None = None) -> Flow:
        """The flow of a notebook file; its parameters come from the cell tagged `parameters`."""
        notebook = Path(path).expanduser()
        specs = read_parameter_specs(notebook)
        notebook = notebook.resolve()
        return cls(
            name=name or default_flow_name(notebook),
            source=str(notebook.parent),
            entrypoint=notebook.name,
            parameters=specs,
        )

    @property
    def path(self) -> Path:
        return Path(self.source) / self.entrypoint

    def deploy(
        self,
        name: str,
        work_pool_name: str,
        *,
        work_queue_name: str | None = None,
        parameters: dict[str, Any] | None = None,
        job_variables: dict[str, Any] | None = None,
        tags: Sequence[str] = (),
        description: str = "",
        version: str | None = None,
        retries: int = 0,
        concurrency_limit: int | None = None,
        paused: bool = False,
        client: NborchClient | None = None,
    ) -> tuple[Deployment, bool]:
        """Create or update the deployment `flow/name` on a work pool; returns it and
        whether it was created."""
        parameters = dict(parameters or {})
        validate_parameters(self.parameters, parameters, f"flow '{self.name}'")
        spec = DeploymentSpec(
            flow_name=self.name,
            name=name,
            source=self.source,
            entrypoint=self.entrypoint,
            pool_name=work_pool_name,
            queue_name=work_queue_name,
            parameter_specs=self.parameters,
            parameters=parameters,
            job_variables=dict(job_variables or {}),
            tags=list(tags),
            description=description,
            version=version,
            retries=retries,
            concurrency_limit=concurrency_limit,
            paused=paused,
        )
        return (client or get_client()).apply_deployment(spec)

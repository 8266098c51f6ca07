"""A run's secrets in its worker's hands: fetched for that run only (when it references
any), substituted into what starts it (its parameters, its job configuration), and masked
in everything it leaves behind (log lines, output notebook, parameters file).

The run handed to the infrastructure carries the values; the run in the store keeps the
references, and nothing here writes back to it.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from nborch.client.base import NborchClient
from nborch.containers.spec import PARAMETERS_FILE
from nborch.execution.masking import mask_notebook_file, mask_parameters_file, masked_forms
from nborch.models import FlowRun
from nborch.secret_references import secret_names, substitute_secrets


class RunSecrets:
    """The secret values of one run, and every other value to keep out of what it leaves
    (e.g. `secret_env` values from the worker's environment)."""

    def __init__(self, run: FlowRun, values: dict[str, str]) -> None:
        self.run = run
        self.values = values
        self._hidden: list[str] = list(values.values())

    @classmethod
    def fetch(cls, client: NborchClient, run: FlowRun) -> RunSecrets:
        """Asks the store only when the run references secrets."""
        if not secret_names(run.parameters, run.job_variables):
            return cls(run, {})
        return cls(run, client.resolve_run_secrets(run.id, attempt=run.attempt))

    def hide(self, values: Iterable[str]) -> None:
        """Mask these values too."""
        self._hidden.extend(v for v in values if v)

    def masked_forms(self) -> list[str]:
        return masked_forms(self._hidden)

    def job(self, job: dict[str, Any]) -> dict[str, Any]:
        """The resolved job configuration with the values in place of the references."""
        return substitute_secrets(job, self.values, where=f"the job of flow run '{self.run.name}'")

    def with_values(self, run: FlowRun) -> FlowRun:
        """The run as its infrastructure gets it: parameters with the values in place."""
        if not self.values:
            return run
        parameters = substitute_secrets(
            run.parameters, self.values, where=f"the parameters of flow run '{run.name}'"
        )
        return run.model_copy(update={"parameters": parameters})

    def mask_outputs(self, output_path: str | None) -> None:
        """Mask every value in the run's output notebook and parameters file."""
        forms = self.masked_forms()
        if not forms or not output_path:
            return
        mask_notebook_file(output_path, forms)
        mask_parameters_file(Path(output_path).parent / PARAMETERS_FILE, forms)

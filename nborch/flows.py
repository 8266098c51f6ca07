"""Flows: a parameterised notebook, ready to deploy to a work pool."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from nborch.client import NborchClient, get_client
from nborch.display import print_deployment_summary
from nborch.execution.notebooks import default_flow_name, read_parameter_specs
from nborch.models import (
    ALL_RETRY_ON,
    CatchUp,
    Deployment,
    DeploymentSpec,
    ParameterSpec,
    RetryOn,
    ScheduleSpec,
    retry_on_of,
)
from nborch.parameters import validate_parameters
from nborch.sources import check_out, is_git_url, split_entrypoint
from nborch.timeutil import seconds
from nborch.workers.background import BackgroundWorker


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
        timeout: float | timedelta | None = None,
        retry_delay: float | timedelta = 0.0,
        retry_backoff: float = 1.0,
        retry_on: str | Sequence[RetryOn | str] = ALL_RETRY_ON,
        concurrency_limit: int | None = None,
        paused: bool = False,
        cron: str | Sequence[str] | None = None,
        interval: float | timedelta | Sequence[float | timedelta] | None = None,
        anchor_date: datetime | None = None,
        timezone: str = "UTC",
        schedules: Sequence[ScheduleSpec] | None = None,
        catch_up: CatchUp | str = CatchUp.LATEST,
        image: str | None = None,
        build: bool = True,
        push: bool = False,
        dockerfile: str | None = None,
        quiet: bool = False,
        client: NborchClient | None = None,
    ) -> tuple[Deployment, bool]:
        """Create or update the deployment `flow/name` on a work pool; returns it and
        whether it was created.

        `cron` (in `timezone`) and `interval` (seconds, from `anchor_date`) add schedules;
        `schedules` gives them in full. With none of the three, a redeploy keeps the
        deployment's schedules as they are. `catch_up` says what happens to times missed
        while nothing could run them: "latest" (default), "all" or "none".

        The run policy: `timeout` (seconds or a timedelta; None: none) stops a run that has
        run that long, which then ends FAILED, timed out. A run that ends in one of `retry_on`
        ("failed", "crashed", "timeout") is run again, at most `retries` times, `retry_delay`
        after its ending, times `retry_backoff` for each retry before (plus up to 10%).

        `image` (docker pools): the deployment's runs use this image; with `build`, nborch
        first builds it from the flow's folder (on the pool's default image, or from
        `dockerfile`), and pushes it to the registry in its name when `push`.
        """
        parameters = dict(parameters or {})
        # Checked again by the store; here first, so a bad value never costs an image build.
        validate_parameters(self.parameters, parameters, f"flow '{self.name}'")
        client = client or get_client()
        job_variables = dict(job_variables or {})
        if image is not None:
            from nborch.containers.flow_image import deployment_image  # Docker only when asked

            job_variables = deployment_image(
                client,
                work_pool_name,
                self.source,
                self.entrypoint,
                image,
                job_variables,
                build=build,
                push=push,
                dockerfile=dockerfile,
            )
        spec = DeploymentSpec(
            flow_name=self.name,
            name=name,
            source=self.source,
            entrypoint=self.entrypoint,
            pool_name=work_pool_name,
            queue_name=work_queue_name,
            parameter_specs=self.parameters,
            parameters=parameters,
            job_variables=job_variables,
            tags=list(tags),
            schedules=schedule_specs(cron, interval, anchor_date, timezone, schedules),
            catch_up=CatchUp(catch_up),
            description=description,
            version=version,
            retries=retries,
            timeout_seconds=seconds(timeout),
            retry_delay_seconds=seconds(retry_delay) or 0.0,
            retry_backoff=retry_backoff,
            retry_on=retry_on_of(retry_on),
            concurrency_limit=concurrency_limit,
            paused=paused,
        )
        deployment, created = client.apply_deployment(spec)
        if not quiet:
            print_deployment_summary(deployment, created)
        return deployment, created

    def serve(
        self,
        name: str,
        *,
        background: bool = False,
        limit: int | None = None,
        client: NborchClient | None = None,
        **deploy_options: Any,
    ) -> BackgroundWorker | None:
        """Deploy this flow as `name` and run its runs from this process, following its
        schedules (`cron=`, `interval=`, as for `deploy`): blocks until Ctrl+C, or with
        `background=True` returns the running worker (`.stop()` it)."""
        from nborch.serving import serve

        _deployment, worker = serve(
            self, name, background=background, limit=limit, client=client, **deploy_options
        )
        return worker

    @classmethod
    def from_source(cls, source: str | Path, entrypoint: str) -> Flow:
        """The flow at `entrypoint` ("path/nb.ipynb" or "path/nb.ipynb:flow_name") in
        `source`: a folder (referenced where it is, not copied) or a git URL (each run
        checks out the branch's newest commit and records it)."""
        path, name = split_entrypoint(entrypoint)
        if isinstance(source, str) and is_git_url(source):
            with tempfile.TemporaryDirectory(prefix="nborch-source-") as scratch:
                checkout = check_out(source, Path(scratch) / "checkout")
                found = cls.from_notebook(checkout.path / path, name)
            return cls(name=found.name, source=source, entrypoint=path, parameters=found.parameters)
        folder = Path(source).expanduser().resolve()
        found = cls.from_notebook(folder / path, name)
        return cls(
            name=found.name, source=str(folder), entrypoint=path, parameters=found.parameters
        )


def flow(path: str | Path, name: str | None = None) -> Flow:
    """The flow of a notebook: `flow("notebooks/report.ipynb").deploy(...)`."""
    return Flow.from_notebook(path, name)


def schedule_specs(
    cron: str | Sequence[str] | None,
    interval: float | timedelta | Sequence[float | timedelta] | None,
    anchor_date: datetime | None,
    timezone: str,
    schedules: Sequence[ScheduleSpec] | None,
) -> list[ScheduleSpec] | None:
    """The schedules `deploy` was given, or None when it was given none (keep them)."""
    crons = [cron] if isinstance(cron, str) else list(cron or [])
    intervals: list[float | timedelta] = []
    if isinstance(interval, (int, float, timedelta)):
        intervals = [interval]
    elif interval is not None:
        intervals = list(interval)
    if schedules is None and not crons and not intervals:
        return None
    return [
        *(schedules or []),
        *(ScheduleSpec(cron=c, timezone=timezone) for c in crons),
        *(
            ScheduleSpec(
                interval_seconds=i.total_seconds() if isinstance(i, timedelta) else float(i),
                anchor_date=anchor_date,
                timezone=timezone,
            )
            for i in intervals
        ),
    ]

"""The `dask` push pool's typed job: each run is a task submitted to a Dask distributed
scheduler, which runs papermill on one of its workers."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from nborch.jobs.model import Bounds
from nborch.jobs.variables import Environment, JobVariables, WorkingDir, described

DEFAULT_SCHEDULER_ADDRESS = "tcp://127.0.0.1:8786"


class DaskJob(JobVariables):
    """A `dask` pool's run: a task on the pool's Dask scheduler."""

    env: Annotated[Environment, described("Set in papermill's environment.")] = {}
    scheduler_address: Annotated[
        str,
        Bounds(minLength=1),
        Field(
            title="Scheduler address",
            description="The Dask scheduler the runs go to (dask scheduler prints it).",
            examples=["tcp://dask-scheduler:8786"],
        ),
    ] = DEFAULT_SCHEDULER_ADDRESS
    connect_timeout: Annotated[
        float,
        Bounds(exclusiveMinimum=0),
        Field(
            title="Connect timeout (s)",
            description="How long to try reaching the scheduler before the run is CRASHED.",
        ),
    ] = 10
    resources: Annotated[
        dict[str, Annotated[float, Bounds(minimum=0)]],
        Field(
            title="Worker resources",
            description="Abstract resources the task needs, as its workers declare them "
            "(dask worker --resources GPU=1).",
            examples=[{"GPU": 1}],
        ),
    ] = {}
    workers: Annotated[
        list[Annotated[str, Bounds(minLength=1)]],
        Field(
            title="Workers",
            description="Run only on these workers (addresses or host names); empty: any.",
        ),
    ] = []
    command: Annotated[
        list[str] | None,
        Bounds(minItems=1),
        Field(
            title="papermill command",
            description="How papermill starts on a Dask worker; empty: the worker's own "
            "Python with -m papermill.",
        ),
    ] = None
    working_dir: Annotated[
        WorkingDir,
        described(
            "Where the notebook runs on the Dask worker; empty: a fresh folder removed after "
            "the run."
        ),
    ] = None

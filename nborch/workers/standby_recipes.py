"""Which standby kernels a process worker keeps: how many (the pool's `standby_kernels`),
and for which recipes, learned when it starts from the pool's deployments and recent runs
(then from every run it executes)."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from nborch.errors import NborchError
from nborch.jobs.variables import JobVariables, ProcessJob
from nborch.models import FlowRun
from nborch.sources import notebook_location

if TYPE_CHECKING:
    from nborch.workers.process import ProcessWorker

Job = TypeVar("Job", bound=JobVariables)

# How many of the pool's newest runs are looked at when the worker starts.
RECENT_RUNS = 20


def standby_cap(template: Mapping[str, Any], job_type: type[ProcessJob] = ProcessJob) -> int:
    """The most standby kernels the pool's base job template asks for: the `standby_cap` of
    its job with every variable at the template's default (`ProcessJob.standby_cap`). A
    template without these variables (a pool made before them) gets the job type's own
    defaults: AUTO_STANDBY_KERNELS for a `process` pool, none for a `managed` one. None
    either when the template's defaults do not make a job of `job_type` (its runs would
    not start)."""
    try:
        defaults = job_type.from_template(template, owner="the pool's defaults")
    except NborchError:
        return 0
    return defaults.standby_cap


def learn_recent_recipes(worker: ProcessWorker) -> None:
    """Teach the worker's standby kernels the recipes of the pool's deployments (most
    recently changed last) and newest runs (newest last, so first in line)."""
    kernel_runs = worker._kernel_runs
    if kernel_runs is None or not worker.pool_name:
        return
    candidates: list[tuple[str, str | None, dict[str, Any], str | None]] = []
    try:  # a worker key may not list deployments: the runs will do
        deployments = worker.client.list_deployments(pool_name=worker.pool_name)
    except NborchError:
        deployments = []
    for deployment in sorted(deployments, key=lambda d: d.updated):
        input_path, cwd = notebook_location(deployment.source, deployment.entrypoint)
        candidates.append((input_path, cwd, deployment.job_variables, deployment.source))
    for run in reversed(worker.client.list_runs(pool_name=worker.pool_name, limit=RECENT_RUNS)):
        candidates.append((run.input_path, run.cwd, run.job_variables, run.source))
    for input_path, cwd, job_variables, source in candidates:
        job = job_for_worker(worker.job_type, worker.job_template, job_variables)
        if job is None or not job.in_process:
            continue
        kernel_name = job.kernel_name or _notebook_kernel(input_path)
        folder = str(job.working_dir or cwd or Path(input_path).parent)  # as below
        if not kernel_name or not Path(folder).is_dir():
            continue
        kernel_runs.learn(
            kernel_runs.kernel_job(
                job,
                cwd=folder,
                kernel_name=kernel_name,
                job_variables=job_variables,
                source=source,
            )
        )


def job_for_worker(
    job_type: type[Job], template: Mapping[str, Any], job_variables: Mapping[str, Any]
) -> Job | None:
    """The job as the worker would run it (secret_env values from its environment), or
    None when it could not run it here."""
    try:
        job = job_type.from_template(template, job_variables, owner="a run of the pool")
    except NborchError:
        return None
    if any(name not in os.environ for name in job.secret_env):
        return None
    secret_values = {name: os.environ[name] for name in job.secret_env}
    return job.model_copy(update={"env": {**job.env, **secret_values}})


def _notebook_kernel(path: str) -> str | None:
    try:
        notebook = json.loads(Path(path).read_text(encoding="utf-8"))
        return str(notebook["metadata"]["kernelspec"]["name"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def working_directory(run: FlowRun, job: ProcessJob) -> str:
    """Where the run's notebook runs: the job's working_dir, else the run's, else the
    notebook's folder."""
    return str(job.working_dir or run.cwd or Path(run.input_path).parent)

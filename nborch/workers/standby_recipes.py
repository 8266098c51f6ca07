"""Which standby kernels a process worker keeps: how many (the pool's `standby_kernels`),
and for which recipes, learned when it starts from the pool's deployments and recent runs
(then from every run it executes)."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nborch.errors import NborchError
from nborch.jobs import resolve_job_configuration
from nborch.jobs.variables import AUTO_STANDBY_KERNELS
from nborch.models import FlowRun
from nborch.sources import notebook_location

if TYPE_CHECKING:
    from nborch.workers.process import ProcessWorker

# How many of the pool's newest runs are looked at when the worker starts.
RECENT_RUNS = 20


def standby_cap(template: Mapping[str, Any], by_default: bool = True) -> int:
    """The most standby kernels the pool's base job template asks for: its
    `standby_kernels` default (empty: AUTO_STANDBY_KERNELS; 0: none), and none when its
    runs do not execute in process by default. A template without these variables gets
    AUTO_STANDBY_KERNELS if `by_default`, else none."""
    properties = template.get("variables", {}).get("properties", {})
    if "in_process" not in properties and "standby_kernels" not in properties:
        return AUTO_STANDBY_KERNELS if by_default else 0
    if properties.get("in_process", {}).get("default", True) is False:
        return 0
    value = properties.get("standby_kernels", {}).get("default")
    return AUTO_STANDBY_KERNELS if value is None else max(0, int(value))


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
        job = job_for_worker(worker.job_template, job_variables)
        if job is None or not job.get("in_process", True):  # (a standby pool runs in process)
            continue
        kernel_name = job.get("kernel_name") or _notebook_kernel(input_path)
        folder = str(job.get("working_dir") or cwd or Path(input_path).parent)  # as below
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
    template: Mapping[str, Any], job_variables: Mapping[str, Any]
) -> dict[str, Any] | None:
    """The job as the worker would run it (secret_env values from its environment), or
    None when it could not run it here."""
    try:
        job = resolve_job_configuration(template, job_variables)
    except NborchError:
        return None
    names = list(job.get("secret_env") or [])
    if any(name not in os.environ for name in names):
        return None
    job["env"] = {**(job.get("env") or {}), **{name: os.environ[name] for name in names}}
    return job


def _notebook_kernel(path: str) -> str | None:
    try:
        notebook = json.loads(Path(path).read_text(encoding="utf-8"))
        return str(notebook["metadata"]["kernelspec"]["name"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def working_directory(run: FlowRun, job: Mapping[str, Any]) -> str:
    """Where the run's notebook runs: the job's working_dir, else the run's, else the
    notebook's folder."""
    return str(job.get("working_dir") or run.cwd or Path(run.input_path).parent)

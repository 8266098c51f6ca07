"""Worker processes with short intervals, and waiting for a run to end."""

from __future__ import annotations

from nborch.client import NborchClient
from nborch.jobs import default_base_job_template
from nborch.models import FlowRun, PoolType, WorkPool
from support.processes import WorkerProcess, wait_for

# Short heartbeats, checks and grace periods, so that the end-to-end tests are quick; but a
# worker counts as gone only after 30 s without a heartbeat (60 missed), so that a live
# worker starved of CPU on a loaded machine is never taken for dead. The tests of crash
# detection itself shorten that (CRASH_DETECTION).
FAST = {
    "NBORCH_HEARTBEAT_INTERVAL": "0.5",
    "NBORCH_WORKER_TIMEOUT": "30",
    "NBORCH_CANCEL_CHECK_INTERVAL": "0.2",
    "NBORCH_KILL_GRACE_PERIOD": "2",
    "NBORCH_SCHEDULER_INTERVAL": "0.5",
}
# For a worker whose job in a test is to notice that another one died.
CRASH_DETECTION = {"NBORCH_WORKER_TIMEOUT": "3"}


def start_worker(
    started: list[WorkerProcess], *args: str, env: dict[str, str] | None = None
) -> WorkerProcess:
    """`nborch worker start ARGS --poll-interval 0.2`, once it says it started."""
    worker = WorkerProcess(*args, "--poll-interval", "0.2", env=env)
    started.append(worker)
    worker.wait_started()
    return worker


def final_run(client: NborchClient, run: FlowRun, timeout: float = 90) -> FlowRun:
    """The run once it is in a final state."""
    return wait_for(
        lambda: (r := client.get_run(run.id)) and r.state.is_final and r,
        timeout,
        lambda: f"run is {client.get_run(run.id).state}",
    )


def logged(client: NborchClient, run: FlowRun, text: str, timeout: float = 90) -> str:
    """The first stored log line of the run that contains `text`, once there is one."""
    return wait_for(
        lambda: next(
            (line.message for line in client.read_logs(run.id) if text in line.message), None
        ),
        timeout,
        lambda: "logs so far: " + " | ".join(line.message for line in client.read_logs(run.id)),
    )


# How a process pool runs its notebooks: from the worker on standby kernels (the default),
# from the worker on a kernel started for each run, or `python -m papermill` per run.
PROCESS_MODES = ["standby", "fresh-kernel", "subprocess"]


def create_process_pool(client: NborchClient, name: str, mode: str = "standby") -> WorkPool:
    """A process pool whose base job template runs its notebooks the `mode` way."""
    template = default_base_job_template(PoolType.PROCESS)
    properties = template["variables"]["properties"]
    if mode == "fresh-kernel":
        properties["standby_kernels"]["default"] = 0
    elif mode == "subprocess":
        properties["in_process"]["default"] = False
    else:
        assert mode == "standby", mode
    return client.create_pool(name, "process", base_job_template=template)

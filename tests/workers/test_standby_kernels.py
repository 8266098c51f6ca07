"""Standby kernels end to end: a real `nborch worker start` keeps fresh kernels started ahead
and hands each to exactly one run of the same kernel, folder and environment; a run of
another recipe gets a kernel of its own; idle kernels are recycled, dead ones replaced, and
none outlives the worker."""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path

import psutil
import pytest
from support.deployments import deploy_notebook
from support.notebooks import make_notebook
from support.processes import WorkerProcess, wait_for
from support.workers import create_process_pool, final_run, start_worker

from nborch.client import LocalClient
from nborch.models import FlowRun, StateType

pytestmark = pytest.mark.slow

# What the probe prints about the kernel it runs on; its second cell sets a global, so a
# kernel used twice would show it in the next run.
PROBE_CELL = """import os
print('pid', os.getpid())
print('cwd', os.getcwd())
print('foo', os.environ.get('FOO'))
print('run', os.environ.get('NBORCH_FLOW_RUN_ID'))
print('kernel', os.environ.get('WHICH_KERNEL', 'python3'))"""
LEAK_CELL = "print('leaked', 'left_behind' in globals())\nleft_behind = marker"


@pytest.fixture
def workers(
    workers: list[WorkerProcess], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> list[WorkerProcess]:
    """The shared fixture's workers, with a second Python kernel, "py-other", for runs that
    ask for another kernel by name."""
    spec = tmp_path / "jupyter" / "kernels" / "py-other" / "kernel.json"
    spec.parent.mkdir(parents=True)
    spec.write_text(
        json.dumps(
            {
                "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                "display_name": "Python (other)",
                "language": "python",
                "env": {"WHICH_KERNEL": "py-other"},
            }
        )
    )
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    return workers


def probe(folder: Path) -> Path:
    return make_notebook(folder / "probe.ipynb", 'marker: str = ""', PROBE_CELL, LEAK_CELL)


def facts(client: LocalClient, run: FlowRun) -> dict[str, str]:
    """What the probe printed in the run: {'pid': ..., 'born': ..., ...}."""
    done = final_run(client, run)
    assert done.state is StateType.COMPLETED, done.state_message
    found = {}
    for line in client.read_logs(run.id):
        key, _, value = line.message.partition(" ")
        if key in {"pid", "cwd", "foo", "run", "kernel", "leaked"}:
            found[key] = value
    return found


def kernels_of(worker: WorkerProcess) -> set[int]:
    """The kernel processes of the worker that are alive: before a run is created, those
    standing by (a run's kernel among them was started ahead of it)."""
    try:
        children = psutil.Process(worker.process.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return set()
    found = set()
    for child in children:
        try:
            if "ipykernel_launcher" in " ".join(child.cmdline()) and child.status() != "zombie":
                found.add(child.pid)
        except psutil.NoSuchProcess:
            pass
    return found


def cwd_of(pid: int) -> Path | None:
    try:
        return Path(psutil.Process(pid).cwd())
    except psutil.Error:
        return None


def test_each_run_gets_a_fresh_kernel_started_ahead_and_never_reused(
    sqlite_client: LocalClient, workers: list[WorkerProcess], tmp_path: Path
) -> None:
    client = sqlite_client
    create_process_pool(client, "local")
    deploy_notebook(client, probe(tmp_path), "local")
    worker = start_worker(workers, "--pool", "local", "--limit", "1")
    seen: list[int] = []
    for marker in ("first", "second", "third"):
        # One standing by (learned from the deployment; then each run's replacement).
        standby = wait_for(lambda: kernels_of(worker) - set(seen), 60, lambda: worker.output)
        run = client.create_run("probe/demo", parameters={"marker": marker})
        found = facts(client, run)
        assert found["leaked"] == "False"  # nothing of an earlier run in its kernel
        assert found["run"] == str(run.id)  # its own id, set in the kernel it was handed
        assert found["cwd"] == str(tmp_path)
        assert int(found["pid"]) in standby  # started ahead
        seen.append(int(found["pid"]))
    assert len(set(seen)) == 3  # a kernel each
    wait_for(lambda: not (set(seen) & kernels_of(worker)), 30)  # each shut down after its run


def test_a_run_takes_only_a_kernel_of_its_kernel_folder_and_environment(
    sqlite_client: LocalClient, workers: list[WorkerProcess], tmp_path: Path
) -> None:
    client = sqlite_client
    create_process_pool(client, "local")
    deploy_notebook(client, probe(tmp_path / "a"), "local", name="a")
    worker = start_worker(workers, "--pool", "local", "--limit", "2")
    wait_for(lambda: len(kernels_of(worker)) >= 2, 60, lambda: worker.output)

    # Another environment: a kernel of its own, with it.
    standby = kernels_of(worker)
    run = client.create_run("probe/a", job_variables={"env": {"FOO": "bar"}})
    found = facts(client, run)
    assert found["foo"] == "bar" and int(found["pid"]) not in standby

    # Another kernel: a kernel of its own, of that kind.
    standby = kernels_of(worker)
    run = client.create_run("probe/a", job_variables={"kernel_name": "py-other"})
    found = facts(client, run)
    assert found["kernel"] == "py-other" and int(found["pid"]) not in standby

    # Another folder (a deployment the worker has not seen): a kernel of its own there...
    deploy_notebook(client, probe(tmp_path / "b"), "local", name="b")
    standby = kernels_of(worker)
    run = client.create_run("probe/b")
    found = facts(client, run)
    assert found["cwd"] == str(tmp_path / "b") and int(found["pid"]) not in standby
    # ...and from then on, kernels started ahead for it.
    used = int(found["pid"])
    standby = wait_for(
        lambda: (
            (k := kernels_of(worker))
            and any(cwd_of(pid) == tmp_path / "b" for pid in k - {used})
            and k
        ),
        60,
        lambda: worker.output,
    )
    run = client.create_run("probe/b")
    found = facts(client, run)
    assert found["cwd"] == str(tmp_path / "b") and int(found["pid"]) in standby, found
    # The first deployment still gets its own kind, started ahead, never another's.
    run = client.create_run("probe/a")
    found = facts(client, run)
    assert found["cwd"] == str(tmp_path / "a") and found["foo"] == "None"
    assert found["kernel"] == "python3"


def test_idle_standby_kernels_are_recycled_and_dead_ones_replaced(
    sqlite_client: LocalClient, workers: list[WorkerProcess], tmp_path: Path
) -> None:
    client = sqlite_client
    create_process_pool(client, "local")
    deploy_notebook(client, probe(tmp_path), "local")
    worker = start_worker(
        workers, "--pool", "local", "--limit", "1", env={"NBORCH_STANDBY_RECYCLE_AFTER": "2"}
    )
    first = wait_for(lambda: kernels_of(worker), 60, lambda: worker.output)
    later = wait_for(lambda: (k := kernels_of(worker)) and not (k & first) and k, 30)
    assert len(later) == len(first) == 1  # one per free slot, started afresh
    assert not any(psutil.pid_exists(pid) and pid in kernels_of(worker) for pid in first)

    # A standby kernel that dies is replaced, and runs go on.
    (dead,) = later
    psutil.Process(dead).send_signal(signal.SIGKILL)
    wait_for(lambda: (k := kernels_of(worker)) and dead not in k, 30)
    run = client.create_run("probe/demo")
    assert facts(client, run)["leaked"] == "False"


def test_no_standby_kernels_when_off_and_none_after_the_worker(
    sqlite_client: LocalClient, workers: list[WorkerProcess], tmp_path: Path
) -> None:
    client = sqlite_client
    create_process_pool(client, "off", "fresh-kernel")
    create_process_pool(client, "on")
    deploy_notebook(client, probe(tmp_path / "off"), "off", name="off")
    deploy_notebook(client, probe(tmp_path / "on"), "on", name="on")
    off = start_worker(workers, "--pool", "off")
    on = start_worker(workers, "--pool", "on", "--limit", "2")
    standing = wait_for(lambda: len(k := kernels_of(on)) == 2 and k, 60, lambda: on.output)
    assert not kernels_of(off)
    run = client.create_run("probe/off")
    assert facts(client, run)["run"] == str(run.id)  # a kernel of its own, gone after the run
    wait_for(lambda: not kernels_of(off), 15)
    on.process.send_signal(signal.SIGTERM)
    assert on.process.wait(timeout=60) == 0
    wait_for(lambda: not any(psutil.pid_exists(pid) for pid in standing), 15)

"""A soak: 300 runs of a tiny notebook served by 4 real workers (`--limit 2`, one SQLite
store) while kernels are killed (SIGKILL) at random moments of their start and of their
run. One kernel's death costs at most one attempt of one run: every run ends (COMPLETED, or
CRASHED/FAILED naming the dead kernel), none is executed to completion twice, and no worker
freezes — each still runs new work and stops when told."""

from __future__ import annotations

import random
import signal
import threading
import time
from collections import Counter
from pathlib import Path

import psutil
import pytest
from support.deployments import deploy_notebook
from support.notebooks import make_notebook
from support.processes import WorkerProcess, wait_for
from support.workers import final_run, start_worker

from nborch.client import LocalClient
from nborch.models import FlowRun, StateType

pytestmark = pytest.mark.slow

RUNS = 300
WORKERS = 4
# A kernel younger than this is starting (standby, or a run's own); older ones stand by or
# run a notebook.
STARTING_FOR = 1.0


def kernels_of(workers: list[WorkerProcess]) -> list[psutil.Process]:
    found = []
    for worker in workers:
        try:
            children = psutil.Process(worker.process.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            continue
        for child in children:
            try:
                if "ipykernel" in " ".join(child.cmdline()):
                    found.append(child)
            except psutil.Error:
                pass
    return found


class KernelKiller(threading.Thread):
    """Kills a kernel of the workers now and then: half the time one still starting."""

    def __init__(self, workers: list[WorkerProcess], seed: int) -> None:
        super().__init__(daemon=True)
        self.workers = workers
        self.random = random.Random(seed)
        self.stop = threading.Event()
        self.kills: Counter[str] = Counter()

    def run(self) -> None:
        while not self.stop.wait(self.random.uniform(0.3, 1.2)):
            now = time.time()
            kernels = kernels_of(self.workers)
            starting = [k for k in kernels if now - k.create_time() < STARTING_FOR]
            pool = starting if starting and self.random.random() < 0.5 else kernels
            if not pool:
                continue
            victim = self.random.choice(pool)
            try:
                age = now - victim.create_time()
                victim.send_signal(signal.SIGKILL)
            except psutil.Error:
                continue
            self.kills["starting" if age < STARTING_FOR else "up"] += 1


def test_kernels_killed_at_random_cost_single_attempts_never_a_worker(
    sqlite_client: LocalClient, workers: list[WorkerProcess], tmp_path: Path
) -> None:
    client = sqlite_client
    client.create_pool("local", "process")
    marks = tmp_path / "marks"
    marks.mkdir()
    notebook = make_notebook(
        tmp_path / "tiny.ipynb",
        f"marks: str = {str(marks)!r}",
        "import os, time\ntime.sleep(0.3)",
        "with open(os.path.join(marks, os.environ['NBORCH_FLOW_RUN_ID']), 'a') as f:\n"
        "    f.write('done\\n')",
    )
    deploy_notebook(client, notebook, "local")
    runs = [client.create_run("tiny/demo") for _ in range(RUNS)]
    for _ in range(WORKERS):
        start_worker(workers, "--pool", "local", "--limit", "2")
    killer = KernelKiller(workers, seed=RUNS)
    killer.start()
    try:
        finals = [final_run(client, run, timeout=900) for run in runs]
    finally:
        killer.stop.set()
        killer.join()

    def completions(run: FlowRun) -> int:
        path = marks / str(run.id)
        return path.read_text().count("done") if path.exists() else 0

    states = Counter(run.state for run in finals)
    print(f"kills: {dict(killer.kills)}; ends: {dict(states)}")
    assert killer.kills["starting"] and killer.kills["up"], killer.kills
    assert all(completions(run) <= 1 for run in finals), "a run was executed twice"
    for run in finals:
        if run.state is StateType.COMPLETED:
            assert completions(run) == 1, run.id
        else:
            assert run.state in (StateType.CRASHED, StateType.FAILED), run.state
            assert "kernel died" in run.state_message.lower(), run.state_message
    assert states[StateType.COMPLETED] >= RUNS // 2, states

    # No worker froze: each is alive, the pool runs new work, and each stops when told.
    assert all(worker.alive for worker in workers), [w.output[-2000:] for w in workers]
    more = [client.create_run("tiny/demo") for _ in range(2 * WORKERS)]
    assert all(final_run(client, run).state is StateType.COMPLETED for run in more)
    for worker in workers:
        worker.process.send_signal(signal.SIGTERM)
    for worker in workers:
        assert worker.process.wait(timeout=60) == 0, worker.output[-2000:]
    wait_for(lambda: not kernels_of(workers), 30)

"""Standby containers of a docker pool, end to end on the real engine: each serves exactly
one run, a run they do not fit takes the plain path, a stopped worker removes its own, the
next worker removes those a killed one left, and --prestart readies a run's container before
its time so that its first cell starts on time. (What a run does in one — cancellation,
crashes, logs, the output notebook, a worker's death — is in test_docker_worker.py, in both
modes.)"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import docker
import nbformat
import pytest
from support.docker import remove_containers
from support.notebooks import make_notebook
from support.processes import WorkerProcess, wait_for
from support.workers import FAST, final_run
from test_docker_worker import NEVER_PULL, PATIENT, DockerPool, messages

from nborch.client import LocalClient
from nborch.containers.spec import LABEL_STANDBY_DIR, LABEL_STORE
from nborch.models import StateType
from nborch.settings import reset_settings
from nborch.timeutil import utcnow

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(600)]


@pytest.fixture
def standby_pool(
    sqlite_client: LocalClient,
    docker_engine: docker.DockerClient,
    runtime_image: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[DockerPool]:
    for key, value in FAST.items():
        monkeypatch.setenv(key, value)
    reset_settings()
    made = DockerPool(sqlite_client, docker_engine, tmp_path, "standby")
    yield made
    remove_containers(docker_engine, f"{LABEL_STORE}={made.store}")


def state_notebook(folder: Path) -> Path:
    """Says whether an earlier run's variable is in its kernel, then leaves one there."""
    return make_notebook(
        folder / "state.ipynb",
        'tag: str = ""',
        "import os\n"
        "print('SEEN', globals().get('left_behind', '-'), os.environ.get('NBORCH_FLOW_RUN_ID'),"
        " flush=True)\n"
        "left_behind = tag",
    )


def seen(client: LocalClient, run_id: object) -> str:
    return next(
        line.message for line in client.read_logs(run_id) if line.message.startswith("SEEN")
    )


def test_each_standby_container_serves_exactly_one_run(
    standby_pool: DockerPool, workers: list[WorkerProcess], tmp_path: Path
) -> None:
    pool, client = standby_pool, standby_pool.client
    flow = pool.deploy(state_notebook(tmp_path), job_variables={"auto_remove": True, **NEVER_PULL})
    pool.start_worker(workers)
    ids = []
    for tag in ("first", "second", "third"):
        wait_for(lambda: pool.standby_containers(ready=True), 90)
        run = client.create_run(flow, parameters={"tag": tag})
        done = final_run(client, run)
        assert done.state is StateType.COMPLETED, done.state_message
        pool.check_mode(done)
        # Nothing of an earlier run is in its kernel; its own id is in the kernel's env.
        assert seen(client, run.id) == f"SEEN - {run.id}"
        assert done.infrastructure_id
        ids.append(done.infrastructure_id)
        assert pool.containers(done) == []  # auto_remove: gone, with its folder
        notebook = nbformat.read(done.output_path, as_version=4)
        assert notebook.metadata.papermill.parameters == {"tag": tag}
    assert len(set(ids)) == 3  # three containers, one run each


def test_a_run_no_standby_container_fits_takes_the_plain_path(
    standby_pool: DockerPool, workers: list[WorkerProcess], tmp_path: Path
) -> None:
    pool, client = standby_pool, standby_pool.client
    notebook = state_notebook(tmp_path)
    flow = pool.deploy(notebook, job_variables=NEVER_PULL)
    pool.start_worker(workers)
    waiting = {c.id for c in pool.standby_containers(ready=True)}
    run = client.create_run(flow, job_variables={"env": {"OTHER": "1"}})
    done = final_run(client, run)
    assert done.state is StateType.COMPLETED, done.state_message
    first = next(m for m in messages(client, done) if m.startswith("nborch: running in"))
    assert not first.endswith("started ahead)")
    container = pool.container(done)
    assert container.attrs["Config"]["Cmd"][0] == "papermill"
    assert container.id not in waiting


def test_standby_containers_go_with_their_worker_or_with_the_next_one(
    standby_pool: DockerPool, workers: list[WorkerProcess], tmp_path: Path
) -> None:
    pool = standby_pool
    pool.deploy(state_notebook(tmp_path), job_variables=NEVER_PULL)
    first = pool.start_worker(workers)
    left = wait_for(
        lambda: len(pool.standby_containers(ready=True)) == 2 and pool.standby_containers(), 90
    )
    folders = [Path(c.labels[LABEL_STANDBY_DIR]) for c in left]
    assert all(folder.is_dir() for folder in folders)
    first.process.kill()  # no chance to remove them
    first.process.wait(timeout=30)
    assert {c.id for c in pool.standby_containers()} >= {c.id for c in left}

    second = pool.start_worker(workers, env=PATIENT)
    left_ids = {c.id for c in left}
    # The next worker removes them, and makes its own.
    wait_for(lambda: not {c.id for c in pool.standby_containers(every=True)} & left_ids, 60)
    wait_for(lambda: pool.standby_containers(ready=True), 90)
    assert not any(folder.exists() for folder in folders)
    assert "Removed standby container" in second.output

    own = pool.standby_containers()
    second.process.send_signal(signal.SIGTERM)  # stopped politely: it cleans up
    assert second.process.wait(timeout=60) == 0
    assert pool.standby_containers(every=True) == []  # a worker that stops removes its own
    assert not any(Path(c.labels[LABEL_STANDBY_DIR]).exists() for c in own)


@pytest.mark.parametrize("standby", [True, False], ids=["standby", "no-standby"])
def test_prestart_readies_the_container_early_and_runs_the_first_cell_on_time(
    standby: bool,
    standby_pool: DockerPool,
    workers: list[WorkerProcess],
    tmp_path: Path,
) -> None:
    pool, client = standby_pool, standby_pool.client
    variables = dict(NEVER_PULL) if standby else {"standby_containers": 0, **NEVER_PULL}
    flow = pool.deploy(state_notebook(tmp_path), job_variables=variables)
    pool.start_worker(workers, "--prestart", "15")
    due = utcnow() + timedelta(seconds=8)
    run = client.create_run(flow, scheduled_time=due)
    done = final_run(client, run, timeout=90)
    assert done.state is StateType.COMPLETED, done.state_message
    pool.check_mode(done)  # a container started ahead, from standby or for the run
    running = next(h for h in done.history if h.type is StateType.RUNNING)
    assert running.timestamp < due  # taken and launched ahead of its time
    output = nbformat.read(done.output_path, as_version=4)
    first_cell = datetime.fromisoformat(output.cells[1].metadata.papermill.start_time)
    assert first_cell >= due  # ...but the notebook began at its time, not before
    assert (first_cell - due).total_seconds() < 0.5  # and at once
    assert any("Kernel ready; the first cell starts in" in m for m in messages(client, done))

"""The docker worker end to end: real `nborch worker start` processes, a real Docker engine,
the runtime image built by `nborch image build-runtime`, real kernels in the containers.

Most tests run in both modes: `plain` (standby_containers 0: a container started for each
run) and `standby` (runs handed to containers started ahead: the worker is started, and a
standby container ready, before the run is created)."""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path

import docker
import nbformat
import pytest
from support.deployments import deploy_hello, deploy_notebook
from support.docker import EngineRelay, containers_of_run, remove_containers
from support.notebooks import make_notebook, sleeping_notebook
from support.processes import WorkerProcess, wait_for
from support.workers import FAST, final_run, logged, start_worker

from nborch.client import LocalClient
from nborch.containers.runtime_image import build_image
from nborch.containers.spec import (
    LABEL_DEPLOYMENT,
    LABEL_POOL,
    LABEL_RUN_ID,
    LABEL_STANDBY,
    LABEL_STANDBY_DIR,
    LABEL_STORE,
    store_label,
)
from nborch.containers.standby_handover import StandbyFolder, is_ready, read_assignment
from nborch.jobs import default_base_job_template
from nborch.models import FlowRun, PoolType, StateType
from nborch.settings import get_settings, reset_settings

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(600)]
POOL = "docker-pool"
NEVER_PULL = {"image_pull_policy": "Never"}
# A worker that does not take the previous one for dead by its heartbeats: whether that one
# lives is then decided by its process alone (deterministic).
PATIENT = {"NBORCH_WORKER_TIMEOUT": "120"}
MODES = ["plain", "standby"]
STARTED_AHEAD = "started ahead)"
# For what no standby container would change (a run that none fits, the engine itself).
PLAIN_ONLY = pytest.mark.parametrize(
    "pool", ["plain"], indirect=True
)  # the end of a standby container's first log line


class DockerPool:
    """A `docker` pool in the test's store, on the real engine, with standby containers
    (`mode` standby: two) or without (plain)."""

    def __init__(
        self, client: LocalClient, engine: docker.DockerClient, folder: Path, mode: str = "plain"
    ) -> None:
        self.client = client
        self.engine = engine
        self.folder = folder
        self.mode = mode
        template = default_base_job_template(PoolType.DOCKER)
        standby = template["variables"]["properties"]["standby_containers"]
        standby["default"] = 2 if mode == "standby" else 0
        client.create_pool(POOL, "docker", base_job_template=template)
        self.store = store_label(get_settings().resolved_database_url)

    def deploy(self, notebook: Path, name: str = "demo", **options: object) -> str:
        return deploy_notebook(self.client, notebook, POOL, name, **options).full_name

    def standby_containers(
        self, *, ready: bool = False, every: bool = False
    ) -> list[docker.models.containers.Container]:
        """The pool's standby containers not handed a run (`every`: handed ones too), the
        ready ones only when `ready`."""
        labels = [f"{LABEL_STANDBY}=true", f"{LABEL_STORE}={self.store}", f"{LABEL_POOL}={POOL}"]
        found = []
        # By id, then one by one: the worker may remove one meanwhile (recycled, replaced).
        for row in self.engine.api.containers(all=True, filters={"label": labels}):
            try:
                container = self.engine.containers.get(row["Id"])
            except docker.errors.NotFound:
                continue
            folder = StandbyFolder(Path(container.labels[LABEL_STANDBY_DIR]))
            if not every and read_assignment(folder) is not None:
                continue
            if ready and not (container.status == "running" and is_ready(folder)):
                continue
            found.append(container)
        return found

    def start_worker(
        self, workers: list[WorkerProcess], *args: str, env: dict[str, str] | None = None
    ) -> WorkerProcess:
        """A worker of the pool; in standby mode, once it has a standby container ready."""
        worker = start_worker(workers, "--pool", POOL, *args, env=env)
        if self.mode == "standby":
            wait_for(lambda: self.standby_containers(ready=True), 90, lambda: worker.output)
        return worker

    def check_mode(self, run: FlowRun) -> None:
        """The run took the path its mode says: a standby container, or one of its own."""
        first = next(
            line.message
            for line in self.client.read_logs(run.id)
            if line.message.startswith("nborch: running in container")
        )
        assert first.endswith(STARTED_AHEAD) == (self.mode == "standby"), first

    def containers(self, run: FlowRun) -> list[docker.models.containers.Container]:
        handed = [
            container
            for container in self.standby_containers(every=True)
            if (
                read_assignment(StandbyFolder(Path(container.labels[LABEL_STANDBY_DIR]))) or {}
            ).get("run_id")
            == str(run.id)
        ]
        return containers_of_run(self.engine, run.id) + handed

    def container(self, run: FlowRun) -> docker.models.containers.Container:
        found = wait_for(lambda: self.containers(run), 60, lambda: f"no container for {run.id}")
        assert len(found) == 1, found
        return found[0]


@pytest.fixture(params=MODES)
def pool(
    request: pytest.FixtureRequest,
    sqlite_client: LocalClient,
    docker_engine: docker.DockerClient,
    runtime_image: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[DockerPool]:
    for key, value in FAST.items():
        monkeypatch.setenv(key, value)
    reset_settings()
    made = DockerPool(sqlite_client, docker_engine, tmp_path, request.param)
    yield made
    remove_containers(docker_engine, f"{LABEL_STORE}={made.store}")


def env_notebook(folder: Path) -> Path:
    """Prints what the container gives it: environment, image mark, user, folder."""
    return make_notebook(
        folder / "env.ipynb",
        'tag: str = ""',
        "import os\n"
        "print('REPORT', tag, 'GREETING=' + os.environ.get('GREETING', '-'),"
        " 'IMAGE_MARK=' + os.environ.get('IMAGE_MARK', '-'), 'UID=' + str(os.getuid()),"
        " 'CWD=' + os.getcwd(), flush=True)",
    )


def report(client: LocalClient, run: FlowRun) -> str:
    return next(line.message for line in client.read_logs(run.id) if "REPORT" in line.message)


def messages(client: LocalClient, run: FlowRun) -> list[str]:
    return [line.message for line in client.read_logs(run.id)]


# --- a run in a container -------------------------------------------------------------------


def test_a_parameterised_notebook_runs_in_a_labelled_container(
    pool: DockerPool, workers: list[WorkerProcess]
) -> None:
    client = pool.client
    deploy_hello(client, POOL, job_variables=NEVER_PULL)
    worker = pool.start_worker(workers)
    run = client.create_run("hello/demo", parameters={"name": "Ada", "times": 2})
    assert re.fullmatch(r"Worker 'DockerWorker [0-9a-f-]{36}' started!", worker.lines[0])
    done = final_run(client, run)
    assert done.state is StateType.COMPLETED, done.state_message
    pool.check_mode(done)
    assert done.worker_name and done.worker_name.startswith("DockerWorker ")

    # The executed notebook is back in the run's folder, with the injected parameters,
    # owned by the worker and its alone (0600), and the folder is closed to other users
    # again (0700: nborch.home_files).
    assert done.output_path
    output = Path(done.output_path)
    notebook = nbformat.read(output, as_version=4)
    [injected] = [c for c in notebook.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert 'name = "Ada"' in injected.source and "times = 2" in injected.source
    assert output.stat().st_uid == os.geteuid()
    assert output.parent.stat().st_mode & 0o777 == 0o700
    assert output.stat().st_mode & 0o777 == 0o600
    assert output.parent.parent.stat().st_mode & 0o777 == 0o700  # runs/, standby folders in
    logs = messages(client, run)
    assert "1: Hello, Ada." in logs and "2: Hello, Ada." in logs
    assert not any("KeyboardInterrupt" in line for line in logs)

    # One container, its id stored, labelled, running papermill only (a standby container:
    # its waiter, which runs papermill's command line), with safe defaults.
    container = pool.container(run)
    assert done.infrastructure_id == f"container {container.id[:12]}"
    assert container.labels[LABEL_POOL] == POOL
    assert container.name == f"nborch-{run.name}-1"
    if pool.mode == "plain":
        assert container.labels[LABEL_RUN_ID] == str(run.id)
        assert container.labels[LABEL_DEPLOYMENT] == "hello/demo"
        assert container.attrs["Config"]["Cmd"][0] == "papermill"
    else:
        assert container.attrs["Config"]["Cmd"][:2] == ["python3", "/nborch/standby/waiter.py"]
    host = container.attrs["HostConfig"]
    assert host["Privileged"] is False
    assert host["NetworkMode"] in ("default", "bridge")
    image_user = pool.engine.images.get(container.attrs["Config"]["Image"]).attrs["Config"]["User"]
    assert image_user == "nborch" and container.attrs["Config"]["User"] in ("", "nborch")
    assert container.status == "exited"  # auto_remove is off by default: it stays


def test_job_variables_set_image_and_env_per_deployment_and_per_run(
    pool: DockerPool, workers: list[WorkerProcess], runtime_image: str, tmp_path: Path
) -> None:
    other = "nborch-test/other:1"
    context = tmp_path / "other-image"
    context.mkdir()
    (context / "Dockerfile").write_text(f"FROM {runtime_image}\nENV IMAGE_MARK=other\n")
    build_image(pool.engine, context, other)
    notebook = env_notebook(tmp_path / "flow")
    client = pool.client
    removed = {"auto_remove": True, **NEVER_PULL}
    plain = pool.deploy(notebook, "plain", job_variables={"env": {"GREETING": "dep"}, **removed})
    imaged = pool.deploy(notebook, "imaged", job_variables={"image": other, **removed})
    pool.start_worker(workers, "--limit", "4")
    runs = {
        "deployment-env": client.create_run(plain, parameters={"tag": "a"}),
        "run-env": client.create_run(
            plain, parameters={"tag": "b"}, job_variables={"env": {"GREETING": "run"}}
        ),
        "deployment-image": client.create_run(imaged, parameters={"tag": "c"}),
        "run-image": client.create_run(
            plain, parameters={"tag": "d"}, job_variables={"image": other}
        ),
    }
    done = {key: final_run(client, run) for key, run in runs.items()}
    assert {key: run.state for key, run in done.items()} == dict.fromkeys(runs, StateType.COMPLETED)
    reports = {key: report(client, run) for key, run in runs.items()}
    assert "GREETING=dep IMAGE_MARK=- UID=1000 CWD=/nborch/run" in reports["deployment-env"]
    assert "GREETING=run IMAGE_MARK=-" in reports["run-env"]
    assert "GREETING=- IMAGE_MARK=other" in reports["deployment-image"]
    assert "GREETING=dep IMAGE_MARK=other" in reports["run-image"]
    # auto_remove: nothing is left behind.
    assert all(pool.containers(run) == [] for run in runs.values())


def test_cancel_stops_the_container(
    pool: DockerPool, workers: list[WorkerProcess], tmp_path: Path
) -> None:
    client = pool.client
    flow = pool.deploy(sleeping_notebook(tmp_path / "sleeps.ipynb"), job_variables=NEVER_PULL)
    pool.start_worker(workers)
    run = client.create_run(flow, parameters={"seconds": 300, "marker": "m1"})
    logged(client, run, "started m1")
    pool.check_mode(run)
    container = pool.container(run)
    assert container.status == "running"
    client.cancel_run(run.id)
    done = final_run(client, run, timeout=30)
    assert done.state is StateType.CANCELLED, done.state_message
    container.reload()
    assert container.status == "exited"
    assert "finished m1" not in messages(client, run)


@PLAIN_ONLY
def test_a_run_past_its_timeout_stops_its_container_and_fails(
    pool: DockerPool, workers: list[WorkerProcess], tmp_path: Path
) -> None:
    client = pool.client
    notebook = sleeping_notebook(tmp_path / "sleeps.ipynb")
    flow = pool.deploy(notebook, job_variables=NEVER_PULL, timeout=20)
    pool.start_worker(workers)
    run = client.create_run(flow, parameters={"seconds": 300, "marker": "m1"})
    logged(client, run, "started m1")
    container = pool.container(run)
    done = final_run(client, run, timeout=60)
    assert done.state is StateType.FAILED, done.state_message
    # papermill's cell 3: the parameters and the injected parameters come first
    assert done.state_message.startswith("Timed out in cell 3 after "), done.state_message
    assert done.failure is not None and done.failure.ename == "RunTimeout"
    container.reload()
    assert container.status == "exited"
    assert "finished m1" not in messages(client, run)


# --- a worker that dies, and the next one -------------------------------------------------


def test_worker_killed_mid_run_next_worker_stops_its_container_and_crashes_the_run(
    pool: DockerPool, workers: list[WorkerProcess], tmp_path: Path
) -> None:
    client = pool.client
    flow = pool.deploy(sleeping_notebook(tmp_path / "sleeps.ipynb"), job_variables=NEVER_PULL)
    first = pool.start_worker(workers)
    run = client.create_run(flow, parameters={"seconds": 300, "marker": "k1"})
    logged(client, run, "started k1")
    pool.check_mode(run)
    first.process.kill()
    first.process.wait(timeout=30)
    container = pool.container(run)
    assert container.status == "running"  # the container outlives its worker
    assert client.get_run(run.id).state is StateType.RUNNING

    second = pool.start_worker(workers, env=PATIENT)
    done = final_run(client, run, timeout=60)
    assert done.state is StateType.CRASHED
    assert "stopped during the run" in done.state_message
    assert f"stopped its container {container.id[:12]}" in done.state_message
    assert done.worker_name == second.lines[0].split("'")[1]
    container.reload()
    assert container.status == "exited"
    logs = messages(client, run)
    assert logs.count(next(line for line in logs if "started k1" in line)) == 1
    assert "Settling flow run" in second.output


def _finished_by_the_next_worker(
    pool: DockerPool, workers: list[WorkerProcess], tmp_path: Path, marker: str
) -> tuple[FlowRun, str]:
    """A run (of a notebook printing `started` and `finished` with `marker`) whose worker
    is killed after its first line, its container left to exit unwatched, then settled by
    the next worker: the final run and the container's id."""
    client = pool.client
    flow = pool.deploy(
        sleeping_notebook(tmp_path / "sleeps.ipynb"),
        job_variables={"auto_remove": True, **NEVER_PULL},
    )
    first = pool.start_worker(workers)
    run = client.create_run(flow, parameters={"seconds": 3, "marker": marker})
    logged(client, run, "started")
    pool.check_mode(run)
    first.process.kill()
    first.process.wait(timeout=30)
    container = pool.container(run)
    wait_for(lambda: container.reload() or container.status == "exited", 60)  # nobody watching

    pool.start_worker(workers, env=PATIENT)
    done = final_run(client, run, timeout=60)
    assert done.state is StateType.COMPLETED, done.state_message
    return done, container.id


def test_worker_killed_then_the_next_worker_finishes_the_run_from_its_container(
    pool: DockerPool, workers: list[WorkerProcess], tmp_path: Path
) -> None:
    done, container_id = _finished_by_the_next_worker(pool, workers, tmp_path, "f1")
    assert done.state_message.startswith(f"Finished from container {container_id[:12]}'s result")
    logs = messages(pool.client, done)
    for marker in ("started f1", "finished f1"):  # each line once: none lost, none twice
        assert sum(marker in line for line in logs) == 1, logs
    assert done.output_path and Path(done.output_path).stat().st_uid == os.geteuid()
    assert pool.containers(done) == []  # auto_remove, also after a takeover


@PLAIN_ONLY
def test_a_settled_containers_lines_and_output_keep_the_runs_secret_masked(
    pool: DockerPool, workers: list[WorkerProcess], tmp_path: Path
) -> None:
    """The lines a container wrote while no worker watched, shipped by the worker that
    settles it, are masked like those its own worker shipped (and not shipped twice for
    differing from the masked ones); so is its output notebook."""
    secret = "s3cr3t-Tok3n-x9"
    pool.client.set_secret("API_TOKEN", secret)
    done, _ = _finished_by_the_next_worker(pool, workers, tmp_path, "{{ secret.API_TOKEN }}")
    logs = messages(pool.client, done)
    assert not any(secret in line for line in logs), logs
    for shown in ("started *****", "finished *****"):  # each once, masked
        assert sum(line.startswith(shown) for line in logs) == 1, logs
    assert done.output_path and secret not in Path(done.output_path).read_text()


# --- clear errors ---------------------------------------------------------------------------


@PLAIN_ONLY
def test_an_image_missing_with_pull_policy_never_crashes_the_run_saying_how_to_build_it(
    pool: DockerPool, workers: list[WorkerProcess]
) -> None:
    client = pool.client
    deploy_hello(client, POOL, job_variables={"image": "nborch-test/missing:1", **NEVER_PULL})
    run = client.create_run("hello/demo")
    start_worker(workers, "--pool", POOL)
    done = final_run(client, run)
    assert done.state is StateType.CRASHED
    assert (
        "Image 'nborch-test/missing:1' is not on this Docker engine and its pull policy is "
        "Never: build it with `nborch image build-runtime --tag nborch-test/missing:1`"
    ) in done.state_message
    assert any("pull policy is Never" in line for line in messages(client, run))
    assert pool.containers(run) == []


def test_out_of_memory_crashes_the_run_naming_the_limit(
    pool: DockerPool, workers: list[WorkerProcess], tmp_path: Path
) -> None:
    client = pool.client
    greedy = make_notebook(
        tmp_path / "greedy.ipynb",
        "gigabytes: int = 1",
        "print('allocating', flush=True)\nblob = b'x' * (gigabytes << 30)\nprint('survived')",
    )
    flow = pool.deploy(greedy, job_variables={"mem_limit": "256m", **NEVER_PULL})
    pool.start_worker(workers)
    run = client.create_run(flow)
    done = final_run(client, run)
    pool.check_mode(done)
    assert done.state is StateType.CRASHED, done.state_message
    assert done.state_message.startswith("Out of memory: container")
    assert "OOM-killed (mem_limit 256 MiB)" in done.state_message
    assert "survived" not in messages(client, run)
    assert pool.container(run).attrs["State"]["OOMKilled"] is True


@PLAIN_ONLY
def test_a_container_that_exits_at_once_fails_the_run_with_its_words(
    pool: DockerPool, workers: list[WorkerProcess]
) -> None:
    client = pool.client
    deploy_hello(client, POOL, job_variables={"command": ["no-such-papermill"], **NEVER_PULL})
    run = client.create_run("hello/demo")
    start_worker(workers, "--pool", POOL)
    done = final_run(client, run)
    assert done.state is StateType.FAILED
    assert "exit code 127: command not found" in done.state_message
    assert "no-such-papermill" in done.state_message


@PLAIN_ONLY
def test_a_worker_without_an_engine_refuses_to_start(pool: DockerPool, tmp_path: Path) -> None:
    nowhere = f"unix://{tmp_path}/no-engine.sock"
    worker = WorkerProcess("--pool", POOL, env={"DOCKER_HOST": nowhere})
    assert worker.process.wait(timeout=60) == 1
    worker._reader.join(timeout=5)
    assert f"Error: Cannot reach the Docker engine at {nowhere}" in worker.output
    assert "Traceback" not in worker.output
    assert pool.client.list_workers(POOL) == []  # it never registered


@PLAIN_ONLY
def test_an_engine_lost_mid_run_crashes_the_run_and_the_next_worker_stops_the_container(
    pool: DockerPool, workers: list[WorkerProcess], tmp_path: Path
) -> None:
    client = pool.client
    flow = pool.deploy(sleeping_notebook(tmp_path / "sleeps.ipynb"), job_variables=NEVER_PULL)
    run = client.create_run(flow, parameters={"seconds": 300, "marker": "e1"})
    relay = EngineRelay(Path(tempfile.mkdtemp(prefix="nborch-relay-")) / "docker.sock")
    start_worker(workers, "--pool", POOL, env={"DOCKER_HOST": relay.url})
    logged(client, run, "started e1")
    relay.cut()  # the engine is gone, for this worker
    done = final_run(client, run, timeout=60)
    assert done.state is StateType.CRASHED
    assert "Lost the Docker engine at unix://" in done.state_message
    assert "the next worker of pool 'docker-pool' to start settles it" in done.state_message
    container = pool.container(run)
    assert container.status == "running"

    settler = start_worker(workers, "--pool", POOL, env=PATIENT)
    wait_for(lambda: container.reload() or container.status == "exited", 60)
    # Said by the worker that stopped it, not in the run's logs: the run has ended, and
    # nothing more is written about it (`nborch.orchestration.fencing`).
    note = settler.wait_for_line("left running", timeout=60)
    assert f"container {container.id[:12]}" in note and "is CRASHED" in note
    assert "left running" not in messages(client, run)
    assert done.output_path
    run_dir = Path(done.output_path).parent
    wait_for(lambda: run_dir.stat().st_mode & 0o777 == 0o755, 30)  # handed back to the worker


def test_a_container_killed_mid_run_crashes_the_run(
    pool: DockerPool, workers: list[WorkerProcess], tmp_path: Path
) -> None:
    client = pool.client
    flow = pool.deploy(sleeping_notebook(tmp_path / "sleeps.ipynb"), job_variables=NEVER_PULL)
    pool.start_worker(workers)
    run = client.create_run(flow, parameters={"seconds": 300, "marker": "x1"})
    logged(client, run, "started x1")
    pool.check_mode(run)
    pool.container(run).kill()
    done = final_run(client, run, timeout=60)
    assert done.state is StateType.CRASHED, done.state_message
    assert done.state_message.startswith("The run was killed (exit 137")
    assert "finished x1" not in messages(client, run)

"""The docker-swarm push pool end to end: a real one-node swarm on the machine's engine, the
runtime image, real kernels in the tasks; the dispatcher (as inside a server) submits each
run as a replicated-job service, follows it, cancels it, and says what happened when the
task's container is killed mid-run."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import docker
import nbformat
import pytest
from support.deployments import deploy_hello, deploy_notebook
from support.notebooks import sleeping_notebook
from support.processes import wait_for
from support.swarm import one_node_swarm
from support.workers import FAST, final_run, logged

from nborch.client import LocalClient
from nborch.containers.spec import LABEL_RUN_ID
from nborch.dispatch import Dispatcher
from nborch.models import FlowRun, PoolStatus, StateType
from nborch.settings import reset_settings

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(600)]
POOL = "swarm-pool"


@pytest.fixture(scope="module")
def swarm(docker_engine: docker.DockerClient, runtime_image: str) -> Iterator[str]:
    with one_node_swarm(docker_engine):
        yield runtime_image


@pytest.fixture
def pool(
    sqlite_client: LocalClient, swarm: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[LocalClient]:
    for key, value in FAST.items():
        monkeypatch.setenv(key, value)
    reset_settings()
    sqlite_client.create_pool(POOL, "docker-swarm")
    dispatcher = Dispatcher(sqlite_client, interval=0.2, poll_interval=0.2, echo=print)
    dispatcher.start()
    wait_for(lambda: sqlite_client.get_pool(POOL).status is PoolStatus.READY, 60)
    yield sqlite_client
    dispatcher.stop(grace=5)


def services_of(engine: docker.DockerClient, run: FlowRun) -> list[docker.models.services.Service]:
    return list(engine.services.list(filters={"label": f"{LABEL_RUN_ID}={run.id}"}))


def test_parameterised_runs_go_through_the_swarm(
    pool: LocalClient, docker_engine: docker.DockerClient
) -> None:
    deploy_hello(pool, POOL, name="demo", job_variables={"constraints": ["node.role==manager"]})
    runs = [
        pool.create_run("hello/demo", parameters={"name": name, "times": 2})
        for name in ("Ada", "Grace")
    ]
    for run, name in zip(runs, ("Ada", "Grace"), strict=True):
        done = final_run(pool, run, timeout=180)
        assert done.state is StateType.COMPLETED, done.state_message
        assert done.infrastructure_id and done.infrastructure_id.startswith("swarm service nborch-")
        logs = [line.message for line in pool.read_logs(run.id)]
        assert any(f"Hello, {name}" in line for line in logs), logs
        assert done.output_path
        output = nbformat.read(done.output_path, as_version=4)
        injected = [c for c in output.cells if "injected-parameters" in c.metadata.get("tags", [])]
        assert f"name = {name!r}".replace("'", '"') in injected[0].source
        assert services_of(docker_engine, run) == []  # auto_remove


def test_placement_and_resources_come_from_job_variables(
    pool: LocalClient, docker_engine: docker.DockerClient, tmp_path: Path
) -> None:
    sleepy = deploy_notebook(
        pool,
        sleeping_notebook(tmp_path / "sleepy.ipynb"),
        POOL,
        job_variables={
            "constraints": ["node.role==manager"],
            "cpus": 0.5,
            "mem_limit": "256m",
            "labels": {"team": "ds"},
        },
    )
    run = pool.create_run(sleepy.full_name, parameters={"seconds": 60})
    logged(pool, run, "started", timeout=120)
    [service] = services_of(docker_engine, run)
    spec = service.attrs["Spec"]
    assert spec["Mode"] == {"ReplicatedJob": {"MaxConcurrent": 1, "TotalCompletions": 1}}
    task = spec["TaskTemplate"]
    assert task["Placement"]["Constraints"] == ["node.role==manager"]
    assert task["Resources"]["Limits"] == {"NanoCPUs": 500_000_000, "MemoryBytes": 256 * 2**20}
    assert task["RestartPolicy"]["Condition"] == "none"
    assert spec["Labels"]["team"] == "ds"
    # cancel it
    pool.cancel_run(run.id)
    done = final_run(pool, run, timeout=60)
    assert done.state is StateType.CANCELLED
    wait_for(lambda: services_of(docker_engine, run) == [], 30)

    # a task no node can take: CRASHED after the placement timeout, saying why
    nowhere = pool.create_run(
        sleepy.full_name,
        job_variables={"constraints": ["node.labels.gpu==true"], "placement_timeout": 3},
    )
    done = final_run(pool, nowhere, timeout=60)
    assert done.state is StateType.CRASHED
    assert "No swarm node took the task" in done.state_message
    assert services_of(docker_engine, nowhere) == []


def test_a_task_killed_mid_run_crashes_the_run_which_is_retried(
    pool: LocalClient, docker_engine: docker.DockerClient, tmp_path: Path
) -> None:
    sleepy = deploy_notebook(
        pool, sleeping_notebook(tmp_path / "sleepy.ipynb"), POOL, name="retried", retries=1
    )
    run = pool.create_run(sleepy.full_name, parameters={"seconds": 6, "marker": "m"})
    logged(pool, run, "started m", timeout=120)
    [container] = docker_engine.containers.list(filters={"label": f"{LABEL_RUN_ID}={run.id}"})
    container.kill()  # the engine's worker (the task's container) is lost
    retried = wait_for(
        lambda: (r := pool.get_run(run.id)) and r.run_count == 2 and r,
        120,
        lambda: f"run is {pool.get_run(run.id).state}",
    )
    crashed = [s for s in pool.get_run(retried.id).history if s.type is StateType.CRASHED]
    assert crashed and "was killed on node" in crashed[0].message, crashed
    assert "retried when its deployment has retries left" in crashed[0].message
    done = final_run(pool, run, timeout=120)
    assert done.state is StateType.COMPLETED, done.state_message

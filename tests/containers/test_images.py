"""Images on the real engine: the runtime image's cache, and a deployment's own image
(`deploy(image=...)`, `nborch deploy --image`) run by a docker worker."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest
from support.ci import unavailable
from support.cli import as_json, error_line, invoker, ok
from support.docker import Registry, remove_containers
from support.notebooks import make_notebook
from support.processes import WorkerProcess
from support.workers import FAST, final_run, start_worker

from nborch.client import LocalClient
from nborch.containers.flow_image import FLOW_DIR
from nborch.containers.runtime_image import (
    RECIPE_LABEL,
    RUNTIME_USER,
    RuntimeRecipe,
    build_runtime_image,
)
from nborch.containers.spec import LABEL_STORE, LABEL_WORKDIR, store_label
from nborch.errors import InfrastructureError, ValidationError
from nborch.flows import Flow
from nborch.models import StateType
from nborch.settings import get_settings, reset_settings

docker_tests = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(600)]
FLOW_IMAGE = "nborch-test/flow:1"


# --- the runtime image ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "change",
    [
        {"python_packages": ("papermill", "ipykernel", "pandas")},
        {"debian_packages": ("python3", "python3-venv", "git")},
        {"suite": "trixie"},
    ],
)
def test_the_recipe_digest_follows_the_recipe(change: dict[str, object]) -> None:
    default = RuntimeRecipe()
    changed = RuntimeRecipe(**change)  # type: ignore[arg-type]
    assert changed.digest != default.digest
    assert RuntimeRecipe().digest == default.digest  # and nothing else moves it
    # Only what goes into the root file system makes a new tarball (a slow debootstrap).
    rootfs_changes = "debian_packages" in change or "suite" in change
    assert (changed.rootfs_key != default.rootfs_key) is rootfs_changes


def test_the_dockerfile_installs_from_local_wheels_as_a_non_root_user() -> None:
    dockerfile = RuntimeRecipe().dockerfile()
    assert "--no-index --find-links /tmp/wheels papermill ipykernel" in dockerfile
    assert f"USER {RUNTIME_USER}" in dockerfile
    assert "useradd --create-home --uid 1000" in dockerfile


@pytest.mark.docker
@pytest.mark.slow
@pytest.mark.timeout(600)
def test_the_runtime_image_is_rebuilt_only_when_its_recipe_changes(
    runtime_image: str, docker_engine: docker.DockerClient
) -> None:
    image = docker_engine.images.get(runtime_image)
    assert image.labels[RECIPE_LABEL] == RuntimeRecipe().digest
    assert image.attrs["Config"]["User"] == RUNTIME_USER
    started = time.monotonic()
    again = build_runtime_image(runtime_image, echo=lambda _line: None)
    assert again.built is False and time.monotonic() - started < 10
    assert docker_engine.images.get(runtime_image).id == image.id
    result = ok(invoker()("image", "build-runtime", "--tag", runtime_image))
    assert f"Image '{runtime_image}' is up to date (recipe {RuntimeRecipe().digest})." in (
        result.output
    )
    output = docker_engine.containers.run(
        runtime_image, ["sh", "-c", "id -un; papermill --version"], remove=True
    ).decode()
    assert output.startswith(f"{RUNTIME_USER}\n") and "papermill" in output.lower()


# --- a deployment's image -------------------------------------------------------------------


def data_notebook(folder: Path) -> Path:
    """A notebook that reads a data file from its own folder."""
    (folder / "data.txt").parent.mkdir(parents=True, exist_ok=True)
    (folder / "data.txt").write_text("shipped-in-the-image\n")
    return make_notebook(
        folder / "reads.ipynb",
        "n: int = 1",
        "import os\nprint('DATA=' + open('data.txt').read().strip(), 'CWD=' + os.getcwd(),"
        " 'N=' + str(n), flush=True)",
    )


@pytest.fixture
def docker_store(
    sqlite_client: LocalClient, docker_engine: docker.DockerClient, monkeypatch: pytest.MonkeyPatch
) -> Iterator[LocalClient]:
    for key, value in FAST.items():
        monkeypatch.setenv(key, value)
    reset_settings()
    sqlite_client.create_pool("docker-pool", "docker")
    sqlite_client.create_pool("local", "process")
    yield sqlite_client
    store = store_label(get_settings().resolved_database_url)
    remove_containers(docker_engine, f"{LABEL_STORE}={store}")


@pytest.mark.docker
@pytest.mark.slow
@pytest.mark.timeout(600)
def test_deploy_with_an_image_builds_the_flow_into_it_and_runs_it_there(
    docker_store: LocalClient,
    docker_engine: docker.DockerClient,
    runtime_image: str,
    tmp_path: Path,
) -> None:
    client = docker_store
    notebook = data_notebook(tmp_path / "flow")
    deployment, _ = Flow.from_notebook(notebook).deploy(
        "imaged",
        "docker-pool",
        image=FLOW_IMAGE,
        push=False,
        job_variables={"image_pull_policy": "Never"},
        client=client,
    )
    assert deployment.job_variables == {"image": FLOW_IMAGE, "image_pull_policy": "Never"}
    image = docker_engine.images.get(FLOW_IMAGE)
    assert image.labels[LABEL_WORKDIR] == FLOW_DIR
    # The folder was copied at deploy time: a later change on this machine is not in it.
    (tmp_path / "flow" / "data.txt").write_text("changed-after-deploy\n")
    run = client.create_run("reads/imaged", parameters={"n": 5})
    workers: list[WorkerProcess] = []
    try:
        start_worker(workers, "--pool", "docker-pool")
        done = final_run(client, run)
    finally:
        for worker in workers:
            worker.stop()
    assert done.state is StateType.COMPLETED, done.state_message
    logs = [line.message for line in client.read_logs(run.id)]
    assert f"DATA=shipped-in-the-image CWD={FLOW_DIR} N=5" in logs


@pytest.mark.docker
@pytest.mark.slow
@pytest.mark.timeout(600)
def test_cli_deploy_image_options(
    docker_store: LocalClient,
    docker_engine: docker.DockerClient,
    runtime_image: str,
    tmp_path: Path,
) -> None:
    nborch = invoker()
    notebook = str(data_notebook(tmp_path / "flow"))
    dockerfile = tmp_path / "Dockerfile.custom"
    dockerfile.write_text(f'FROM {runtime_image}\nCOPY . /srv/flow\nLABEL custom="yes"\n')
    result = ok(
        nborch(
            "deploy", notebook, "--name", "custom", "--pool", "docker-pool",
            "--image", "nborch-test/custom:1", "--dockerfile", str(dockerfile),
        )
    )  # fmt: skip
    assert "Built image 'nborch-test/custom:1'" in result.output
    assert docker_engine.images.get("nborch-test/custom:1").labels["custom"] == "yes"
    deployment = as_json(
        nborch(
            "deploy", notebook, "--name", "prebuilt", "--pool", "docker-pool",
            "--image", "nborch-test/custom:1", "--no-build", "--job-var",
            "image_pull_policy=Never", "--json",
        )
    )  # fmt: skip
    assert deployment["job_variables"] == {
        "image": "nborch-test/custom:1",
        "image_pull_policy": "Never",
    }
    error_line(
        nborch("deploy", notebook, "--name", "x", "--pool", "local", "--image", "a:1"),
        "Work pool 'local' is of type 'process': an image is for docker pools",
    )
    error_line(
        nborch(
            "deploy", notebook, "--name", "x", "--pool", "docker-pool", "--image", "a:1",
            "--dockerfile", str(tmp_path / "missing"),
        ),
        f"Dockerfile '{tmp_path / 'missing'}' not found",
    )  # fmt: skip
    assert {d["name"] for d in as_json(nborch("deployment", "ls", "--json"))} == {
        "custom",
        "prebuilt",
    }


def test_an_image_for_a_process_pool_is_refused_before_any_build(
    sqlite_client: LocalClient, tmp_path: Path
) -> None:
    sqlite_client.create_pool("local", "process")
    flow = Flow.from_notebook(data_notebook(tmp_path / "flow"))
    with pytest.raises(ValidationError, match="an image is for docker pools"):
        flow.deploy("x", "local", image="a:1", client=sqlite_client)
    with pytest.raises(ValidationError, match="A Dockerfile is for building the image"):
        sqlite_client.create_pool("docker-pool", "docker")
        flow.deploy(
            "x", "docker-pool", image="a:1", build=False, dockerfile="D", client=sqlite_client
        )
    assert sqlite_client.list_deployments() == []


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[Registry]:
    if shutil.which("docker-registry") is None:
        reason = "docker-registry is not installed (as root, make services installs it)"
        unavailable("docker-registry", reason)
    started = Registry(tmp_path)
    started.wait_ready()
    yield started
    started.stop()


@pytest.mark.docker
@pytest.mark.slow
@pytest.mark.timeout(600)
def test_push_sends_the_image_to_the_registry_in_its_name_and_only_when_asked(
    docker_store: LocalClient,
    docker_engine: docker.DockerClient,
    runtime_image: str,
    registry: Registry,
    tmp_path: Path,
) -> None:
    flow = Flow.from_notebook(data_notebook(tmp_path / "flow"))
    kept = f"{registry.address}/nborch-test/kept:1"
    flow.deploy("kept", "docker-pool", image=kept, push=False, client=docker_store)
    assert registry.get("/v2/_catalog")["repositories"] == []
    pushed = f"{registry.address}/nborch-test/flow:1"
    deployment, _ = flow.deploy(
        "pushed", "docker-pool", image=pushed, push=True, client=docker_store
    )
    assert deployment.job_variables["image"] == pushed
    assert registry.get("/v2/_catalog")["repositories"] == ["nborch-test/flow"]
    assert registry.get("/v2/nborch-test/flow/tags/list")["tags"] == ["1"]
    # A worker pulls it from there: when missing (IfNotPresent, the default), or always.
    docker_engine.images.remove(pushed)
    runs = [
        docker_store.create_run("reads/pushed"),
        docker_store.create_run("reads/pushed", job_variables={"image_pull_policy": "Always"}),
    ]
    worker = WorkerProcess("--pool", "docker-pool", "--run-once")
    assert worker.process.wait(timeout=300) == 0, worker.output
    for run in runs:
        done = docker_store.get_run(run.id)
        assert done.state is StateType.COMPLETED, done.state_message
    assert docker_engine.images.get(pushed)
    # A registry that does not answer: a clear error, and no deployment pointing at nothing.
    with pytest.raises(InfrastructureError, match="Pushing image '127.0.0.1:9/x/y:1' failed"):
        flow.deploy(
            "lost", "docker-pool", image="127.0.0.1:9/x/y:1", push=True, client=docker_store
        )
    assert {d.name for d in docker_store.list_deployments()} == {"kept", "pushed"}
    for image in (kept, pushed, "127.0.0.1:9/x/y:1"):
        docker_engine.images.remove(
            image, force=True
        )  # only the tag: the store fixture removes containers

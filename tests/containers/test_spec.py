"""What a run's container is made of, from the run and its resolved job configuration."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from nborch.containers.spec import (
    LABEL_ATTEMPT,
    LABEL_AUTO_REMOVE,
    LABEL_DEPLOYMENT,
    LABEL_POOL,
    LABEL_RUN_ID,
    LABEL_WORKDIR,
    RUN_MOUNT,
    WorkerIdentity,
    container_labels,
    container_name,
    container_options,
    extra_networks,
)
from nborch.jobs import default_base_job_template
from nborch.jobs.variables import DockerJob
from nborch.models import FlowRun, PoolType, StateType
from nborch.timeutil import utcnow

WORKER = WorkerIdentity(id="w-1", host="host-a", pid=42, started="1700000000.00")


def a_run(run_dir: Path) -> FlowRun:
    now = utcnow()
    run_id = uuid.uuid4()
    return FlowRun(
        id=run_id,
        name=f"daily-{str(run_id)[:8]}",
        flow_name="hello",
        deployment_name="hello/daily",
        pool_name="my-docker-pool",
        state=StateType.PENDING,
        parameters={"n": 3},
        input_path="/home/me/flows/hello.ipynb",
        output_path=str(run_dir / "output.ipynb"),
        scheduled_time=now,
        created=now,
    )


def job(**variables: Any) -> DockerJob:
    template = default_base_job_template(PoolType.DOCKER)
    return DockerJob.from_template(template, variables, owner="flow run 'daily'")


def options(
    tmp_path: Path, image_labels: dict[str, str] | None = None, **variables: Any
) -> dict[str, Any]:
    run = a_run(tmp_path)
    return container_options(
        run,
        job(**variables),
        run_dir=tmp_path,
        image_labels=image_labels or {},
        labels={"x": "y"},
        name="n",
    )


def test_the_container_runs_papermill_on_the_run_folder_and_nothing_else(tmp_path: Path) -> None:
    made = options(tmp_path, execution_timeout=60, kernel_name="python3")
    assert made["command"] == [
        "papermill", f"{RUN_MOUNT}/input.ipynb", f"{RUN_MOUNT}/output.ipynb", "--no-progress-bar",
        "-f", f"{RUN_MOUNT}/parameters.yaml", "--cwd", RUN_MOUNT, "-k", "python3",
        "--execution-timeout", "60", "--log-output",
    ]  # fmt: skip
    assert made["volumes"] == [f"{tmp_path}:{RUN_MOUNT}:rw"]
    assert made["working_dir"] == RUN_MOUNT
    assert made["init"] is True
    assert made["privileged"] is False
    assert made["user"] is None
    assert "network_mode" not in made and "network" not in made
    assert "mem_limit" not in made and "nano_cpus" not in made
    assert made["environment"]["PYTHONUNBUFFERED"] == "1"
    assert "NBORCH_FLOW_RUN_ID" in made["environment"]


def test_job_variables_become_docker_options(tmp_path: Path) -> None:
    made = options(
        tmp_path,
        command=["python", "-m", "papermill"],
        env={"GREETING": "hi"},
        volumes=["/srv/data:/data:ro"],
        mem_limit="256m",
        cpus=1.5,
        user="1234:1234",
        privileged=True,
        networks=["backend", "metrics"],
        stream_output=False,
    )
    assert made["command"][:3] == ["python", "-m", "papermill"]
    assert "--log-output" not in made["command"]
    assert made["environment"]["GREETING"] == "hi"
    assert made["volumes"] == [f"{tmp_path}:{RUN_MOUNT}:rw", "/srv/data:/data:ro"]
    assert made["mem_limit"] == "256m" and made["memswap_limit"] == "256m"
    assert made["nano_cpus"] == 1_500_000_000
    assert made["user"] == "1234:1234"
    assert made["privileged"] is True
    assert made["network"] == "backend"
    assert extra_networks(job(networks=["backend", "metrics"])) == ["metrics"]
    assert extra_networks(job(network_mode="none", networks=["backend"])) == ["backend"]
    assert options(tmp_path, network_mode="none")["network_mode"] == "none"


def test_the_notebook_runs_in_working_dir_else_the_image_s_flow_folder_else_the_run_folder(
    tmp_path: Path,
) -> None:
    built = {LABEL_WORKDIR: "/opt/nborch/flow"}
    assert options(tmp_path)["working_dir"] == RUN_MOUNT
    assert options(tmp_path, built)["working_dir"] == "/opt/nborch/flow"
    chosen = options(tmp_path, built, working_dir="/work")
    assert chosen["working_dir"] == "/work"
    assert chosen["command"][chosen["command"].index("--cwd") + 1] == "/work"


def test_labels_name_the_run_and_nborch_s_own_win(tmp_path: Path) -> None:
    run = a_run(tmp_path)
    labels = container_labels(
        run,
        job(labels={"team": "ds", LABEL_RUN_ID: "spoofed"}, auto_remove=True),
        attempt=2,
        store="s",
        worker=WORKER,
        run_dir=tmp_path,
    )
    assert labels["team"] == "ds"
    assert labels[LABEL_RUN_ID] == str(run.id)
    assert labels[LABEL_DEPLOYMENT] == "hello/daily"
    assert labels[LABEL_POOL] == "my-docker-pool"
    assert labels[LABEL_ATTEMPT] == "2"
    assert labels[LABEL_AUTO_REMOVE] == "true"


def test_container_names_are_unique_per_attempt_unless_given(tmp_path: Path) -> None:
    run = a_run(tmp_path).model_copy(update={"name": "my daily/run"})
    assert container_name(run, job(), 1) == "nborch-my-daily-run-1"
    assert container_name(run, job(), 2) == "nborch-my-daily-run-2"
    assert container_name(run, job(name="fixed"), 2) == "fixed"

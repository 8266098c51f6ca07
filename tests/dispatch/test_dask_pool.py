"""The dask push pool end to end: a real Dask scheduler and two workers on loopback (the
`dask` command's own processes); the dispatcher (as inside a server) submits parameterised
runs, follows their logs, brings their output notebooks back, cancels one, and reports a
Dask worker lost mid-run as CRASHED (then retried on the other worker)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
from support.dask_cluster import DaskCluster
from support.deployments import deploy_hello, deploy_notebook
from support.notebooks import failing_notebook, sleeping_notebook
from support.processes import wait_for
from support.workers import FAST, final_run, logged

from nborch.client import LocalClient
from nborch.dispatch import Dispatcher
from nborch.models import PoolStatus, StateType
from nborch.settings import reset_settings

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]
POOL = "dask-pool"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaskCluster]:
    running = DaskCluster(tmp_path_factory.mktemp("dask"), workers=2)
    try:
        running.wait_for_workers(2)
        yield running
    finally:
        running.stop()


@pytest.fixture
def pool(
    sqlite_client: LocalClient, cluster: DaskCluster, monkeypatch: pytest.MonkeyPatch
) -> Iterator[LocalClient]:
    for key, value in FAST.items():
        monkeypatch.setenv(key, value)
    reset_settings()
    template = sqlite_client.create_pool(POOL, "dask").base_job_template
    template["variables"]["properties"]["scheduler_address"]["default"] = cluster.address
    sqlite_client.update_pool(POOL, base_job_template=template)
    dispatcher = Dispatcher(sqlite_client, interval=0.2, poll_interval=0.2, echo=print)
    dispatcher.start()
    wait_for(lambda: sqlite_client.get_pool(POOL).status is PoolStatus.READY, 60)
    yield sqlite_client
    dispatcher.stop(grace=5)


def test_parameterised_runs_go_through_dask(pool: LocalClient, tmp_path: Path) -> None:
    deploy_hello(pool, POOL, name="demo")
    names = ("Ada", "Grace", "Katherine")
    runs = [pool.create_run("hello/demo", parameters={"name": n, "times": 2}) for n in names]
    for run, name in zip(runs, names, strict=True):
        done = final_run(pool, run, timeout=120)
        assert done.state is StateType.COMPLETED, done.state_message
        assert done.infrastructure_id == f"dask task nborch-{run.id}-1"
        logs = [line.message for line in pool.read_logs(run.id)]
        assert any(
            re.match(r"nborch: running on Dask worker tcp://127\.0\.0\.1:\d+", m) for m in logs
        )
        assert sum(f"Hello, {name}" in m for m in logs) == 2, logs
        assert done.output_path
        output = nbformat.read(done.output_path, as_version=4)
        injected = [c for c in output.cells if "injected-parameters" in c.metadata.get("tags", [])]
        assert f'name = "{name}"' in injected[0].source

    # a failing notebook: FAILED, naming the cell, with the partial output back
    failing = deploy_notebook(pool, failing_notebook(tmp_path / "failing.ipynb"), POOL)
    done = final_run(pool, pool.create_run(failing.full_name), timeout=120)
    assert done.state is StateType.FAILED
    assert "ZeroDivisionError" in done.state_message
    assert done.failure and done.failure.ename == "ZeroDivisionError"

    # an unreachable scheduler: CRASHED, saying which and how to fix it
    lost = pool.create_run(
        "hello/demo",
        job_variables={"scheduler_address": "tcp://127.0.0.1:9", "connect_timeout": 1},
    )
    done = final_run(pool, lost, timeout=60)
    assert done.state is StateType.CRASHED
    assert "Cannot reach the Dask scheduler at tcp://127.0.0.1:9" in done.state_message


def test_a_run_is_cancelled_on_its_dask_worker(pool: LocalClient, tmp_path: Path) -> None:
    sleepy = deploy_notebook(pool, sleeping_notebook(tmp_path / "sleepy.ipynb"), POOL)
    run = pool.create_run(sleepy.full_name, parameters={"seconds": 120, "marker": "c"})
    logged(pool, run, "started c", timeout=120)
    pool.cancel_run(run.id)
    done = final_run(pool, run, timeout=60)
    assert done.state is StateType.CANCELLED
    assert (done.end_time - done.start_time).total_seconds() < 60  # type: ignore[operator]


def test_a_dask_worker_lost_mid_run_crashes_the_run_which_is_retried(
    pool: LocalClient, cluster: DaskCluster, tmp_path: Path
) -> None:
    sleepy = deploy_notebook(
        pool, sleeping_notebook(tmp_path / "sleepy.ipynb"), POOL, name="retried", retries=1
    )
    run = pool.create_run(sleepy.full_name, parameters={"seconds": 8, "marker": "k"})
    where = logged(pool, run, "nborch: running on Dask worker", timeout=120)
    logged(pool, run, "started k", timeout=120)
    address = where.rsplit(" ", 1)[-1]
    cluster.kill_worker_at(address)
    done = final_run(pool, run, timeout=180)
    history = pool.get_run(run.id).history
    crashed = [s for s in history if s.type is StateType.CRASHED]
    assert crashed, history
    assert f"Dask worker {address} was lost while it ran flow run" in crashed[0].message
    assert "retried when its deployment has retries left" in crashed[0].message
    assert done.state is StateType.COMPLETED, done.state_message
    assert done.run_count == 2
    second = [m.message for m in pool.read_logs(run.id) if "running on Dask worker" in m.message]
    assert second[-1] != where  # the retry ran on the worker that is left

"""Files under $NBORCH_HOME are their owner's alone: a real worker runs a real notebook
(papermill in a subprocess, and on a kernel of the worker) and everything nborch made is
0700 (folders) or 0600 (files), whatever the umask; an output the user put elsewhere keeps
the modes its folder gives."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.cli import invoker, ok
from support.deployments import HELLO, deploy_hello
from support.processes import WorkerProcess
from support.workers import create_process_pool, final_run, start_worker

from nborch.client import LocalClient
from nborch.models import StateType

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def loose_umask() -> Iterator[None]:
    """The usual umask (files 0644), here and in the worker processes started under it."""
    before = os.umask(0o022)
    yield
    os.umask(before)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("pool_mode", ["subprocess", "fresh-kernel"])
def test_what_nborch_makes_under_its_home_is_for_its_owner_only(
    nborch_home: Path, workers: list[WorkerProcess], pool_mode: str
) -> None:
    client = LocalClient()
    client.set_secret("TOKEN", "value")
    create_process_pool(client, "local", pool_mode)
    deploy_hello(client, "local")
    run = client.create_run("hello/demo")
    start_worker(workers, "--pool", "local")
    assert final_run(client, run).state is StateType.COMPLETED
    run_dir = nborch_home / "runs" / str(run.id)

    folders = [nborch_home, nborch_home / "runs", run_dir]
    files = [nborch_home / name for name in ("nborch.db", "nborch.db-wal", "nborch.db-shm")]
    files += [nborch_home / "secret.key", run_dir / "output.ipynb", run_dir / "parameters.yaml"]
    files += list(nborch_home.glob("*.lock"))
    assert {path: oct(mode(path)) for path in folders} == {path: "0o700" for path in folders}
    assert {path: oct(mode(path)) for path in files} == {path: "0o600" for path in files}
    for path in (nborch_home / ".nborch.db-wake").rglob("*"):
        assert mode(path) & 0o077 == 0, path


def test_an_output_put_elsewhere_keeps_its_folders_modes(nborch_home: Path, tmp_path: Path) -> None:
    folder = tmp_path / "mine"
    folder.mkdir(mode=0o755)
    ok(invoker()("run", str(HELLO), str(folder / "out.ipynb")))
    assert mode(folder) == 0o755
    assert mode(folder / "out.ipynb") == 0o644
    assert mode(nborch_home) == 0o700

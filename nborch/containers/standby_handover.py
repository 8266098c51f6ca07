"""Standby containers, as the engine and the worker's folders see them: a container started
before its run, which waits (see standby_waiter.py) until a worker hands it exactly one.

Which run a container may take (`ContainerRecipe`): one whose resolved job configuration
makes the same container — the job variables that shape a container when it is created
(image, environment, labels, mounts, network, limits, user, working directory) are equal —
and whose kernel is the one it started (else it starts the run's kernel then).

Its folder on the worker's machine, `<runs>/.standby/<container name>/`:
- `run/`, mounted at /nborch/run: at hand-over it is moved to become the run's own folder
  (`<runs>/<run id>/`; the container keeps it mounted), so the input notebook, the
  parameters file and the output notebook are where they are for a container started for
  the run;
- `control/`, mounted at /nborch/standby: the waiter program (`waiter_program`: the standby
  waiter with nborch's papermill engine, one file), the FIFO `handover`, and once
  handed a run, `assignment.json` (run id, attempt, run folder, auto_remove): container
  labels cannot change, so this is what tells the next worker which run the container ran.
"""

from __future__ import annotations

import ast
import errno
import importlib.util
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from nborch.containers.spec import RUN_MOUNT, host_options
from nborch.jobs.variables import PAPERMILL_IN_IMAGE, DockerJob
from nborch.settings import get_settings

STANDBY_MOUNT = "/nborch/standby"
WAITER = "waiter.py"
HANDOVER = "handover"
# The waiter program is made of these modules' sources, in this order.
WAITER_SOURCES = ("nborch.execution.papermill_engine", "nborch.containers.standby_waiter")
ASSIGNMENT = "assignment.json"
# The job variables that shape a container when it is created: a standby container fits a
# run whose values of these are its own.
CREATION_VARIABLES = (
    "image", "env", "labels", "volumes", "network_mode", "networks", "mem_limit", "cpus",
    "user", "privileged", "working_dir", "kernel_name",
)  # fmt: skip


@dataclass(frozen=True)
class ContainerRecipe:
    """What makes two containers interchangeable for a run, and the kernel to start ahead."""

    config: str  # the CREATION_VARIABLES' values, as canonical JSON
    kernel: str

    def describe(self) -> str:
        image = json.loads(self.config).get("image")
        return f"image '{image}', kernel '{self.kernel}'"


def container_recipe(job: DockerJob, kernel: str) -> ContainerRecipe | None:
    """The recipe of a run's container, or None when no container started ahead may run it:
    a command other than papermill (the waiter runs papermill's own command line), pull
    policy Always (it pulls for each run), a fixed container name."""
    if job.command != PAPERMILL_IN_IMAGE:
        return None
    if job.image_pull_policy == "Always" or job.name:
        return None
    values = job.model_dump(mode="json", include=set(CREATION_VARIABLES))
    return ContainerRecipe(json.dumps(values, sort_keys=True), kernel)


def notebook_kernel(job: DockerJob, notebook: str | Path) -> str:
    """The kernel papermill will run `notebook` with: the job's, else the notebook's own."""
    if job.kernel_name:
        return job.kernel_name
    try:
        data = json.loads(Path(notebook).read_text(encoding="utf-8"))
        return str(data["metadata"]["kernelspec"]["name"])
    except (OSError, ValueError, KeyError, TypeError):
        return "python3"


def standby_root() -> Path:
    """Beside the runs' folders (same file system: a folder moves into place at once)."""
    return Path(get_settings().runs_dir) / ".standby"


@dataclass(frozen=True)
class StandbyFolder:
    root: Path

    @property
    def control(self) -> Path:
        return self.root / "control"

    @property
    def run(self) -> Path:
        return self.root / "run"

    @property
    def handover(self) -> Path:
        return self.control / HANDOVER

    @classmethod
    def make(cls, name: str) -> StandbyFolder:
        folder = cls(standby_root() / name)
        folder.control.mkdir(parents=True, mode=0o755)
        folder.run.mkdir(mode=0o755)
        folder.run.chmod(0o777)  # the container's user writes the output notebook there
        waiter = folder.control / WAITER
        waiter.write_text(waiter_program(), encoding="utf-8")
        waiter.chmod(0o644)
        os.mkfifo(folder.handover)
        folder.handover.chmod(0o666)  # the waiter reads it as the container's user
        return folder

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


@lru_cache(maxsize=1)
def waiter_program() -> str:
    """The standby container's main program, one file that imports nothing of nborch: the
    source of nborch's papermill engine, then the standby waiter's, without the waiter's
    imports of nborch (the names it imports are defined above it) and with one
    `from __future__` line. Read from the installed modules' files, not imported: a
    worker holds no papermill until a run needs it."""
    parts = []
    for index, name in enumerate(WAITER_SOURCES):
        spec = importlib.util.find_spec(name)
        assert spec is not None and spec.origin, f"{name} is part of nborch"
        source = Path(spec.origin).read_text(encoding="utf-8")
        if index > 0:
            source = _without_imports_of_nborch(source)
        parts.append(f"# ---- {name} " + "-" * (80 - len(name)) + "\n" + source)
    return "\n\n".join(parts)


def _without_imports_of_nborch(source: str) -> str:
    """The module's source less its `from __future__` and `from nborch... import` lines."""
    lines = source.splitlines(keepends=True)
    for node in reversed(ast.parse(source).body):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in (
            "nborch",
            "__future__",
        ):
            assert node.end_lineno is not None
            del lines[node.lineno - 1 : node.end_lineno]
    return "".join(lines)


def standby_options(
    job: DockerJob,
    *,
    image_labels: dict[str, Any],
    labels: dict[str, str],
    name: str,
    folder: StandbyFolder,
    kernel: str,
) -> dict[str, Any]:
    """Keyword arguments for `docker.containers.create`: the container a run of `job` would
    get, but running the waiter, without the run's own variables, on the standby folder."""
    return {
        **host_options(job, image_labels),
        "command": [
            "python3",
            f"{STANDBY_MOUNT}/{WAITER}",
            "--kernel",
            kernel,
            "--handover",
            f"{STANDBY_MOUNT}/{HANDOVER}",
        ],  # fmt: skip
        "name": name,
        "labels": labels,
        "environment": {**job.env, "PYTHONUNBUFFERED": "1"},
        "volumes": [
            f"{folder.run}:{RUN_MOUNT}:rw",
            f"{folder.control}:{STANDBY_MOUNT}:rw",
            *job.volumes,
        ],
    }


# ---- handing a run over ----------------------------------------------------------------------


def open_handover(folder: StandbyFolder) -> int | None:
    """The FIFO open for writing, when a ready waiter reads it; None when none does (still
    starting, or gone)."""
    try:
        return os.open(folder.handover, os.O_WRONLY | os.O_NONBLOCK)
    except OSError as err:
        if err.errno in (errno.ENXIO, errno.ENOENT):
            return None
        raise


def is_ready(folder: StandbyFolder) -> bool:
    fd = open_handover(folder)
    if fd is None:
        return False
    os.close(fd)  # the waiter holds the FIFO open for writing too: it sees no end of file
    return True


def adopt_run_folder(folder: StandbyFolder, run_dir: Path) -> None:
    """Make the standby container's run folder the run's own folder: what the run's folder
    holds already (an earlier attempt's files, a git checkout) moves into it, then it moves
    to the run folder's place. The container keeps it mounted where it was."""
    run_dir.parent.mkdir(parents=True, exist_ok=True)
    if run_dir.exists():
        for entry in run_dir.iterdir():
            os.rename(entry, folder.run / entry.name)
        run_dir.rmdir()
    os.rename(folder.run, run_dir)


def write_assignment(
    folder: StandbyFolder, *, run_id: str, attempt: int, run_dir: Path, auto_remove: bool
) -> None:
    text = json.dumps(
        {"run_id": run_id, "attempt": attempt, "run_dir": str(run_dir), "auto_remove": auto_remove}
    )
    handle, draft = tempfile.mkstemp(dir=folder.control, prefix=".assignment.")
    with os.fdopen(handle, "w") as file:
        file.write(text)
    os.replace(draft, folder.control / ASSIGNMENT)


def read_assignment(folder: StandbyFolder) -> dict[str, Any] | None:
    """The run a standby container was handed, or None (not handed one, or unreadable)."""
    try:
        return dict(json.loads((folder.control / ASSIGNMENT).read_text()))
    except (OSError, ValueError):
        return None


def send_handover(fd: int, argv: list[str], *, env: dict[str, str], start_at: float | None) -> None:
    """Hand the run to the waiter (one line, written at once) and close the FIFO."""
    line = json.dumps({"argv": argv, "env": env, "start_at": start_at}) + "\n"
    try:
        data = line.encode()
        if os.write(fd, data) != len(data):
            raise OSError(errno.EIO, "the hand-over was cut short")
    finally:
        os.close(fd)

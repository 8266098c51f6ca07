"""Helpers shared by the benchmarks: a throw-away NBORCH_HOME, timing, the trivial notebook,
a deployed pool, worker subprocesses and a plain-text table."""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

# The tests' helpers (notebook writer, throw-away PostgreSQL) serve the benchmarks too.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from support.notebooks import make_notebook  # noqa: E402
from support.postgres import (  # noqa: E402
    PostgresServer,
    create_database,
    drop_database,
    start_postgres,
)

# Imported after nothing has read the settings yet; `temp_home` resets them anyway.
from nborch.client import NborchClient
from nborch.flows import Flow
from nborch.models import FlowRun
from nborch.settings import reset_settings
from nborch.store.engine import close_stores


@contextmanager
def temp_home(prefix: str = "nborch-bench-") -> Iterator[Path]:
    """A fresh NBORCH_HOME (SQLite store and run outputs), removed afterwards."""
    saved = {k: os.environ.get(k) for k in ("NBORCH_HOME", "NBORCH_DATABASE_URL")}
    home = Path(tempfile.mkdtemp(prefix=prefix))
    os.environ["NBORCH_HOME"] = str(home)
    os.environ.pop("NBORCH_DATABASE_URL", None)
    reset_settings()
    try:
        yield home
    finally:
        close_stores()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        reset_settings()
        shutil.rmtree(home, ignore_errors=True)


def write_notebook(path: Path) -> Path:
    """The trivial notebook: a `parameters` cell with `n: int = 1`, then `print(n * 2)`."""
    return make_notebook(path, "n: int = 1", "print(n * 2)")


def deploy_trivial(
    client: NborchClient,
    home: Path,
    pool: str,
    pool_type: str = "process",
    job_variables: dict[str, Any] | None = None,
    base_job_template: dict[str, Any] | None = None,
) -> str:
    """A pool `pool` (process by default) with the trivial notebook deployed to it; returns
    `flow/deployment`."""
    client.create_pool(pool, pool_type, base_job_template=base_job_template)
    notebook = write_notebook(home / "notebooks" / "trivial.ipynb")
    deployment, _ = Flow.from_notebook(notebook).deploy(
        pool, pool, job_variables=job_variables, client=client
    )
    return deployment.full_name


# How a process pool runs its notebooks (its base job template says it).
PROCESS_MODES = {
    "standby": "from the worker, on standby kernels (the default)",
    "fresh-kernel": "from the worker, a kernel started per run (standby_kernels 0)",
    "subprocess": "python -m papermill per run (in_process false)",
}


def process_template(mode: str) -> dict[str, Any]:
    """The process pool's default base job template, set up to run notebooks the `mode` way."""
    from nborch.jobs import default_base_job_template
    from nborch.models import PoolType

    template = default_base_job_template(PoolType.PROCESS)
    properties = template["variables"]["properties"]
    if mode == "fresh-kernel":
        properties["standby_kernels"]["default"] = 0
    elif mode == "subprocess":
        properties["in_process"]["default"] = False
    return template


def add_modes_option(parser: argparse.ArgumentParser) -> None:
    """--modes: which ways of running a process pool's notebooks to measure."""
    parser.add_argument(
        "--modes",
        default=",".join(PROCESS_MODES),
        help=f"comma-separated ({','.join(PROCESS_MODES)})",
    )


def chosen_modes(args: argparse.Namespace) -> list[str]:
    return [mode for mode in args.modes.split(",") if mode]


def load_average() -> str:
    """The 1-, 5- and 15-minute load averages, for the record."""
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f} ({os.cpu_count()} cores)"


@contextmanager
def timed() -> Iterator[list[float]]:
    """`with timed() as t: ...` then `t[0]` is the block's duration in seconds."""
    result: list[float] = []
    start = time.perf_counter()
    try:
        yield result
    finally:
        result.append(time.perf_counter() - start)


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100), interpolating linearly between the closest ranks."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """A plain-text table; floats with 3 decimals."""

    def cell(value: Any) -> str:
        return f"{value:.3f}" if isinstance(value, float) else str(value)

    text = [[cell(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in text)) for i, h in enumerate(headers)]
    for line in [list(headers), ["-" * w for w in widths], *text]:
        print("  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)).rstrip())


# ---- worker subprocesses -----------------------------------------------------------------


@contextmanager
def worker_process(
    home: Path,
    pool: str,
    *,
    limit: int | None = None,
    poll_interval: float = 0.1,
    extra_args: Sequence[str] = (),
) -> Iterator[subprocess.Popen[bytes]]:
    """`nborch worker start` for `pool` in a subprocess (output to HOME/worker-POOL.log),
    with `extra_args` appended; SIGTERM and a wait at the end (SIGKILL if it does not stop
    within 30 s)."""
    argv = [sys.executable, "-m", "nborch.cli.main", "worker", "start", "--pool", pool]
    if limit is not None:
        argv += ["--limit", str(limit)]
    argv += ["--poll-interval", str(poll_interval), *extra_args]
    env = {**os.environ, "NBORCH_HOME": str(home)}
    env.pop("NBORCH_DATABASE_URL", None)
    log_path = home / f"worker-{pool}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if process.returncode != 0:
            print(f"warning: the worker exited with code {process.returncode}", file=sys.stderr)


def worker_log(home: Path, pool: str) -> str:
    path = home / f"worker-{pool}.log"
    return path.read_text(errors="replace") if path.exists() else ""


def wait_for_worker(
    client: NborchClient, pool: str, process: subprocess.Popen[bytes], timeout: float = 60
) -> None:
    """Until the worker has registered with the store (it is then polling)."""
    deadline = time.monotonic() + timeout
    while not client.list_workers(pool):
        if process.poll() is not None:
            raise RuntimeError(f"the worker exited with code {process.returncode}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"no worker registered for pool '{pool}' within {timeout} s")
        time.sleep(0.05)


def wait_until_final(
    client: NborchClient, run_id: Any, *, interval: float = 0.02, timeout: float = 120
) -> FlowRun:
    """Poll the run every `interval` s until it reaches a final state."""
    deadline = time.monotonic() + timeout
    while True:
        run = client.get_run(run_id)
        if run.state.is_final:
            return run
        if time.monotonic() > deadline:
            raise TimeoutError(f"run {run_id} still {run.state.value} after {timeout} s")
        time.sleep(interval)


@contextmanager
def postgres_server(admin_url: str | None) -> Iterator[PostgresServer | None]:
    """The server at `admin_url`, or a throw-away one; None (and why, printed) if neither."""
    server = PostgresServer(admin_url=admin_url) if admin_url else start_postgres()
    if isinstance(server, str):
        print(f"PostgreSQL skipped: {server}")
        yield None
        return
    try:
        yield server
    finally:
        server.stop()  # does nothing for a server given by URL


@contextmanager
def fresh_database(server: PostgresServer) -> Iterator[str]:
    """A new database on `server` (its URL), dropped afterwards."""
    name = f"nborch_bench_{uuid.uuid4().hex[:12]}"
    url = create_database(server, name)
    try:
        yield url
    finally:
        close_stores()
        drop_database(server, name)


# ---- docker pools ------------------------------------------------------------------------

NBORCH = [sys.executable, "-m", "nborch.cli.main"]


def nborch_cli(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NBORCH_HOME": str(home)}
    env.pop("NBORCH_DATABASE_URL", None)
    return subprocess.run([*NBORCH, *args], capture_output=True, text=True, env=env, timeout=120)


def docker_image(home: Path) -> tuple[str | None, str]:
    """The runtime image to use for a docker pool (the newest local `nborch/runtime:*`), or
    None and why not."""
    if shutil.which("docker") is None:
        return None, "no docker command on PATH"
    info = subprocess.run(["docker", "info"], capture_output=True, text=True, timeout=60)
    if info.returncode:
        return None, f"the Docker engine does not answer: {info.stderr.strip()[-300:]}"
    template = nborch_cli(
        "work-pool", "get-default-base-job-template", "--type", "docker", home=home
    )
    if template.returncode:
        return None, f"no docker pool type: {template.stderr.strip()[-300:]}"
    images = subprocess.run(
        ["docker", "images", "--format", "{{.Repository}}:{{.Tag}}"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    found = sorted(
        line for line in images.stdout.split() if line.split(":")[0].startswith("nborch/runtime")
    )
    if not found:
        return None, "no image nborch/runtime:* present (build it: nborch image build-runtime)"
    return found[-1], ""


def remove_containers(pool: str) -> None:
    """Containers the worker left of this benchmark's pool (auto_remove should leave none)."""
    found = subprocess.run(
        ["docker", "ps", "-a", "-q", "--filter", f"label=io.nborch.pool={pool}"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if ids := found.stdout.split():
        subprocess.run(["docker", "rm", "-f", *ids], capture_output=True, timeout=120)


def ready_standby(engine: Any, pool: str) -> list[Any]:
    """The pool's standby containers (docker SDK containers) that are ready for a run and
    not handed one yet; `engine` is a `docker.DockerClient`."""
    from nborch.containers.spec import LABEL_POOL, LABEL_STANDBY, LABEL_STANDBY_DIR
    from nborch.containers.standby_handover import StandbyFolder, is_ready, read_assignment

    ready = []
    labels = [f"{LABEL_STANDBY}=true", f"{LABEL_POOL}={pool}"]
    for container in engine.containers.list(filters={"label": labels, "status": "running"}):
        folder = StandbyFolder(Path(container.labels[LABEL_STANDBY_DIR]))
        if read_assignment(folder) is None and is_ready(folder):
            ready.append(container)
    return ready

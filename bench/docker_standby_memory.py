"""Memory of a docker worker's standby containers, per setting of the pool's
`standby_containers` (default 0, 1 and 4): the worker itself (RSS and USS of its process)
and each of its containers, as the engine counts it (the container's memory cgroup) and as
the host sees the processes inside it. One `nborch worker start` (no --limit: it keeps
`standby_containers` of them) in a fresh docker pool per setting, image `nborch/runtime:*`
(the newest present locally; image_pull_policy Never, auto_remove on). Measured:

- idle: once the wanted number of standby containers is ready (label io.nborch.standby,
  the waiter reading its FIFO) and a few seconds more;
- after R runs (default 5) of the trivial notebook, one at a time, settled again;
- during a run: a notebook that sleeps (default 10 s) is run and the container running it
  is measured while its cell sleeps (with standby_containers 0, a container started for
  the run; otherwise the standby container that took it).
"""

from __future__ import annotations

import argparse
import io
import time
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import docker
import psutil
from common import (
    deploy_trivial,
    docker_image,
    load_average,
    print_table,
    ready_standby,
    remove_containers,
    temp_home,
    wait_for_worker,
    wait_until_final,
    worker_log,
    worker_process,
)
from support.notebooks import make_notebook

from nborch.client import LocalClient
from nborch.containers.spec import LABEL_POOL, LABEL_STANDBY, LABEL_STANDBY_DIR
from nborch.containers.standby_handover import StandbyFolder, read_assignment
from nborch.flows import Flow
from nborch.jobs import default_base_job_template
from nborch.models import PoolType, StateType

MIB = 1024 * 1024
SETTLE = 5.0
# What `docker stats` leaves out of a cgroup's usage (the CLI does the same), v1 / v2.
INACTIVE = {1: "total_inactive_file", 2: "inactive_file"}


def process_memory(pids: list[int]) -> dict[str, float]:
    """RSS and USS (MiB) of the processes `pids` (host PIDs), all and by role: the waiter
    or papermill ("runner"), the kernel."""
    out = dict.fromkeys(["rss", "uss", "runner", "kernel"], 0.0)
    for pid in pids:
        try:
            process = psutil.Process(pid)
            cmdline = " ".join(process.cmdline())
            memory = process.memory_full_info()
        except psutil.NoSuchProcess:
            continue
        out["rss"] += memory.rss / MIB
        out["uss"] += memory.uss / MIB
        if "ipykernel" in cmdline:
            out["kernel"] += memory.uss / MIB
        elif "waiter.py" in cmdline or "papermill" in cmdline:
            out["runner"] += memory.uss / MIB
    return out


def container_memory(container: Any, cgroup: int) -> dict[str, float]:
    """One container: the engine's figure (cgroup usage less inactive file cache, as
    `docker stats` shows it), its processes seen from the host, its containerd shim."""
    stats = container.stats(stream=False, one_shot=True)["memory_stats"]
    engine = (stats["usage"] - stats.get("stats", {}).get(INACTIVE[cgroup], 0)) / MIB
    top = container.top()
    column = top["Titles"].index("PID")
    out = {"engine": engine, **process_memory([int(row[column]) for row in top["Processes"]])}
    try:  # the shim is the parent of the container's first process (docker-init here)
        shim = psutil.Process(container.attrs["State"]["Pid"]).parent()
        out["shim"] = shim.memory_full_info().uss / MIB if shim else float("nan")
    except psutil.Error:
        out["shim"] = float("nan")
    return out


def row(setting: int, when: str, worker: int, kind: str, containers: list[Any], cgroup: int):
    """A line of the table: the worker, then the mean of `containers` (MiB)."""
    own = psutil.Process(worker).memory_full_info()
    cells = [setting, when, f"{own.rss / MIB:.1f}", f"{own.uss / MIB:.1f}", kind, len(containers)]
    figures = [container_memory(c, cgroup) for c in containers]
    keys = ["engine", "rss", "uss", "runner", "kernel", "shim"]
    if not figures:
        return [*cells[:4], "-", 0, *["-"] * len(keys)]
    return [*cells, *(f"{sum(f[k] for f in figures) / len(figures):.1f}" for k in keys)]


def pool_containers(engine: docker.DockerClient, pool: str) -> list[Any]:
    return engine.containers.list(filters={"label": f"{LABEL_POOL}={pool}"})


def running_a_run(engine: docker.DockerClient, pool: str) -> list[Any]:
    """The pool's containers running a run: started for it, or standby ones handed one."""
    return [
        c
        for c in pool_containers(engine, pool)
        if c.labels.get(LABEL_STANDBY) != "true"
        or read_assignment(StandbyFolder(Path(c.labels[LABEL_STANDBY_DIR]))) is not None
    ]


def settle(engine: docker.DockerClient, pool: str, wanted: int, worker: Any) -> list[Any]:
    """Until `wanted` standby containers are ready and no other container of the pool is
    left, then SETTLE s more; the ready ones."""
    deadline = time.monotonic() + 180
    while len(ready_standby(engine, pool)) < wanted or running_a_run(engine, pool):
        if worker.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{wanted} standby containers not ready in time")
        time.sleep(0.5)
    time.sleep(SETTLE)
    return ready_standby(engine, pool)


def during_run(
    client: LocalClient, engine: docker.DockerClient, pool: str, deployment: str, hold: float
) -> list[Any]:
    """Starts a run that sleeps `hold` s; the container running it once its kernel is up
    (and the notebook's cell sleeping), or [] if it was missed."""
    run = client.create_run(deployment, parameters={"seconds": hold})
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not client.get_run(run.id).state.is_final:
        for container in running_a_run(engine, pool):
            top = container.top()
            if any("ipykernel" in " ".join(p) for p in top["Processes"]):
                time.sleep(min(2.0, hold / 4))  # the sleep cell has started by now
                return [container]
        time.sleep(0.2)
    return []


def measure(
    client: LocalClient,
    engine: docker.DockerClient,
    home: Path,
    setting: int,
    args: argparse.Namespace,
) -> list[list[Any]]:
    pool = f"standby-memory-{setting}"
    template = default_base_job_template(PoolType.DOCKER)
    defaults = {"image": args.image, "image_pull_policy": "Never", "auto_remove": True}
    for name, value in {**defaults, "standby_containers": setting}.items():
        template["variables"]["properties"][name]["default"] = value
    with redirect_stdout(io.StringIO()):  # deploy's summary table
        trivial = deploy_trivial(client, home, pool, "docker", base_job_template=template)
        notebook = make_notebook(
            home / "notebooks" / "hold.ipynb", "seconds: float = 0.0", "import time",
            "time.sleep(seconds)",
        )  # fmt: skip
        hold, _ = Flow.from_notebook(notebook).deploy(f"{pool}-hold", pool, client=client)
    cgroup = args.cgroup
    print(f"standby_containers {setting}: settling ...", flush=True)
    rows = []
    try:
        with worker_process(home, pool, poll_interval=1.0) as worker:
            wait_for_worker(client, pool, worker)
            ready = settle(engine, pool, setting, worker)
            rows.append(row(setting, "idle", worker.pid, "standby, ready", ready, cgroup))
            for _ in range(args.runs):
                run = wait_until_final(client, client.create_run(trivial).id, interval=0.1)
                if run.state is not StateType.COMPLETED:
                    raise RuntimeError(f"a run ended {run.state.value}: {run.state_message}")
            ready = settle(engine, pool, setting, worker)
            when = f"after {args.runs} runs"
            rows.append(row(setting, when, worker.pid, "standby, ready", ready, cgroup))
            running = during_run(client, engine, pool, hold.full_name, args.hold)
            rows.append(row(setting, "during a run", worker.pid, "running the run", running,
                            cgroup))  # fmt: skip
            settle(engine, pool, setting, worker)
    except RuntimeError as err:
        log = worker_log(home, pool)[-3000:]
        raise SystemExit(f"standby_containers {setting}: {err}\n{log}") from err
    finally:
        remove_containers(pool)
    return rows


EXPLANATION = """\
Columns (MiB; container figures are the mean over the containers of the row):
  worker RSS / USS   the `nborch worker start` process: resident / unique (its own) memory
  containers, n      which containers of the pool: standby ones ready and not handed a run,
                     or the one running the run (its own container with standby 0)
  engine             the container's memory cgroup as `docker stats` shows it: usage less
                     {inactive} (inactive page cache; cgroup v{cgroup})
  procs RSS / USS    the processes in the container (`docker top`, host PIDs, psutil):
                     summed RSS (shared pages counted once per process) / summed USS (pages
                     no other process maps: with several containers of one image, pages of
                     its Python and libraries are shared and drop out)
  runner USS         the waiter (python3 waiter.py: papermill imported) or papermill
  kernel USS         the IPython kernel
  shim USS           containerd-shim, on the host outside the container: one per container
                     (its binary's pages count in its USS only while no other shim runs)
A container costs the host roughly its engine figure plus its shim (outside its cgroup)."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--settings", default="0,1,4", help="standby_containers (0,1,4)")
    parser.add_argument("--runs", type=int, default=5, help="runs before the second look (5)")
    parser.add_argument("--hold", type=float, default=10.0, help="the measured run's sleep (10)")
    args = parser.parse_args()
    load_before = load_average()
    with temp_home() as home:
        image, reason = docker_image(home)
        if image is None:
            raise SystemExit(f"docker_standby_memory: cannot measure: {reason}")
        engine = docker.from_env()
        args.image, args.cgroup = image, int(engine.info().get("CgroupVersion") or 1)
        client = LocalClient()
        rows = []
        for setting in (int(s) for s in args.settings.split(",") if s):
            rows += measure(client, engine, home, setting, args)
    print(
        f"\nMemory of one docker worker and its containers (MiB), image {image}, cgroup "
        f"v{args.cgroup}\nload average before: {load_before}; after: {load_average()}\n"
    )
    print_table(
        ["standby", "when", "worker RSS", "worker USS", "containers", "n", "engine",
         "procs RSS", "procs USS", "runner USS", "kernel USS", "shim USS"],
        rows,
    )  # fmt: skip
    print()
    print(EXPLANATION.format(inactive=INACTIVE[args.cgroup], cgroup=args.cgroup))


if __name__ == "__main__":
    main()

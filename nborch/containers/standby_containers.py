"""A docker worker's standby containers: started ahead of need for the job configurations
the worker has seen, each handed exactly one run, then gone.

- Which configurations (`ContainerRecipe`s): those of the pool's deployments and recent
  runs, learned when the worker starts, then of every run it executes; newest first, at
  most MAX_RECIPES, the containers shared round-robin among them.
- How many: `wanted()`, asked each time (one per free slot, capped by the pool's
  `standby_containers`). A run that takes one triggers a replacement REPLACE_AFTER later,
  so that starting it does not slow the run that took it.
- A container whose waiter is gone (killed, out of memory) is removed and replaced; one
  that waited longer than the recycle time is replaced by a fresh one. Containers of a
  recipe that exit before they are ever ready twice in a row are not started again (the
  image's python3 lacks papermill, say): its runs take the plain path.
- On the worker's way out, every standby container it still holds is removed. Those a
  dead worker left are removed by the next worker's reconciliation.

All of it runs on one maintenance thread; `take` and `learn` may be called from any thread.
"""

from __future__ import annotations

import os
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from docker.errors import NotFound

from nborch.containers.docker_engine import ENGINE_ERRORS, ensure_image, explain, image_labels
from nborch.containers.docker_engine_worker import DockerEngineWorker
from nborch.containers.spec import (
    LABEL_AUTO_REMOVE,
    LABEL_POOL,
    LABEL_STANDBY,
    LABEL_STANDBY_DIR,
    LABEL_STORE,
    LABEL_WORKER_ID,
    extra_networks,
    worker_labels,
)
from nborch.containers.standby_handover import (
    ContainerRecipe,
    StandbyFolder,
    container_recipe,
    is_ready,
    notebook_kernel,
    open_handover,
    standby_options,
)
from nborch.errors import NborchError
from nborch.jobs.variables import DockerJob
from nborch.secret_references import secret_names
from nborch.sources import notebook_location
from nborch.workers.standby_recipes import job_for_worker

MAX_RECIPES = 4
MAINTENANCE_INTERVAL = 2.0
REPLACE_AFTER = 1.0
# A container started for one early run gets this long to be ready.
READY_TIMEOUT = 60.0
# Containers of a recipe that end before they are ready this many times: no more of them.
GIVE_UP_AFTER = 2

_NOT_IN_NAMES = re.compile(r"[^a-zA-Z0-9_.-]+")


@dataclass
class StandbyContainer:
    container_id: str
    name: str
    recipe: ContainerRecipe
    image_id: str
    folder: StandbyFolder
    born: float = field(default_factory=time.monotonic)
    ready_at: float | None = None

    @property
    def short_id(self) -> str:
        return self.container_id[:12]


@dataclass
class Claimed:
    """A standby container taken for a run, its FIFO open: the run is handed over next."""

    container: StandbyContainer
    fd: int


def keeps_waiting(job: DockerJob, job_variables: dict[str, Any]) -> bool:
    """May containers for runs like this one wait in standby (and such a run take one)?
    Not when it asks for a container of its own (standby_containers 0), nor when its job
    variables refer to the store's secrets: no container waits with a secret's value."""
    return job.standby_containers != 0 and not secret_names(job_variables)


def standby_container_cap(template: dict[str, Any]) -> int:
    """The pool's `standby_containers` default (a template without it, from a pool made
    before it: the model's default); none when the template's defaults make no job."""
    try:
        defaults = DockerJob.from_template(template, owner="the pool's defaults")
    except NborchError:
        return 0
    return max(0, defaults.standby_containers)


class StandbyContainers:
    def __init__(
        self,
        worker: DockerEngineWorker,
        wanted: Callable[[], int],
        *,
        recycle_after: float,
    ) -> None:
        self.worker = worker
        self.wanted = wanted
        self.recycle_after = recycle_after
        self.recipes: list[tuple[ContainerRecipe, DockerJob]] = []  # newest first
        self.containers: list[StandbyContainer] = []  # none handed a run
        self._failures: dict[ContainerRecipe, int] = {}
        self._given_up: set[ContainerRecipe] = set()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._closed = threading.Event()
        self._not_before = 0.0  # no replacement started before (time.monotonic())
        self._thread = threading.Thread(
            target=self._maintain, name="standby-containers", daemon=True
        )
        self._thread.start()

    # ---- from any thread -------------------------------------------------------------------

    def learn(self, recipe: ContainerRecipe, job: DockerJob) -> None:
        """A configuration the next runs are likely to need: containers for it are started."""
        with self._lock:
            if recipe in self._given_up:
                return
            self.recipes = [(r, j) for r, j in self.recipes if r != recipe]
            self.recipes.insert(0, (recipe, job))
            del self.recipes[MAX_RECIPES:]
        self._wake.set()

    def take(self, recipe: ContainerRecipe, image_id: str) -> Claimed | None:
        """A ready container of `recipe` made from image `image_id`, out of standby for
        good, its FIFO open; None when none is ready."""
        stale: list[StandbyContainer] = []
        claimed: Claimed | None = None
        with self._lock:
            for container in [c for c in self.containers if c.recipe == recipe]:
                if container.image_id != image_id:  # the tag names a newer image now
                    self.containers.remove(container)
                    stale.append(container)
                    continue
                fd = open_handover(container.folder)
                if fd is not None:
                    self.containers.remove(container)
                    claimed = Claimed(container, fd)
                    break
            self._not_before = time.monotonic() + REPLACE_AFTER
        for container in stale:
            _remove(self.worker, container)
        self._wake.set()
        return claimed

    def close(self) -> None:
        """Remove every standby container (blocks until they are)."""
        self._closed.set()
        self._wake.set()
        self._thread.join(timeout=60)
        with self._lock:
            containers, self.containers = self.containers, []
        for container in containers:
            _remove(self.worker, container)

    # ---- the maintenance thread ---------------------------------------------------------------

    def _maintain(self) -> None:
        while not self._closed.is_set():
            self._wake.wait(MAINTENANCE_INTERVAL)
            self._wake.clear()
            if self._closed.is_set():
                return
            try:
                self._check()
                delay = self._not_before - time.monotonic()
                if delay > 0 and self._closed.wait(delay):
                    return
                self._rebalance()
            except Exception as err:  # never let maintenance die
                self.worker.echo(
                    f"nborch worker: standby containers: {type(err).__name__}: {explain(err)}"
                )

    def _check(self) -> None:
        """Note the ready ones; remove the dead, the old, and those of forgotten recipes."""
        with self._lock:
            if not self.containers:
                return
        running = _running_ids(self.worker)
        now = time.monotonic()
        with self._lock:
            known = {recipe for recipe, _ in self.recipes}
            drop = []
            for container in self.containers:
                if container.container_id not in running:
                    drop.append(container)
                    if container.ready_at is None:
                        self._failed(
                            container.recipe,
                            f"container {container.short_id} ended before it was ready "
                            f"(docker logs {container.short_id})",
                        )
                elif container.recipe not in known:
                    drop.append(container)
                elif container.ready_at is None:
                    if is_ready(container.folder):
                        container.ready_at = now
                        self._failures.pop(container.recipe, None)
                elif now - container.ready_at > self.recycle_after:
                    drop.append(container)
            for container in drop:
                self.containers.remove(container)
        for container in drop:
            _remove(self.worker, container)

    def _failed(self, recipe: ContainerRecipe, reason: str) -> None:
        """Called with the lock held."""
        self._failures[recipe] = self._failures.get(recipe, 0) + 1
        if self._failures[recipe] >= GIVE_UP_AFTER:
            self._given_up.add(recipe)
            self.recipes = [(r, j) for r, j in self.recipes if r != recipe]
            self.worker.echo(
                f"nborch worker: no more standby containers for {recipe.describe()}: "
                f"{reason}. Its runs get a container started for them (the image's python3 "
                "must import papermill)."
            )

    def _plan(self) -> dict[ContainerRecipe, int]:
        """How many containers each recipe should have: round-robin from the newest."""
        with self._lock:
            recipes = [recipe for recipe, _ in self.recipes]
        plan = dict.fromkeys(recipes, 0)
        for index in range(max(0, self.wanted()) if recipes else 0):
            plan[recipes[index % len(recipes)]] += 1
        return plan

    def _rebalance(self) -> None:
        plan = self._plan()
        with self._lock:
            jobs = dict(self.recipes)
            have = {recipe: 0 for recipe in plan}
            for container in self.containers:
                have[container.recipe] = have.get(container.recipe, 0) + 1
            room = sum(plan.values()) - len(self.containers)
        for recipe, count in plan.items():  # newest first
            while have[recipe] < count and not self._closed.is_set():
                if room <= 0 and not self._swap_out(plan, have, recipe):
                    break
                room = max(room, 1) - 1
                have[recipe] += 1
                try:
                    container = _start(self.worker, recipe, jobs[recipe])
                except Exception as err:
                    with self._lock:
                        self._failed(recipe, f"{type(err).__name__}: {explain(err)}")
                    break
                with self._lock:
                    self.containers.append(container)

    def _swap_out(
        self, plan: dict[ContainerRecipe, int], have: dict[ContainerRecipe, int], needed: Any
    ) -> bool:
        """Full: make room for `needed` by removing a container of a recipe that has more
        than its share (the oldest recipe's first)."""
        for recipe in reversed(list(plan)):
            if recipe == needed or have.get(recipe, 0) <= plan[recipe]:
                continue
            with self._lock:
                surplus = [c for c in self.containers if c.recipe == recipe]
                if not surplus:
                    continue
                self.containers.remove(surplus[0])
            have[recipe] -= 1
            _remove(self.worker, surplus[0])
            return True
        return False


# ---- on the engine ----------------------------------------------------------------------------


def start_for_run(
    worker: DockerEngineWorker[DockerJob],
    recipe: ContainerRecipe,
    job: DockerJob,
    stop: threading.Event,
) -> Claimed | None:
    """A container started now for one run (taken ahead of its time), once ready; None
    when it did not become ready (it is removed then) or `stop` was set."""
    container = _start(worker, recipe, job)
    deadline = time.monotonic() + READY_TIMEOUT
    next_check = time.monotonic() + 0.5
    while time.monotonic() < deadline and not stop.is_set():
        fd = open_handover(container.folder)
        if fd is not None:
            return Claimed(container, fd)
        if time.monotonic() >= next_check:
            next_check = time.monotonic() + 0.5
            if not _running(worker, container):
                break
        time.sleep(0.02)
    _remove(worker, container)
    return None


def release(worker: DockerEngineWorker, claimed: Claimed) -> None:
    """A claimed container that will not run its run after all: removed."""
    try:
        os.close(claimed.fd)
    except OSError:
        pass
    _remove(worker, claimed.container)


def _start(
    worker: DockerEngineWorker[DockerJob], recipe: ContainerRecipe, job: DockerJob
) -> StandbyContainer:
    engine = worker.engine
    image = ensure_image(engine, job.image, job.image_pull_policy)
    pool = worker.pool_name or ""
    name = _NOT_IN_NAMES.sub("-", f"nborch-standby-{pool}-{uuid.uuid4().hex[:10]}")
    folder = StandbyFolder.make(name)
    labels = {
        **{str(k): str(v) for k, v in job.labels.items()},
        LABEL_STORE: worker.store,
        LABEL_POOL: pool,
        **worker_labels(worker.identity),
        LABEL_STANDBY: "true",
        LABEL_STANDBY_DIR: str(folder.root),
        LABEL_AUTO_REMOVE: "true",  # until it is handed a run (then its assignment says)
    }
    options = standby_options(
        job,
        image_labels=image_labels(image),
        labels=labels,
        name=name,
        folder=folder,
        kernel=recipe.kernel,
    )
    try:
        container = engine.containers.create(**options)
    except BaseException:
        folder.remove()
        raise
    container_id = str(container.id)
    standby = StandbyContainer(container_id, name, recipe, str(image.id), folder)
    try:
        for network in extra_networks(job):
            engine.api.connect_container_to_network(container_id, network)
        engine.api.start(container_id)
    except BaseException:
        _remove(worker, standby)
        raise
    return standby


def _running_ids(worker: DockerEngineWorker) -> set[str]:
    labels = [f"{LABEL_STANDBY}=true", f"{LABEL_WORKER_ID}={worker.identity.id}"]
    found = worker.engine.api.containers(filters={"label": labels, "status": "running"})
    return {str(c["Id"]) for c in found}


def _running(worker: DockerEngineWorker, container: StandbyContainer) -> bool:
    try:
        state = worker.engine.api.inspect_container(container.container_id)["State"]
    except NotFound:
        return False
    return bool(state.get("Running"))


def _remove(worker: DockerEngineWorker, container: StandbyContainer) -> None:
    """Removed with its folder (not handed a run: nothing in it is anybody's)."""
    try:
        worker.engine.api.remove_container(container.container_id, force=True)
    except NotFound:
        pass
    except ENGINE_ERRORS as err:
        worker.echo(
            f"nborch worker: could not remove standby container {container.short_id}: "
            f"{explain(err)}"
        )
    container.folder.remove()


# ---- what the worker learns when it starts ----------------------------------------------------

# How many of the pool's newest runs are looked at when the worker starts.
RECENT_RUNS = 20


def learn_recent_recipes(worker: DockerEngineWorker, standby: StandbyContainers) -> None:
    """Teach the worker's standby containers the configurations of the pool's deployments
    (most recently changed last) and newest runs (newest last, so first in line); with
    neither, the pool's defaults."""
    if not worker.pool_name:
        return
    candidates: list[tuple[str, dict[str, Any]]] = []
    try:  # a worker key may not list deployments: the runs will do
        deployments = worker.client.list_deployments(pool_name=worker.pool_name)
    except NborchError:
        deployments = []
    for deployment in sorted(deployments, key=lambda d: d.updated):
        input_path, _ = notebook_location(deployment.source, deployment.entrypoint)
        candidates.append((input_path, deployment.job_variables))
    for run in reversed(worker.client.list_runs(pool_name=worker.pool_name, limit=RECENT_RUNS)):
        candidates.append((run.input_path, run.job_variables))
    learned = False
    for input_path, job_variables in candidates:
        job = job_for_worker(DockerJob, worker.job_template, job_variables)
        if job is None or not keeps_waiting(job, job_variables):
            continue
        recipe = container_recipe(job, notebook_kernel(job, input_path))
        if recipe is not None:
            standby.learn(recipe, job)
            learned = True
    if not learned:
        job = job_for_worker(DockerJob, worker.job_template, {})
        recipe = container_recipe(job, notebook_kernel(job, "")) if job else None
        if job is not None and recipe is not None:
            standby.learn(recipe, job)

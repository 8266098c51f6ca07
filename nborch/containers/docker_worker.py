"""The `docker` pool's worker: each run is one container that runs only papermill.

The run's folder goes in as a bind mount (input notebook copy, parameters file), the
executed notebook comes back in it, the container's output becomes the run's logs and its
exit code (and OOM kill) decides the state. The image needs papermill and a kernel, not
nborch. Containers carry io.nborch.* labels, by which the next worker of the pool finds and
settles those a dead worker left behind (see reconcile.py).

With standby containers (the pool's `standby_containers`), a run whose container would be
the one a container started ahead was made as (`ContainerRecipe`) is handed to that one:
its run folder becomes the run's, it gets the run's papermill arguments, and from there on
it is the run's container like any other (see standby_handover.py). A run taken ahead of
its time (--prestart) gets a container started for it at once, whose first cell waits for
the time. Any other run takes the plain path: a container started for it.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from docker.errors import APIError, NotFound
from docker.models.images import Image

from nborch.containers.docker_engine import (
    ENGINE_ERRORS,
    engine_address,
    ensure_image,
    explain,
    image_labels,
)
from nborch.containers.docker_engine_worker import DockerEngineWorker
from nborch.containers.reconcile import ContainerReconciler
from nborch.containers.result import iter_lines, settle_container
from nborch.containers.run_folder import prepare_run_folder, reclaim_run_folder
from nborch.containers.spec import (
    container_labels,
    container_name,
    container_options,
    extra_networks,
    papermill_command,
)
from nborch.containers.standby_containers import (
    Claimed,
    StandbyContainers,
    keeps_waiting,
    learn_recent_recipes,
    release,
    standby_container_cap,
    start_for_run,
)
from nborch.containers.standby_handover import (
    StandbyFolder,
    adopt_run_folder,
    container_recipe,
    notebook_kernel,
    send_handover,
    write_assignment,
)
from nborch.errors import InfrastructureError
from nborch.jobs.variables import DockerJob
from nborch.models import FlowRun, PoolType
from nborch.settings import get_settings
from nborch.timeutil import utcnow
from nborch.workers.logs import LogShipper


@dataclass
class ContainerHandle:
    container_id: str
    run: FlowRun
    run_dir: Path
    auto_remove: bool
    log: LogShipper
    reader: threading.Thread
    standby_folder: StandbyFolder | None = None  # a standby container's, removed with it

    @property
    def short_id(self) -> str:
        return self.container_id[:12]


class DockerWorker(DockerEngineWorker[DockerJob]):
    """Runs each flow run of a docker pool in a container of its own."""

    pool_type = PoolType.DOCKER
    job_type = DockerJob

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.standby: StandbyContainers | None = None

    def start(self) -> None:
        """Refuses to start, with the reason, when no Docker engine answers."""
        self.engine, self.streams  # noqa: B018 - connect, or raise InfrastructureError
        super().start()

    @contextmanager
    def online(self) -> Iterator[None]:
        """Online, with standby containers when the pool wants them (removed at the end)."""
        # None for a worker that exits once it has run what is due (--run-once).
        keeps_running = self.pool_name and not self.run_once
        cap = standby_container_cap(self.job_template) if keeps_running else 0
        if cap:
            self.standby = StandbyContainers(
                self,
                wanted=lambda: self.standby_wanted(cap),
                recycle_after=get_settings().standby_recycle_after,
            )
            self._in_background("standby-recipes", learn_recent_recipes, self, self.standby)
        try:
            with super().online():
                yield
        finally:
            standby, self.standby = self.standby, None
            if standby is not None:
                standby.close()

    def standby_wanted(self, cap: int) -> int:
        """Standby containers to keep: one per free slot (at least one, for the run that
        takes the next slot to free), at most `cap`."""
        free = self.limit - self.active_runs if self.limit else cap
        return min(cap, max(1, free))

    def holds_first_cell_of(self, run: FlowRun, job: DockerJob) -> bool:
        """A run that a waiting container can take is launched ahead of its time: the
        container's waiter holds its first cell until then."""
        return container_recipe(job, "") is not None

    # ---- one run -------------------------------------------------------------------------

    def launch(self, run: FlowRun, job: DockerJob, log: LogShipper) -> ContainerHandle:
        image = ensure_image(self.engine, job.image, job.image_pull_policy)
        handle = self._launch_in_standby(run, job, image, log)
        if handle is not None:
            return handle
        self._wait_for_time(run)  # launched early, but nothing can hold its first cell
        run_dir = prepare_run_folder(run)
        try:
            container_id = self._start_container(run, job, image_labels(image), run_dir)
        except BaseException:
            reclaim_run_folder(run_dir)
            raise
        log.write(f"nborch: running in container {container_id[:12]} (image '{job.image}')")
        reader = threading.Thread(
            target=self._follow_logs, args=(container_id, log), name=f"logs-{run.id}", daemon=True
        )
        reader.start()
        return ContainerHandle(container_id, run, run_dir, job.auto_remove, log, reader)

    def _launch_in_standby(
        self, run: FlowRun, job: DockerJob, image: Image, log: LogShipper
    ) -> ContainerHandle | None:
        """The run handed to a container started ahead (one from standby, or, for a run
        taken ahead of its time, one started for it now); None: the plain path."""
        recipe = container_recipe(job, notebook_kernel(job, run.input_path))
        if recipe is None:
            return None
        early = run.scheduled_time > utcnow()
        pooled = self.standby is not None and keeps_waiting(job, run.job_variables)
        claimed: Claimed | None = None
        standby = self.standby
        if pooled and standby is not None:
            standby.learn(recipe, job)
            claimed = standby.take(recipe, str(image.id))
        if claimed is None and early:
            claimed = start_for_run(self, recipe, job, self._stopped)
        if claimed is None:
            return None
        try:
            return self._hand_over(claimed, run, job, image, log)
        except Exception as err:
            log.write(
                f"nborch: could not hand the run to container {claimed.container.short_id} "
                f"({type(err).__name__}: {err}); starting a container for it"
            )
            release(self, claimed)
            return None

    def _hand_over(
        self, claimed: Claimed, run: FlowRun, job: DockerJob, image: Image, log: LogShipper
    ) -> ContainerHandle:
        assert run.output_path, "every run has an output path"
        container = claimed.container
        attempt = run.run_count + 1  # the base made it RUNNING, which counted this attempt
        run_dir = Path(run.output_path).parent
        adopt_run_folder(container.folder, run_dir)
        prepare_run_folder(run)
        auto_remove = job.auto_remove
        write_assignment(
            container.folder,
            run_id=str(run.id),
            attempt=attempt,
            run_dir=run_dir,
            auto_remove=auto_remove,
        )
        argv = papermill_command(job, image_labels(image), Path(run.output_path).name)[1:]
        early = run.scheduled_time > utcnow()
        send_handover(
            claimed.fd,
            argv,
            env={"NBORCH_FLOW_RUN_ID": str(run.id)},
            start_at=run.scheduled_time.timestamp() if early else None,
        )
        log.write(
            f"nborch: running in container {container.short_id} (image '{job.image}', "
            "started ahead)"
        )
        reader = threading.Thread(
            target=self._follow_logs,
            args=(container.container_id, log),
            name=f"logs-{run.id}",
            daemon=True,
        )
        reader.start()
        # Its name, as a container started for the run would have (for people: `docker ps`).
        self._safe(
            lambda: self.engine.api.rename(
                container.container_id, container_name(run, job, attempt)
            )
        )
        return ContainerHandle(
            container.container_id, run, run_dir, auto_remove, log, reader, container.folder
        )

    def _wait_for_time(self, run: FlowRun) -> None:
        while (remaining := (run.scheduled_time - utcnow()).total_seconds()) > 0:
            if self._stopped.wait(min(remaining, 0.2)):
                return

    def _start_container(
        self, run: FlowRun, job: DockerJob, labels_of_image: dict[str, Any], run_dir: Path
    ) -> str:
        attempt = run.run_count + 1  # the base made it RUNNING, which counted this attempt
        name = container_name(run, job, attempt)
        labels = container_labels(
            run, job, attempt=attempt, store=self.store, worker=self.identity, run_dir=run_dir
        )
        options = container_options(
            run, job, run_dir=run_dir, image_labels=labels_of_image, labels=labels, name=name
        )
        container_id = self._create(run, name, options)
        try:
            for network in extra_networks(job):
                self.engine.api.connect_container_to_network(container_id, network)
            self.engine.api.start(container_id)
        except ENGINE_ERRORS as err:
            self._safe(lambda: self.engine.api.remove_container(container_id, force=True))
            raise InfrastructureError(
                f"The container of flow run '{run.name}' (image '{job.image}') did not start: "
                f"{explain(err)}. Check the pool's and deployment's job variables."
            ) from None
        return container_id

    def _create(self, run: FlowRun, name: str, options: dict[str, Any]) -> str:
        try:
            container = self.engine.containers.create(**options)
        except APIError as err:
            if err.status_code == 409:
                raise InfrastructureError(
                    f"Container name '{name}' is taken on this Docker engine: remove that "
                    f"container (docker rm {name}) or give the job variable name another value."
                ) from None
            raise InfrastructureError(
                f"Docker refused to create the container of flow run '{run.name}': "
                f"{explain(err)}. Check the pool's and deployment's job variables."
            ) from None
        except ENGINE_ERRORS as err:
            raise InfrastructureError(
                f"Could not create the container of flow run '{run.name}': {explain(err)}."
            ) from None
        return str(container.id)

    def _follow_logs(self, container_id: str, log: LogShipper) -> None:
        try:
            chunks = self.streams.api.logs(container_id, stream=True, follow=True)
            for line in iter_lines(chunks):
                log.write(line)
        except ENGINE_ERRORS as err:
            log.write(f"nborch: lost the container's output: {explain(err)}")

    def wait(self, handle: ContainerHandle) -> int:
        try:
            self.streams.api.wait(handle.container_id)
        except ENGINE_ERRORS as err:
            pool = handle.run.pool_name or "?"
            raise InfrastructureError(
                f"Lost the Docker engine at {engine_address()} while container "
                f"{handle.short_id} ran flow run '{handle.run.name}': {explain(err)}. The "
                f"container may still be running: the next worker of pool '{pool}' to start "
                "settles it."
            ) from None
        handle.reader.join(timeout=30)
        exit_code = settle_container(
            self.engine,
            handle.container_id,
            run_dir=handle.run_dir,
            auto_remove=handle.auto_remove,
            write=handle.log.write,
        )
        if handle.standby_folder is not None and handle.auto_remove:
            handle.standby_folder.remove()  # its container is gone: nobody needs it
        return exit_code

    def stop(self, handle: ContainerHandle) -> None:
        """`docker stop`: SIGTERM to papermill, SIGKILL after the grace period."""
        try:
            grace = math.ceil(get_settings().kill_grace_period)
            self.engine.api.stop(handle.container_id, timeout=grace)
        except NotFound:
            pass

    def silence(self, handle: ContainerHandle) -> str | None:
        try:
            status = self.engine.api.inspect_container(handle.container_id)["State"]["Status"]
        except NotFound:
            return f"container {handle.short_id} is gone"
        except ENGINE_ERRORS:
            return None  # the engine cannot say; `wait` reports a lost engine
        if status in ("exited", "dead"):
            return f"container {handle.short_id} has {status}"
        return None

    def infrastructure_id(self, handle: ContainerHandle) -> str:
        return f"container {handle.short_id}"

    # ---- containers a dead worker left -------------------------------------------------------

    def reconcile(self) -> None:
        if self.pool_name:
            ContainerReconciler(self).reconcile()

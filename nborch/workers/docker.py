"""The `docker` pool's worker: each run is one container that runs only papermill.

The run's folder goes in as a bind mount (input notebook copy, parameters file), the
executed notebook comes back in it, the container's output becomes the run's logs and its
exit code (and OOM kill) decides the state. The image needs papermill and a kernel, not
nborch. Containers carry io.nborch.* labels, by which the next worker of the pool finds and
settles those a dead worker left behind (see docker_reconcile.py).
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from docker.errors import APIError, NotFound

from nborch.containers.engine import (
    ENGINE_ERRORS,
    engine_address,
    ensure_image,
    explain,
    image_labels,
)
from nborch.containers.result import iter_lines, settle_container
from nborch.containers.run_folder import prepare_run_folder, reclaim_run_folder
from nborch.containers.spec import (
    container_labels,
    container_name,
    container_options,
    extra_networks,
)
from nborch.errors import InfrastructureError
from nborch.models import FlowRun, PoolType
from nborch.settings import get_settings
from nborch.workers.docker_reconcile import ContainerReconciler
from nborch.workers.engine_worker import EngineWorker
from nborch.workers.logs import LogShipper


@dataclass
class ContainerHandle:
    container_id: str
    run: FlowRun
    run_dir: Path
    auto_remove: bool
    log: LogShipper
    reader: threading.Thread

    @property
    def short_id(self) -> str:
        return self.container_id[:12]


class DockerWorker(EngineWorker):
    """Runs each flow run of a docker pool in a container of its own."""

    pool_type = PoolType.DOCKER

    def start(self) -> None:
        """Refuses to start, with the reason, when no Docker engine answers."""
        self.engine, self.streams  # noqa: B018 - connect, or raise InfrastructureError
        super().start()

    # ---- one run -------------------------------------------------------------------------

    def launch(self, run: FlowRun, job: dict[str, Any], log: LogShipper) -> ContainerHandle:
        image = ensure_image(self.engine, job["image"], job["image_pull_policy"])
        run_dir = prepare_run_folder(run)
        try:
            container_id = self._start_container(run, job, image_labels(image), run_dir)
        except BaseException:
            reclaim_run_folder(run_dir)
            raise
        log.write(f"nborch: running in container {container_id[:12]} (image '{job['image']}')")
        reader = threading.Thread(
            target=self._follow_logs, args=(container_id, log), name=f"logs-{run.id}", daemon=True
        )
        reader.start()
        return ContainerHandle(
            container_id, run, run_dir, bool(job.get("auto_remove")), log, reader
        )

    def _start_container(
        self, run: FlowRun, job: dict[str, Any], labels_of_image: dict[str, Any], run_dir: Path
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
                f"The container of flow run '{run.name}' (image '{job['image']}') did not start: "
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
        return settle_container(
            self.engine,
            handle.container_id,
            run_dir=handle.run_dir,
            auto_remove=handle.auto_remove,
            write=handle.log.write,
        )

    def stop(self, handle: ContainerHandle) -> None:
        """`docker stop`: SIGTERM to papermill, SIGKILL after the grace period."""
        try:
            grace = math.ceil(get_settings().kill_grace_period)
            self.engine.api.stop(handle.container_id, timeout=grace)
        except NotFound:
            pass

    def infrastructure_id(self, handle: ContainerHandle) -> str:
        return f"container {handle.short_id}"

    # ---- containers a dead worker left -------------------------------------------------------

    def reconcile(self) -> None:
        if self.pool_name:
            ContainerReconciler(self).reconcile()

"""The `docker-swarm` push pool's worker: each run is a Docker Swarm service in
`replicated-job` mode with one task that never restarts, on whichever node the swarm places
it (placement constraints and resources come from the job variables).

It runs inside nborch (the server, Jupyter, `nborch dispatcher start`), on a swarm manager's
engine (DOCKER_HOST or the local socket). The run's folder is bind-mounted as for a docker
pool; the task's output (service logs) becomes the run's logs, its container's exit code the
run's state. Cancelling removes the service (SIGTERM to papermill, SIGKILL after the grace
period). A task that no node can take within `placement_timeout`, that the swarm rejects or
that loses its node ends the run CRASHED, saying why; the deployment's retries then apply.
"""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
from docker.errors import APIError, ImageNotFound, NotFound

from nborch.containers.docker_engine import ENGINE_ERRORS, engine_address, explain
from nborch.containers.docker_engine_worker import DockerEngineWorker
from nborch.containers.result import iter_lines, missing_log_lines
from nborch.containers.run_folder import prepare_run_folder, reclaim_run_folder
from nborch.containers.service_spec import service_options
from nborch.containers.spec import (
    LABEL_POOL,
    LABEL_RUN_ID,
    LABEL_STORE,
    container_labels,
    container_name,
)
from nborch.errors import InfrastructureError, NborchError
from nborch.execution.outcome import out_of_memory_line
from nborch.jobs.swarm_template import SwarmJob
from nborch.models import FlowRun, PoolType
from nborch.settings import get_settings
from nborch.workers.logs import LogShipper

# Task states after which nothing more happens to the task.
_ENDED = {"complete", "failed", "shutdown", "rejected", "orphaned", "remove"}
_POLL = 0.25


@dataclass
class ServiceHandle:
    service_id: str
    name: str
    run: FlowRun
    run_dir: Path
    auto_remove: bool
    placement_timeout: float
    log: LogShipper
    logs: Any = None  # the socket of the followed service logs, shut at the end
    reader: threading.Thread | None = None
    seen: list[str] = field(default_factory=list)  # the task's output lines, as followed
    removed: threading.Event = field(default_factory=threading.Event)  # by stop()
    closing: threading.Event = field(default_factory=threading.Event)  # logs closed on purpose

    @property
    def short_id(self) -> str:
        return self.service_id[:12]


class SwarmWorker(DockerEngineWorker[SwarmJob]):
    """Submits each flow run of a docker-swarm pool as a service of its own."""

    pool_type = PoolType.DOCKER_SWARM
    job_type = SwarmJob

    def start(self) -> None:
        """Refuses to start, with the reason, unless the engine is a swarm manager."""
        check_swarm_manager(self.engine)
        super().start()

    # ---- one run ---------------------------------------------------------------------------

    def launch(self, run: FlowRun, job: SwarmJob, log: LogShipper) -> ServiceHandle:
        run_dir = prepare_run_folder(run)
        attempt = run.run_count + 1  # the base made it RUNNING, which counted this attempt
        name = container_name(run, job, attempt)
        labels = container_labels(
            run, job, attempt=attempt, store=self.store, worker=self.identity, run_dir=run_dir
        )
        options = service_options(
            run,
            job,
            run_dir=run_dir,
            image_labels=self._image_labels(job.image),
            labels=labels,
            name=name,
            grace_period=get_settings().kill_grace_period,
        )
        try:
            service = self.engine.services.create(**options)
        except APIError as err:
            reclaim_run_folder(run_dir)
            taken = " (the name is taken: remove that service or set the job variable name)"
            raise InfrastructureError(
                f"The swarm refused the service of flow run '{run.name}': {explain(err)}"
                f"{taken if err.status_code == 409 else ''}. Check the pool's and deployment's "
                "job variables."
            ) from None
        except ENGINE_ERRORS as err:
            reclaim_run_folder(run_dir)
            raise InfrastructureError(
                f"Could not create the service of flow run '{run.name}': {explain(err)}."
            ) from None
        handle = ServiceHandle(
            service_id=str(service.id),
            name=name,
            run=run,
            run_dir=run_dir,
            auto_remove=job.auto_remove,
            placement_timeout=job.placement_timeout,
            log=log,
        )
        log.write(
            f"nborch: submitted as swarm service {name} ({handle.short_id}), image '{job.image}'"
        )
        handle.reader = threading.Thread(
            target=self._follow_logs, args=(handle,), name=f"logs-{run.id}", daemon=True
        )
        handle.reader.start()
        return handle

    def _image_labels(self, image: str) -> dict[str, Any]:
        """The image's labels where this engine has it (e.g. the flow's folder of an image
        built by nborch deploy --image); nodes pull it themselves."""
        try:
            return dict(
                (self.engine.images.get(image).attrs.get("Config") or {}).get("Labels") or {}
            )
        except (ImageNotFound, *ENGINE_ERRORS):
            return {}

    def _follow_logs(self, handle: ServiceHandle) -> None:
        api = self.streams.api
        params = {"follow": True, "stdout": True, "stderr": True, "details": False}
        try:
            # The SDK's service_logs hides the response; we keep its socket, to shut it when
            # the task has ended (a service's log stream does not end with its task, and a
            # response cannot be closed while another thread reads it).
            url = api._url("/services/{0}/logs", handle.service_id)
            response = api._get(url, params=params, stream=True)
            handle.logs = api._get_raw_response_socket(response)
            for line in iter_lines(api._get_result_tty(True, response, False)):
                if handle.closing.is_set():
                    return
                handle.seen.append(line)
                handle.log.write(line)
        except Exception as err:
            if not (handle.removed.is_set() or handle.closing.is_set()):
                handle.log.write(f"nborch: lost the service's output: {type(err).__name__}")

    def wait(self, handle: ServiceHandle) -> int:
        task = self._wait_for_task_end(handle)
        exit_code = self._settle(handle, task)
        return exit_code

    def _tasks(self, handle: ServiceHandle) -> list[dict[str, Any]]:
        try:
            return list(self.engine.api.tasks(filters={"service": handle.service_id}))
        except NotFound:
            return []
        except ENGINE_ERRORS as err:
            raise InfrastructureError(
                f"Lost the Docker engine at {engine_address()} while swarm service "
                f"{handle.name} ran flow run '{handle.run.name}': {explain(err)}. The service "
                "may still be running: remove it with docker service rm "
                f"{handle.name} if it is."
            ) from None

    def _wait_for_task_end(self, handle: ServiceHandle) -> dict[str, Any] | None:
        """The task once it has ended; None when the service was removed (cancelled)."""
        submitted = time.monotonic()
        said: set[str] = set()
        while True:
            tasks = self._tasks(handle)
            if not tasks:
                if handle.removed.is_set():
                    return None
                if time.monotonic() - submitted > 30:
                    raise InfrastructureError(
                        f"Swarm service {handle.name} of flow run '{handle.run.name}' is gone "
                        "(removed by someone else?)."
                    )
            else:
                task = max(tasks, key=lambda t: t.get("CreatedAt", ""))
                status = task.get("Status") or {}
                state = status.get("State", "")
                if state in _ENDED:
                    return task
                why = status.get("Err") or ""
                if state == "pending" and why and why not in said:
                    said.add(why)
                    handle.log.write(f"nborch: the swarm cannot place the task yet: {why}")
                if state == "pending" and time.monotonic() - submitted > handle.placement_timeout:
                    self._remove(handle)
                    raise InfrastructureError(
                        f"No swarm node took the task of flow run '{handle.run.name}' within "
                        f"{handle.placement_timeout:g} s ({why or 'no node fits'}): check the "
                        "job variables constraints, cpu_reservation and mem_reservation, or "
                        "raise placement_timeout."
                    )
            if handle.removed.wait(_POLL) and not tasks:
                return None

    def _settle(self, handle: ServiceHandle, task: dict[str, Any] | None) -> int:
        """After the task: the log lines the stream missed, the folder handed back, the
        service removed; the exit code, or an error that says why there is none."""
        try:
            if task is None:  # removed by stop(): cancelled, or stopped by a shutdown
                return 143
            status = task.get("Status") or {}
            state = status.get("State", "")
            container = status.get("ContainerStatus") or {}
            exit_code = int(container.get("ExitCode", -1)) if "ExitCode" in container else -1
            self._catch_up_logs(handle)
            node = self._node_name(task.get("NodeID"))
            if state == "complete":
                return 0
            if state == "failed" and exit_code >= 0:
                if self._was_oom_killed(container.get("ContainerID")):
                    handle.log.write(
                        out_of_memory_line(
                            f"the task of swarm service {handle.name} on node {node} was "
                            "OOM-killed: raise the job variable mem_limit, or make the notebook "
                            "use less memory"
                        )
                    )
                    return exit_code
                if exit_code == 137:
                    raise InfrastructureError(
                        f"The task of swarm service {handle.name} (flow run "
                        f"'{handle.run.name}') was killed on node {node} (exit 137): its "
                        "container or its node went away mid-run. The run is retried when its "
                        "deployment has retries left."
                    )
                handle.log.write(
                    f"nborch: swarm task on node {node} failed: {status.get('Err', '')}"
                )
                return exit_code
            raise InfrastructureError(
                f"The swarm task of flow run '{handle.run.name}' ended {state} on node {node}: "
                f"{status.get('Err') or status.get('Message') or 'no reason given'}"
                + (" (its node left the swarm)" if state == "orphaned" else "")
                + "."
            )
        finally:
            self._close_logs(handle)
            reclaim_run_folder(handle.run_dir)
            if handle.auto_remove:
                self._remove(handle)

    def _catch_up_logs(self, handle: ServiceHandle) -> None:
        """Stop following the task's output; add the lines the stream had not delivered
        when the task ended."""
        if handle.reader is not None:
            handle.reader.join(timeout=1.0)
        self._close_logs(handle)
        if handle.reader is not None:
            handle.reader.join(timeout=5.0)
        try:
            raw = self.engine.api.service_logs(
                handle.service_id, stdout=True, stderr=True, follow=False, is_tty=False
            )
            produced = list(iter_lines([raw] if isinstance(raw, bytes) else raw))
        except ENGINE_ERRORS:
            return
        for line in missing_log_lines(handle.seen, produced):
            handle.log.write(line)

    def _close_logs(self, handle: ServiceHandle) -> None:
        handle.closing.set()
        if handle.logs is not None:
            raw = getattr(handle.logs, "_sock", handle.logs)  # a unix socket's SocketIO
            try:
                raw.shutdown(socket.SHUT_RDWR)
            except (OSError, AttributeError):
                pass

    def _was_oom_killed(self, container_id: str | None) -> bool:
        """Asked of this engine: true only when the task ran on this node."""
        if not container_id:
            return False
        try:
            state = self.engine.api.inspect_container(container_id).get("State") or {}
        except (NotFound, *ENGINE_ERRORS):
            return False
        return bool(state.get("OOMKilled"))

    def _node_name(self, node_id: str | None) -> str:
        if not node_id:
            return "?"
        try:
            node = self.engine.api.inspect_node(node_id)
        except (NotFound, *ENGINE_ERRORS):
            return node_id[:12]
        return str((node.get("Description") or {}).get("Hostname") or node_id[:12])

    def _remove(self, handle: ServiceHandle) -> None:
        try:
            self.engine.api.remove_service(handle.service_id)
        except NotFound:
            pass

    def stop(self, handle: ServiceHandle) -> None:
        """Remove the service: SIGTERM to papermill, SIGKILL after the grace period."""
        handle.removed.set()
        self._remove(handle)

    def infrastructure_id(self, handle: ServiceHandle) -> str:
        return f"swarm service {handle.name} ({handle.short_id})"

    # ---- what a dead dispatcher left -----------------------------------------------------------

    def reconcile(self) -> None:
        """Remove the services of this pool whose runs have ended (their dispatcher died
        before it could; the runs were marked CRASHED when its heartbeats stopped)."""
        if not self.pool_name:
            return
        services = self.engine.api.services(
            filters={"label": [f"{LABEL_STORE}={self.store}", f"{LABEL_POOL}={self.pool_name}"]}
        )
        for service in services:
            run_id = ((service.get("Spec") or {}).get("Labels") or {}).get(LABEL_RUN_ID)
            try:
                ended = self.client.get_run(run_id).state.is_final if run_id else True
            except NborchError:
                ended = True
            if ended:
                try:
                    self.engine.api.remove_service(service["ID"])
                except NotFound:
                    pass


def check_swarm_manager(engine: docker.DockerClient) -> None:
    """InfrastructureError unless the engine is a manager of an active swarm."""
    try:
        swarm = engine.info().get("Swarm") or {}
    except ENGINE_ERRORS as err:
        raise InfrastructureError(
            f"Cannot reach the Docker engine at {engine_address()}: {explain(err)}."
        ) from None
    if swarm.get("LocalNodeState") != "active" or not swarm.get("ControlAvailable"):
        raise InfrastructureError(
            f"The Docker engine at {engine_address()} is not a swarm manager (swarm "
            f"{swarm.get('LocalNodeState') or 'inactive'}): make it one with docker swarm init "
            "(one node) or point DOCKER_HOST at a manager of your swarm."
        )

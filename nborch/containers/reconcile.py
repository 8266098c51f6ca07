"""Settling the containers a docker worker left behind when it died (killed, machine lost).

When a docker worker starts, it looks for containers of its pool and store (by their
io.nborch.* labels):
- the container of a run's current attempt, whose worker is gone (its process is dead on
  this machine, or it no longer heartbeats), is taken over (exactly one worker wins):
  - if it has exited, the run is finished from its result: its missing output lines are
    added to the logs, its exit code, OOM kill and output notebook decide the state;
  - if it still runs, it is stopped and the run is marked CRASHED (CANCELLED if it was
    being cancelled): nobody followed its output, so its result cannot be trusted whole;
- a container of a run that has ended, been deleted or started again (an older attempt) is
  stopped if it still runs; containers labelled auto-remove are removed.
Containers whose worker still lives are left alone.

A standby container (labelled io.nborch.standby) says which run it was handed in its
folder's assignment (labels cannot change), and is then settled as above; one never handed
a run, whose worker is gone, is removed with its folder.
"""

from __future__ import annotations

import os
from pathlib import Path

import psutil
from docker.errors import NotFound
from docker.models.containers import Container

from nborch.containers.docker_engine import explain
from nborch.containers.docker_engine_worker import DockerEngineWorker
from nborch.containers.result import iter_lines, missing_log_lines, settle_container
from nborch.containers.run_folder import reclaim_run_folder
from nborch.containers.spec import (
    LABEL_ATTEMPT,
    LABEL_AUTO_REMOVE,
    LABEL_POOL,
    LABEL_RUN_DIR,
    LABEL_RUN_ID,
    LABEL_STANDBY,
    LABEL_STANDBY_DIR,
    LABEL_STORE,
    LABEL_WORKER_HOST,
    LABEL_WORKER_ID,
    LABEL_WORKER_PID,
    LABEL_WORKER_STARTED,
)
from nborch.containers.standby_handover import StandbyFolder, read_assignment
from nborch.errors import ConflictError, NotFoundError
from nborch.execution.masking import LineMasker
from nborch.execution.outcome import Outcome, judge_outcome
from nborch.jobs import resolve_job_configuration
from nborch.models import FlowRun, StateType, WorkerStatus
from nborch.settings import get_settings
from nborch.workers.logs import LogShipper, is_noise
from nborch.workers.run_secrets import RunSecrets

_STILL_RUNNING = ("created", "running", "restarting", "paused")


class ContainerReconciler:
    """One pass over the pool's containers, on behalf of a worker that has just started."""

    def __init__(self, worker: DockerEngineWorker) -> None:
        self.worker = worker
        self.client = worker.client
        self.engine = worker.engine

    def reconcile(self) -> None:
        labels = [f"{LABEL_STORE}={self.worker.store}", f"{LABEL_POOL}={self.worker.pool_name}"]
        containers = self.engine.containers.list(all=True, filters={"label": labels})
        for container in sorted(containers, key=lambda c: c.attrs.get("Created", "")):
            try:
                if container.labels.get(LABEL_STANDBY) == "true":
                    self._settle_standby(container)
                else:
                    self._settle(container, container.labels)
            except Exception as err:  # one container must not keep the others unsettled
                self.worker.echo(
                    f"Could not settle container {container.short_id}: "
                    f"{type(err).__name__}: {explain(err)}"
                )

    def _settle_standby(self, container: Container) -> None:
        folder = StandbyFolder(Path(container.labels.get(LABEL_STANDBY_DIR, "")))
        assignment = read_assignment(folder) if folder.root.name else None
        if assignment is None:  # never handed a run
            if _worker_lives(container.labels, self.worker.identity.host, self._online_ids()):
                return
            try:
                container.remove(force=True)
            except NotFound:
                pass
            folder.remove()
            self.worker.echo(
                f"Removed standby container {container.short_id}: the worker that started it "
                "is gone."
            )
            return
        labels = {
            **container.labels,
            LABEL_RUN_ID: str(assignment["run_id"]),
            LABEL_ATTEMPT: str(assignment["attempt"]),
            LABEL_RUN_DIR: str(assignment["run_dir"]),
            LABEL_AUTO_REMOVE: "true" if assignment.get("auto_remove") else "false",
        }
        if self._settle(container, labels):
            folder.remove()  # the run is settled: nobody needs the assignment any more

    def _online_ids(self) -> set[str]:
        return {
            str(w.id)
            for w in self.client.list_workers(self.worker.pool_name)
            if w.status is WorkerStatus.ONLINE
        }

    def _settle(self, container: Container, labels: dict[str, str]) -> bool:
        """Settle the container of the run its labels name; False when it is left alone."""
        try:
            run = self.client.get_run(labels[LABEL_RUN_ID])
        except NotFoundError:
            self._discard(container, None, "its flow run no longer exists", labels)
            return True
        if not _is_current_attempt(run, labels):
            self._discard(container, run, f"flow run '{run.name}' is {run.state.value}", labels)
            return True
        if self._holder_lives(run, labels):
            return False
        previous = run.worker_name or str(run.worker_id)
        try:
            run = self.client.take_over_run(run.id, self.worker.id, from_worker_id=run.worker_id)
        except ConflictError:
            return False  # another worker took it first, or it ended meanwhile
        self.worker.echo(
            f"Settling flow run '{run.name}' ({run.id}): worker '{previous}' is gone, its "
            f"container {container.short_id} is {container.status}."
        )
        self._finish(container, run, previous, labels)
        return True

    # ---- decisions ---------------------------------------------------------------------------

    def _holder_lives(self, run: FlowRun, labels: dict[str, str]) -> bool:
        if run.worker_id is None:
            return False
        started_here = (
            str(run.worker_id) == labels.get(LABEL_WORKER_ID)
            and labels.get(LABEL_WORKER_HOST) == self.worker.identity.host
        )
        if started_here:
            return _process_lives(labels.get(LABEL_WORKER_PID), labels.get(LABEL_WORKER_STARTED))
        return any(
            w.id == run.worker_id and w.status is WorkerStatus.ONLINE
            for w in self.client.list_workers(self.worker.pool_name)
        )

    # ---- actions -------------------------------------------------------------------------------

    def _finish(
        self, container: Container, run: FlowRun, previous: str, labels: dict[str, str]
    ) -> None:
        was_running = container.status in _STILL_RUNNING
        if was_running:
            self._stop(container)
        me = self.worker.name
        secrets = self._secrets(run)
        forms = secrets.masked_forms()
        log = LogShipper(self.client, run.id, attempt=run.attempt)  # the take-over's
        log.mask(forms)
        tail: list[str] = []

        def write(line: str) -> None:
            tail.append(line)
            log.write(line)

        try:
            stored = [line.message for line in self.client.read_logs(run.id)]
            produced = _masked(
                forms,
                [
                    line
                    for line in iter_lines([self.engine.api.logs(container.id, stream=False)])
                    if not is_noise(line)
                ],
            )  # as its worker stored them: masked, so the stored ones compare equal
            tail.extend(produced)
            for line in missing_log_lines(stored, produced):
                log.write(line)
            exit_code = settle_container(
                self.engine,
                container.id,
                run_dir=_run_dir(labels, run),
                auto_remove=labels.get(LABEL_AUTO_REMOVE) == "true",
                write=write,
            )
            secrets.mask_outputs(run.output_path)
            if was_running:
                outcome = Outcome(
                    StateType.CANCELLED if run.state is StateType.CANCELLING else StateType.CRASHED,
                    f"Worker '{previous}' stopped during the run; worker '{me}' stopped its "
                    f"container {container.short_id}",
                )
            else:
                outcome = judge_outcome(
                    exit_code,
                    run.output_path,
                    tail[-20:],
                    cancelled=run.state is StateType.CANCELLING,
                )
                note = (
                    f"Finished from container {container.short_id}'s result by worker '{me}' "
                    f"(worker '{previous}' was gone)"
                )
                outcome = Outcome(outcome.state, outcome.message or note, outcome.failure)
            write(f"nborch: {outcome.state.value}: {outcome.message}")
        finally:
            log.close()
        self.worker.echo(f"Flow run '{run.name}' {outcome.state.value}: {outcome.message}")
        self.client.set_state(
            run.id, outcome.state, outcome.message, failure=outcome.failure, attempt=run.attempt
        )

    def _secrets(self, run: FlowRun) -> RunSecrets:
        """What the run's own worker masked: the values of the secrets the run references,
        and those its job's `secret_env` takes from a worker's environment (this worker's:
        a worker of the same pool)."""
        secrets = RunSecrets.fetch(self.client, run)
        job = secrets.job(resolve_job_configuration(self.worker.job_template, run.job_variables))
        names = job.get("secret_env") or []
        secrets.hide(os.environ[name] for name in names if name in os.environ)
        return secrets

    def _discard(
        self, container: Container, run: FlowRun | None, reason: str, labels: dict[str, str]
    ) -> None:
        """A container whose result nobody needs: stopped if it runs, removed if so labelled."""
        if container.status in _STILL_RUNNING:
            self._stop(container)
            # Said here only: the run is no longer this worker's to write about.
            self.worker.echo(f"Stopped container {container.short_id}, left running: {reason}")
            if run is not None:
                reclaim_run_folder(_run_dir(labels, run))
        if labels.get(LABEL_AUTO_REMOVE) == "true":
            try:
                container.remove(force=True)
            except NotFound:
                pass

    def _stop(self, container: Container) -> None:
        try:
            container.stop(timeout=max(1, round(get_settings().kill_grace_period)))
        except NotFound:
            pass


def _masked(forms: list[str], lines: list[str]) -> list[str]:
    """The lines as a LogShipper masking `forms` lets them out (values across lines too)."""
    masker = LineMasker(forms)
    return masker.feed(lines) + masker.finish()


def _is_current_attempt(run: FlowRun, labels: dict[str, str]) -> bool:
    """The run is in a worker's hands, running the attempt this container was made for."""
    return run.state in (StateType.RUNNING, StateType.CANCELLING) and labels.get(
        LABEL_ATTEMPT
    ) == str(run.run_count)


def _process_lives(pid: str | None, started: str | None) -> bool:
    """A process with that pid runs and started when the labelled one did (pids are reused)."""
    if not pid or not started:
        return False
    try:
        return f"{psutil.Process(int(pid)).create_time():.2f}" == started
    except (psutil.Error, ValueError):
        return False


def _worker_lives(labels: dict[str, str], host: str, online: set[str]) -> bool:
    """The worker that started a container lives: its process, on this machine; its
    heartbeats, on another."""
    if labels.get(LABEL_WORKER_HOST) == host:
        return _process_lives(labels.get(LABEL_WORKER_PID), labels.get(LABEL_WORKER_STARTED))
    return labels.get(LABEL_WORKER_ID) in online


def _run_dir(labels: dict[str, str], run: FlowRun) -> Path:
    label = labels.get(LABEL_RUN_DIR)
    if label:
        return Path(label)
    assert run.output_path, "every run has an output path"
    return Path(run.output_path).parent

"""The worker lifecycle, shared by every pool type (template method).

The base worker owns registration, heartbeats, claiming, concurrency, cancellation,
state reporting, logs, a run's secrets (values put in before launch, masked in its logs and
output notebook: `run_secrets`) and shutdown. A pool type writes only how to `launch` a run's
infrastructure, `wait` for it and `stop` it.

Shutdown: the first SIGTERM/SIGINT stops claiming and lets runs in hand finish for at most
NBORCH_STOP_GRACE_PERIOD seconds; then, or at a second signal, their infrastructure is
stopped: runs that had not started go back to SCHEDULED for another worker, running ones are
marked CRASHED (and retried if their deployment allows). Nothing a stuck launch holds can
hold the stop up.

Heartbeats prove the worker lives, not its runs: a watchdog asks each pool type whether a
run's infrastructure shows signs of life (`silence`), and ends a run that has shown none for
NBORCH_SILENT_RUN_TIMEOUT seconds CRASHED, saying what it saw. The watchdog also stops a run
whose timeout (its deployment's run policy, or its own) has passed, counted from when its
first cell may start: it ends FAILED, "timed out in cell N after ...", its output notebook
kept with that cell marked.

A run is the worker's only while its claim's attempt holds it (`nborch.orchestration.fencing`):
every write about it carries the attempt, and a run the store no longer gives this worker
(crashed for a silence, taken over) is stopped at once. A worker that has reached neither
its server nor its store for most of NBORCH_WORKER_TIMEOUT stops its runs itself, before
anyone may retry them (`nborch.orchestration.crash_detection`).
"""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Generic, TypeVar

from nborch.client.base import NborchClient
from nborch.errors import ConflictError, NborchError, NotFoundError, RunLostError, StoreError
from nborch.execution.outcome import Outcome, judge_outcome, timed_out
from nborch.home_files import nborch_run_folder, private_folder, seal_run_folder
from nborch.jobs import default_base_job_template, resolve_job_configuration
from nborch.jobs.variables import JobVariables
from nborch.models import FlowRun, PoolType, StateType
from nborch.scheduler_loop import SchedulerLoop, tick_until_done
from nborch.settings import get_settings
from nborch.sources import check_out, is_git_url
from nborch.timeutil import utcnow
from nborch.workers.logs import LogShipper
from nborch.workers.output_handover import hand_over_output, with_local_output
from nborch.workers.run_secrets import RunSecrets

# Beyond the kill grace period, how long stopping waits for runs' threads to end.
JOIN_SPARE = 5.0
# How many runs one poll claims when the worker has no --limit.
_UNLIMITED_BATCH = 16
# The longest an idle worker of a server waits in one claim for runs to come (a long poll);
# a worker told to stop while it waits stops at the latest this much later.
LONG_POLL_MAX = 5.0
# The watchdog looks at each run this often (or twice per NBORCH_SILENT_RUN_TIMEOUT).
WATCH_INTERVAL = 2.0
# A worker that has reached neither its server nor its store for this fraction of
# NBORCH_WORKER_TIMEOUT stops its runs: they are stopped (SIGTERM, the kill grace period)
# before the timeout, after which another worker may be given them.
SELF_FENCE_FRACTION = 0.6
# After a failed heartbeat, the next try comes this soon (or at the usual interval if sooner).
HEARTBEAT_RETRY = 1.0

# The typed job a worker's pool type receives (`nborch.jobs`).
Job = TypeVar("Job", bound=JobVariables)


@dataclass
class ActiveRun:
    """A run in this worker's hands."""

    run: FlowRun
    handle: Any = None
    cancel_requested: bool = False
    launching: bool = False  # its infrastructure is being (or has been) launched
    abandoned: bool = False  # stopped by a forced shutdown; reported by the shutdown itself
    lost: str | None = None  # why it is no longer (or may soon not be) this worker's run
    settling: bool = False  # its outcome is known and being reported
    silent_since: float | None = None  # time.monotonic() the watchdog first saw no life
    silenced: str | None = None  # why the watchdog ended it
    # time.monotonic() its timeout passes (None: it has none), and, once the watchdog stopped
    # it for that, the seconds it had run (`nborch.orchestration.run_policy`).
    deadline: float | None = None
    timed_out: float | None = None
    started: threading.Event = field(default_factory=threading.Event)
    # Guards launching/abandoned/handle; held for an instant, never while launching.
    lock: threading.Lock = field(default_factory=threading.Lock)


class BaseWorker(ABC, Generic[Job]):
    """A polling process bound to one work pool; subclasses say how runs become infrastructure."""

    pool_type: ClassVar[PoolType]
    job_type: type[Job]  # what `launch` receives: the pool type's typed job
    # Can the infrastructure be started before the run's time and hold its first cell until
    # then (--prestart)? If not, a run taken early waits, PENDING, until its time.
    holds_first_cell: ClassVar[bool] = False

    def __init__(
        self,
        client: NborchClient,
        pool_name: str | None,
        *,
        name: str | None = None,
        limit: int | None = None,
        poll_interval: float | None = None,
        heartbeat_interval: float | None = None,
        run_once: bool = False,
        echo: Callable[[str], None] = print,
        tee: Callable[[str], None] | None = None,
        run_scheduler: bool = True,
        prestart: float | None = None,
    ) -> None:
        settings = get_settings()
        self.client = client
        self.pool_name = pool_name
        self.id = uuid.uuid4()
        self.name = name or f"{type(self).__name__} {self.id}"
        if limit is not None and limit < 1:
            raise NborchError(f"Worker limit must be at least 1, got {limit}.")
        self.limit = limit
        self.poll_interval = poll_interval if poll_interval is not None else settings.poll_interval
        self.heartbeat_interval = (
            heartbeat_interval if heartbeat_interval is not None else settings.heartbeat_interval
        )
        self.run_once = run_once
        self.prestart = prestart if prestart is not None else settings.prestart
        self.echo = echo
        self.tee = tee  # also hands every log line to this (e.g. a terminal)
        # Every worker offers to run the scheduler; the store's lease picks one at a time.
        # A worker of a server leaves it to the server.
        self.run_scheduler = run_scheduler and not client.is_remote
        self.job_template: dict[str, Any] = default_base_job_template(self.pool_type)
        self._active: dict[str, ActiveRun] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()  # no more claims
        self._stopped = threading.Event()  # the loop has ended
        self.started = threading.Event()  # registered and polling
        self._wake = threading.Event()
        self._pool_watch: Any = None  # wakes the worker when its pool gets work
        self._threads: list[threading.Thread] = []
        self._runs_abandoned = False  # a forced stop stopped the runs in hand
        # time.monotonic() when the last heartbeat that reached the store was sent.
        self._last_contact = time.monotonic()
        self._fence_after = SELF_FENCE_FRACTION * settings.worker_timeout
        self._said_idle = False  # "waiting for runs" said since the worker last had some

    # ---- what a pool type provides -----------------------------------------------------

    @abstractmethod
    def launch(self, run: FlowRun, job: Job, log: LogShipper) -> Any:
        """Start the run's infrastructure; return a handle for `wait` and `stop`."""

    @abstractmethod
    def wait(self, handle: Any) -> int:
        """Block until the infrastructure ends; return its exit code."""

    @abstractmethod
    def stop(self, handle: Any) -> None:
        """Stop the infrastructure (SIGTERM, grace period, SIGKILL, or the engine's way)."""

    def infrastructure_id(self, handle: Any) -> str | None:
        """What identifies the infrastructure to a person (a pid, a container id)."""
        return None

    def silence(self, handle: Any) -> str | None:
        """Why the run's infrastructure shows no sign of life now (its process is gone, its
        container ended while `wait` did not return), or None while it does or nobody can
        tell. Called from the watchdog's thread."""
        return None

    def holds_first_cell_of(self, run: FlowRun, job: Job) -> bool:
        """Can this run's infrastructure start before its time and hold its first cell until
        then? `holds_first_cell`, unless the pool type decides run by run."""
        return self.holds_first_cell

    def reconcile(self) -> None:
        """Settle what dead workers of the pool left running (e.g. containers); called once,
        registered, before the first claim. Nothing to do for most pool types."""
        return None

    # ---- lifecycle -----------------------------------------------------------------------

    @property
    def active_runs(self) -> int:
        with self._lock:
            return len(self._active)

    def start(self) -> None:
        """Register, then poll, claim and run until stopped. Blocks."""
        if self.pool_name:
            pool = self.client.get_pool(self.pool_name)
            if pool.type is not self.pool_type:
                raise NborchError(
                    f"Work pool '{pool.name}' is of type '{pool.type.value}', not "
                    f"'{self.pool_type.value}'. Start its own kind: "
                    f"nborch worker start --pool {pool.name}"
                )
            self.job_template = pool.base_job_template
        private_folder(get_settings().runs_dir)  # before anything (standby folders) goes in
        self._install_signal_handlers()
        with self.online():
            self.echo(f"Worker '{self.name}' started!")
            self.started.set()
            self._safe(self.reconcile)
            self._poll_loop()
        self.echo(f"Worker '{self.name}' stopped.")

    @contextmanager
    def online(self) -> Iterator[None]:
        """Registered and heartbeating for the duration of the block."""
        self.client.register_worker(
            self.name,
            self.pool_name,
            pid=os.getpid(),
            worker_id=self.id,
            hostname=socket.gethostname(),
        )
        heartbeat = threading.Thread(target=self._heartbeat_loop, name="heartbeat", daemon=True)
        heartbeat.start()
        threading.Thread(target=self._watchdog_loop, name="watchdog", daemon=True).start()
        holder = f"{self.name} ({self.id})"
        if self.run_scheduler and self.run_once:
            # A worker run from cron with --run-once: make the due runs before claiming.
            self._safe(tick_until_done, self.client, holder)
        scheduler = (
            SchedulerLoop(
                self.client,
                holder,
                on_error=self._report_error,
                on_runs_created=self._wake.set,
            )
            if self.run_scheduler
            else None
        )
        if scheduler:
            scheduler.start()
        if self.pool_name:  # no waiting for a poll: woken when a run comes
            self._pool_watch = self._safe(self.client.watch_pool, self.pool_name, self._wake.set)
        try:
            yield
        finally:
            if self._pool_watch is not None:
                self._safe(self._pool_watch.close)
            if scheduler:
                scheduler.stop()
            self._stopped.set()
            self._join_run_threads()
            self._safe(lambda: self.client.heartbeat(self.id, stopped=True))

    def wake(self) -> None:
        """Look for runs now rather than at the next poll (e.g. the scheduler made some)."""
        self._wake.set()

    def request_stop(self, force: bool = False) -> None:
        """Stop claiming; with `force` (or NBORCH_STOP_GRACE_PERIOD later), also stop the
        runs in hand."""
        first = not self._stopping.is_set()
        self._stopping.set()
        self._wake.set()
        if force:
            self._abandon_active_runs()
        elif first and self.active_runs:
            grace = get_settings().stop_grace_period
            self.echo(
                f"Stopping: waiting for {self.active_runs} run(s) to finish, at most {grace:g} s "
                "(signal again to stop them now)."
            )
            timer = threading.Timer(grace, self._abandon_active_runs)
            timer.daemon = True
            timer.start()

    def _install_signal_handlers(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return

        def on_signal(signum: int, _frame: Any) -> None:
            self.request_stop(force=self._stopping.is_set())

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)

    def _poll_loop(self) -> None:
        settings = get_settings()
        claimed_once = False
        while not self._stopping.is_set():
            long_polled = False
            if not (self.run_once and claimed_once):
                long_polled = self._claim_and_launch()
                claimed_once = True
            if self.run_once and not self.active_runs:
                break
            self._check_held_runs()
            if long_polled and not self.active_runs:
                continue  # it has waited for runs already
            self._say_when_idle()
            self._wake.wait(self._idle_wait() if not self.active_runs else self._busy_wait())
            self._wake.clear()
        while self.active_runs and not self._stopped.is_set():
            self._check_held_runs()
            self._wake.wait(settings.cancel_check_interval)
            self._wake.clear()
            with self._lock:
                if all(a.abandoned for a in self._active.values()):
                    break

    def _say_when_idle(self) -> None:
        """Say once per idle spell, after its last claim, that the worker waits for runs
        (woken when one comes): an operator, and a test, can tell it is idle."""
        if self.active_runs:
            self._said_idle = False
        elif not self._said_idle:
            self._said_idle = True
            self.echo(f"Worker '{self.name}' is waiting for runs.")

    def _idle_wait(self) -> float:
        """Seconds to sleep: a poll interval, or less when a run is due sooner, so that it
        starts on time rather than at the next poll."""
        pool_name = self.pool_name
        if not pool_name:
            return self.poll_interval
        due = self._safe(lambda: self.client.next_run_time(pool_name, lookahead=self.prestart))
        if due is None:
            return self.poll_interval
        self.run_coming()
        until_due = (due - utcnow()).total_seconds() - self.prestart
        return max(0.0, min(self.poll_interval, until_due))

    def run_coming(self) -> None:
        """A run of the pool is due at a known time: get ready for it if there is anything
        to get ready (nothing for most pool types)."""
        return None

    def _busy_wait(self) -> float:
        """Seconds to sleep with runs in hand: until the next cancellation check, or less
        when a run is due sooner and a slot is free for it."""
        check = get_settings().cancel_check_interval
        if self.limit and self.active_runs >= self.limit:
            return check
        return min(check, self._idle_wait())

    def _heartbeat_loop(self) -> None:
        pause = self.heartbeat_interval
        while not self._stopped.wait(pause):
            sent = time.monotonic()
            try:
                self.client.heartbeat(self.id)
            except Exception as err:  # try again soon: the run's lease runs out meanwhile
                self._report_error(err)
                pause = min(HEARTBEAT_RETRY, self.heartbeat_interval)
                continue
            # A call over HTTP may have been sent again and again: count from the copy
            # that arrived.
            self._last_contact = self.client.last_request_sent() or sent
            pause = self.heartbeat_interval

    def _watchdog_loop(self) -> None:
        timeout = get_settings().silent_run_timeout
        every = min(WATCH_INTERVAL, timeout / 2, self._fence_after / 10)
        while not self._stopped.wait(self._next_watch(every)):
            self._fence_if_out_of_touch()
            with self._lock:
                held = list(self._active.values())
            for active in held:
                self._safe(self._watch, active, timeout)
                self._safe(self._time_out_if_due, active)

    def _next_watch(self, every: float) -> float:
        """Seconds until the watchdog looks again: `every`, or less when a run's timeout
        passes sooner."""
        now = time.monotonic()
        with self._lock:
            due = [a.deadline - now for a in self._active.values() if a.deadline is not None]
        return max(min([every, *due]), 0.05)

    def _time_out_if_due(self, active: ActiveRun) -> None:
        """Stop the run once its timeout has passed; it is then reported FAILED, timed out."""
        deadline, timeout = active.deadline, active.run.timeout_seconds
        if deadline is None or timeout is None:
            return
        now = time.monotonic()
        if now < deadline:
            return
        active.deadline = None  # looked at once: the watchdog need not wake for it again
        if active.abandoned or active.lost:  # being stopped, and reported, already
            return
        active.timed_out = now - deadline + timeout
        self.echo(
            f"Flow run '{active.run.name}' ran past its timeout ({timeout:g} s); stopping it."
        )
        self._in_background(f"timeout-{active.run.id}", self._stop_when_started, active)

    def _fence_if_out_of_touch(self) -> None:
        """Stop every run in hand once no heartbeat has reached the store for a while: the
        store may give the runs up at the timeout, and none may run twice."""
        silent = time.monotonic() - self._last_contact
        if silent < self._fence_after:
            return
        with self._lock:
            held = list(self._active.values())
        for active in held:
            self._lose(
                active,
                f"Worker '{self.name}' reached neither its server nor its store for "
                f"{silent:.0f} s, so it stopped the run: it may not run twice",
            )

    def _watch(self, active: ActiveRun, timeout: float) -> None:
        """End the run CRASHED once its infrastructure has shown no sign of life for
        `timeout` seconds: stopping it makes `wait` return."""
        if not active.started.is_set() or active.abandoned or active.silenced:
            return
        reason = self.silence(active.handle)
        now = time.monotonic()
        if reason is None:
            active.silent_since = None
            return
        if active.silent_since is None:
            active.silent_since = now
        if now - active.silent_since < timeout:
            return
        active.silenced = f"No sign of life from the run for {timeout:g} s: {reason}"
        self.echo(f"Flow run '{active.run.name}': {active.silenced}; stopping it.")
        self._in_background(f"stop-{active.run.id}", self.stop, active.handle)

    def _report_error(self, err: Exception) -> None:
        self.echo(f"nborch worker: {type(err).__name__}: {err}")

    def _long_poll_wait(self) -> float:
        """Seconds a claim may wait on the server for runs to come: an idle worker that is
        not told of new runs otherwise (a worker of a server) waits there, not in a sleep."""
        if self._pool_watch is not None or not self.client.is_remote or self.run_once:
            return 0.0
        if self.active_runs or self._stopping.is_set():
            return 0.0
        return min(self._idle_wait(), LONG_POLL_MAX)

    def _claim_and_launch(self) -> bool:
        """Claim what is due and start it; True when the claim waited for runs to come."""
        if not self.pool_name:
            return False
        free = (self.limit - self.active_runs) if self.limit else _UNLIMITED_BATCH
        if free <= 0:
            return False
        wait = self._long_poll_wait()
        if wait > 0:
            self._say_when_idle()  # the claim itself waits for runs
        try:
            runs = self.client.claim_runs(
                self.pool_name,
                self.id,
                free,
                lookahead=self.prestart,
                **({"wait": wait} if wait > 0 else {}),
            )
        except NotFoundError as err:  # the pool was deleted under us
            self.echo(str(err))
            self.request_stop()
            return False
        except Exception as err:  # the store is busy or unreachable: try again next poll
            self.echo(f"Could not claim runs ({err}); retrying.")
            return False
        if self._stopping.is_set():  # told to stop while the claim waited: give them back
            message = f"Released by worker '{self.name}' shutting down"
            for run in runs:
                self._safe(self._set_state, run, StateType.SCHEDULED, message)
            return wait > 0
        for run in runs:
            with self._lock:  # a claim sent again may offer back a run already in hand
                if str(run.id) in self._active:
                    continue
            self.submit(run)
        return wait > 0

    def submit(self, run: FlowRun) -> threading.Thread:
        """Execute a claimed (PENDING) run on a thread of its own."""
        active = ActiveRun(run)
        with self._lock:
            self._active[str(run.id)] = active
        self._said_idle = False  # idle again once it is done: say so then
        thread = threading.Thread(
            target=self._execute, args=(active,), name=f"run-{run.id}", daemon=True
        )
        # A long-lived worker keeps only the threads still running.
        self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        self.echo(f"Claimed flow run '{run.name}' ({run.id}).")
        thread.start()
        return thread

    def _join_run_threads(self) -> None:
        """Wait for the runs' threads: for as long as the runs take, or, once they were
        stopped (their states reported), only as long as stopping them may take."""
        _join_within(self._threads, _stop_bound() if self._runs_abandoned else None)

    # ---- one run -------------------------------------------------------------------------

    def execute(self, run: FlowRun) -> FlowRun:
        """Execute a claimed run here and now; returns it in its final state."""
        active = ActiveRun(run)
        with self._lock:
            self._active[str(run.id)] = active
        self._execute(active)
        return self.client.get_run(run.id)

    def _execute(self, active: ActiveRun) -> None:
        if self.client.is_remote:  # the run's output_path is the server's, not ours
            active.run = with_local_output(active.run)
        run = active.run
        try:
            log = LogShipper(self.client, run.id, tee=self.tee, attempt=run.attempt)
            try:
                outcome = self._run_infrastructure(active, log)
            finally:
                log.close()  # every log line is stored before the final state is
            with active.lock:
                active.settling = outcome is not None and not active.abandoned
            if active.settling and outcome is not None:
                if self.client.is_remote:
                    self._safe(hand_over_output, self.client, run)
                self._report(run, outcome)
        except RunLostError as err:  # the store gave the run to someone else: leave it
            self.echo(f"Flow run '{run.name}': {err}")
        except Exception as err:  # nothing may leave a run hanging in PENDING/RUNNING
            reason = f"The worker could not run it: {type(err).__name__}: {err}"
            note = [f"nborch: {reason}"]
            self._safe(lambda: self.client.append_logs(run.id, note, attempt=run.attempt))
            self._safe(self._set_state, run, StateType.CRASHED, reason)
        finally:
            with self._lock:
                self._active.pop(str(run.id), None)
            self._wake.set()

    def _run_infrastructure(self, active: ActiveRun, log: LogShipper) -> Outcome | None:
        run = active.run
        secrets = RunSecrets.fetch(self.client, run)  # values for this run; the store keeps refs
        resolved = secrets.job(resolve_job_configuration(self.job_template, run.job_variables))
        job = self._with_secret_env(
            self.job_type.of(resolved, owner=f"flow run '{run.name}'"), secrets
        )
        log.mask(secrets.masked_forms())
        run = secrets.with_values(run)
        run_dir = nborch_run_folder(run.output_path)
        if run_dir:
            private_folder(run_dir)  # and runs/ (nborch.home_files: who may read it)
        if not self.holds_first_cell_of(run, job):
            self._wait_until_due(active)
        try:
            self._set_state(run, StateType.RUNNING, f"Started by worker '{self.name}'")
        except RunLostError:
            raise
        except ConflictError:
            # Cancelled (or released) while it waited to start.
            return Outcome(StateType.CANCELLED, "Cancelled before it started")
        if run.timeout_seconds:  # counted from when its first cell may start
            held = max((run.scheduled_time - utcnow()).total_seconds(), 0.0)
            active.deadline = time.monotonic() + held + run.timeout_seconds
        run = self._checked_out(run)
        with active.lock:
            if active.abandoned:
                return None
            if active.lost:  # never started: another worker may run it
                return Outcome(StateType.SCHEDULED, f"Released: {active.lost}")
            active.launching = True
        handle = self.launch(run, job, log)  # no lock held: a stop need not wait for it
        with active.lock:
            active.handle = handle
            active.started.set()
            abandoned = active.abandoned
        if abandoned:  # the worker was stopped while it launched: the stop reported the run
            self._safe(self.stop, handle)
            return None
        infrastructure_id = self.infrastructure_id(active.handle)
        if infrastructure_id:
            self._safe(
                lambda: self.client.record_infrastructure(
                    run.id, infrastructure_id, attempt=run.attempt
                )
            )
        try:
            exit_code = self.wait(active.handle)
        finally:
            secrets.mask_outputs(run.output_path)
        if run_dir:  # ended (a container lost with its engine may still write to it)
            seal_run_folder(run_dir)
        if active.lost:
            return Outcome(StateType.CRASHED, active.lost)
        # Stopped past its timeout: timed out, whatever the stopped process's exit said (a
        # papermill told to stop may exit 0 when its kernel went first).
        if active.timed_out is not None and run.timeout_seconds:
            return timed_out(run.output_path, list(log.tail), active.timed_out, run.timeout_seconds)
        if active.silenced:
            return Outcome(StateType.CRASHED, active.silenced)
        return judge_outcome(
            exit_code, run.output_path, list(log.tail), cancelled=active.cancel_requested
        )

    def _with_secret_env(self, job: Job, secrets: RunSecrets) -> Job:
        """The job with its `secret_env` values taken from this worker's environment: they
        reach the run's environment only, never the store, and are masked in its logs and
        output notebook."""
        names = job.secret_env
        missing = [name for name in names if name not in os.environ]
        if missing:
            raise NborchError(
                f"Secret environment variable(s) {', '.join(missing)} are not set where worker "
                f"'{self.name}' runs. Set them in the worker's environment: nborch never "
                "stores secret values."
            )
        values = {name: os.environ[name] for name in names}
        secrets.hide(values.values())
        return job.model_copy(update={"env": {**job.env, **values}})

    def _wait_until_due(self, active: ActiveRun) -> None:
        """Taken early (--prestart) but cannot hold its first cell: wait for its time. A
        cancellation meanwhile is noticed when the run is then set RUNNING."""
        while not (active.abandoned or active.cancel_requested or active.lost):
            remaining = (active.run.scheduled_time - utcnow()).total_seconds()
            if remaining <= 0:
                return
            self._stopped.wait(min(remaining, 0.2))

    def _checked_out(self, run: FlowRun) -> FlowRun:
        """A run of a git-sourced flow, pointed at a fresh checkout (commit recorded)."""
        if not (run.source and is_git_url(run.source)) or not run.output_path:
            return run
        checkout = check_out(run.source, Path(run.output_path).parent / "source")
        self.client.record_source_commit(run.id, checkout.commit, attempt=run.attempt)
        notebook = checkout.path / run.input_path
        return run.model_copy(
            update={
                "input_path": str(notebook),
                "cwd": str(notebook.parent),
                "source_commit": checkout.commit,
            }
        )

    def _set_state(
        self, run: FlowRun, state: StateType, message: str, outcome: Outcome | None = None
    ) -> FlowRun:
        """Move the run, as the attempt that holds it."""
        failure = outcome.failure if outcome else None
        extra = {"timed_out": True} if outcome and outcome.timed_out else {}
        return self.client.set_state(
            run.id, state, message, failure=failure, attempt=run.attempt, **extra
        )

    def _report(self, run: FlowRun, outcome: Outcome) -> None:
        """Report the outcome, trying again while the store cannot be reached (unless the
        worker is made to stop): a run's end is never lost to a store's restart."""
        detail = f": {outcome.message}" if outcome.message else ""
        self.echo(f"Flow run '{run.name}' {outcome.state.value}{detail}")
        pause = 0.5
        while True:
            try:
                self._set_state(run, outcome.state, outcome.message, outcome)
                return
            except ConflictError as err:
                # Not this attempt's any more (e.g. marked CRASHED while the worker was
                # out of touch): the store keeps the verdict it has.
                self.echo(f"Flow run '{run.name}' ended {outcome.state.value} here: {err}")
                return
            except (StoreError, OSError) as err:
                if self._runs_abandoned:
                    raise
                self._report_error(err)
            except NborchError:
                raise
            except Exception as err:  # the store's driver: the database is away
                if self._runs_abandoned:
                    raise
                self._report_error(err)
            self._stopped.wait(pause)
            pause = min(pause * 2, 5.0)

    # ---- cancellation and shutdown ---------------------------------------------------------

    def _check_held_runs(self) -> None:
        """Stop the runs the store no longer gives this worker, and those being cancelled."""
        with self._lock:
            held = [a for a in self._active.values() if not (a.settling or a.abandoned)]
        if not held:
            return
        try:
            store_says = {r.id: r for r in self.client.held_runs(self.id)}
        except Exception:
            return
        for active in held:
            now = store_says.get(active.run.id)
            if now is None or now.attempt != active.run.attempt:
                self._lose(
                    active,
                    f"Flow run '{active.run.name}' is no longer this worker's (the store "
                    "gave it up or to another worker meanwhile)",
                )
            elif now.state is StateType.CANCELLING and not active.cancel_requested:
                active.cancel_requested = True
                self._in_background(f"cancel-{active.run.id}", self._stop_when_started, active)

    def _lose(self, active: ActiveRun, reason: str) -> None:
        """The run may no longer be this worker's: stop it now, and never report it
        finished."""
        with active.lock:
            if active.settling or active.abandoned or active.lost:
                return
            active.lost = reason
        self.echo(f"{reason}; stopping flow run '{active.run.name}'.")
        self._in_background(f"lose-{active.run.id}", self._stop_when_started, active)

    def _stop_when_started(self, active: ActiveRun) -> None:
        if active.started.wait(timeout=60):
            self._safe(self.stop, active.handle)

    def _abandon_active_runs(self) -> None:
        """Stop every run in hand, all at once, and report each (bounded: a run whose
        infrastructure will not stop is reported all the same)."""
        with self._lock:
            held = [a for a in self._active.values() if not a.abandoned]
        self._runs_abandoned = True
        stopping = [
            threading.Thread(target=self._safe, args=(self._abandon, a), daemon=True) for a in held
        ]
        for thread in stopping:
            thread.start()
        _join_within(stopping, _stop_bound())

    def _abandon(self, active: ActiveRun) -> None:
        with active.lock:  # a run that is not launching yet never will be
            active.abandoned = True
            launching, handle = active.launching, active.handle
        if not launching:
            message = f"Released by worker '{self.name}' shutting down"
            self._set_state(active.run, StateType.SCHEDULED, message)
            return
        message = f"Worker '{self.name}' was stopped during the run"
        self._safe(self._set_state, active.run, StateType.CRASHED, message)
        if handle is not None:  # else its launch stops it when it returns
            self.stop(handle)

    def _safe(self, action: Callable[..., Any], *args: Any) -> Any:
        """Run `action(*args)`; report and swallow its error (the loop must go on)."""
        try:
            return action(*args)
        except Exception as err:
            self._report_error(err)
            return None

    def _in_background(self, name: str, action: Callable[..., Any], *args: Any) -> None:
        """Run `action(*args)` on a daemon thread `name`, its error reported and swallowed."""
        threading.Thread(target=self._safe, args=(action, *args), name=name, daemon=True).start()


def _stop_bound() -> float:
    """How long stopping a run's infrastructure may take (then its thread is let go)."""
    return get_settings().kill_grace_period + JOIN_SPARE


def _join_within(threads: list[threading.Thread], seconds: float | None) -> None:
    """Join `threads`, all of them within `seconds` together (None: however long)."""
    deadline = None if seconds is None else time.monotonic() + seconds
    for thread in threads:
        thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))

"""The soak's cluster, every piece a real process: a PostgreSQL server of its own (so that it
can be stopped and started again), `nborch server start` processes on one store (each runs
the scheduler: the store's lease picks one at a time), and process-pool workers spread over
them, each behind a `FaultProxy` so that its network to its server can be cut.

Every process's output is kept in memory as it comes and written to `folder/logs` at the
end: the evidence for what the soak found. The pieces can be killed, stopped and started
again by the fault injector (`soak_faults`); `restore` brings them all back."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from nborch.client.http import HttpClient
from nborch.jobs import default_base_job_template
from nborch.models import PoolType
from support.fault_proxy import FaultProxy, Link, ProxyHost
from support.postgres import PostgresServer, create_database, start_local_postgres
from support.processes import OutputProcess, wait_for
from support.servers import NborchServer, create_api_key, environment, nborch_argv

POOL = "soak"
# Short heartbeats, timeouts and ticks, so that every fault resolves within seconds.
SOAK_SETTINGS = {
    "NBORCH_HEARTBEAT_INTERVAL": "0.5",
    "NBORCH_WORKER_TIMEOUT": "4",
    "NBORCH_POLL_INTERVAL": "1",
    "NBORCH_CANCEL_CHECK_INTERVAL": "0.5",
    "NBORCH_KILL_GRACE_PERIOD": "1",
    "NBORCH_STOP_GRACE_PERIOD": "5",
    "NBORCH_SILENT_RUN_TIMEOUT": "20",
    "NBORCH_SCHEDULER_INTERVAL": "0.5",
    "NBORCH_SCHEDULER_HORIZON": "2",
}
WORKER_TIMEOUT = float(SOAK_SETTINGS["NBORCH_WORKER_TIMEOUT"])


@dataclass
class WorkerSlot:
    """One of the cluster's workers: the server it talks to (through its own proxy), and
    each process that has filled the slot, the newest last."""

    index: int
    server: int
    proxy: FaultProxy
    home: Path
    processes: list[OutputProcess] = field(default_factory=list)
    # Kernels a killed worker process left behind (pid -> its worker's name), still alive
    # when looked at after the kill.
    orphans: dict[int, str] = field(default_factory=dict)

    @property
    def current(self) -> OutputProcess | None:
        return self.processes[-1] if self.processes else None

    @property
    def alive(self) -> bool:
        return self.current is not None and self.current.alive


class SoakCluster:
    """Start with `start()`; `close()` stops every process and writes their logs."""

    def __init__(self, folder: Path, *, servers: int = 2, workers: int = 8, limit: int = 2) -> None:
        self.folder = folder
        self.server_count, self.worker_count, self.limit = servers, workers, limit
        self.postgres: PostgresServer | None = None
        self.database_url = ""
        self.servers: list[NborchServer] = []
        self.admins: list[HttpClient] = []
        self.slots: list[WorkerSlot] = []
        self.proxies = ProxyHost()
        self.worker_key = ""
        # Processes that exited before they had started (each was started again).
        self.failed_starts: list[str] = []

    # ---- start and stop --------------------------------------------------------------------

    def start(self) -> SoakCluster:
        postgres = start_local_postgres()
        if isinstance(postgres, str):
            raise RuntimeError(f"The soak needs PostgreSQL: {postgres}")
        self.postgres = postgres
        self.database_url = create_database(postgres, f"nborch_soak_{uuid.uuid4().hex[:8]}")
        env = environment(
            NBORCH_DATABASE_URL=self.database_url,
            NBORCH_HOME=str(self.folder / "server-home"),
            **SOAK_SETTINGS,
        )
        admin_key = create_api_key(env, "soak-admin", "admin")
        for _ in range(self.server_count):
            server = NborchServer(env)
            self.servers.append(server.start())
            # Calls of the soak itself keep trying through a server's restart.
            self.admins.append(HttpClient(server.url, admin_key, retry_for=120))
        template = default_base_job_template(PoolType.PROCESS)
        self.admins[0].create_pool(POOL, "process", base_job_template=template)
        self.worker_key = create_api_key(env, "soak-worker", "worker", POOL)
        for index in range(self.worker_count):
            number = index % self.server_count
            slot = WorkerSlot(
                index,
                number,
                self.proxies.proxy(self.servers[number].port),
                self.folder / f"worker-{index}-home",
            )
            self.slots.append(slot)
            self.start_worker(slot)
        return self

    def start_worker(self, slot: WorkerSlot, timeout: float = 120) -> OutputProcess:
        """A new worker process in `slot` (as a replacement machine would be), once started;
        one that exits before it has started is started again, as a supervisor would (and
        noted in `failed_starts`)."""
        env = environment(
            NBORCH_API_URL=slot.proxy.url,
            NBORCH_API_KEY=self.worker_key,
            NBORCH_HOME=str(slot.home),
            **SOAK_SETTINGS,
        )
        deadline = time.monotonic() + timeout
        while True:
            argv = nborch_argv(
                "worker", "start", "--pool", POOL, "--limit", str(self.limit),
                "--name", f"w{slot.index}.{len(slot.processes)}",
            )  # fmt: skip
            process = OutputProcess(argv, env)
            slot.processes.append(process)
            if _started(process, max(1.0, deadline - time.monotonic())):
                return process
            self.failed_starts.append(
                f"worker {argv[-1]} exited ({process.process.poll()}) before it started: "
                + " | ".join(process.lines[-3:])
            )
            time.sleep(1)

    def close(self) -> None:
        """Stop every process (the workers' kernels with them), write the logs, drop the
        PostgreSQL server."""
        logs = self.folder / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        for slot in self.slots:
            for generation, process in enumerate(slot.processes):
                process.stop()
                (logs / f"worker-{slot.index}.{generation}.log").write_text(process.output)
            for pid in slot.orphans:
                _kill(pid)
        for admin in self.admins:
            admin.close()
        for number, server in enumerate(self.servers):
            server.stop()
            (logs / f"server-{number}.log").write_text(server.output)
        self.proxies.close()
        if self.postgres is not None:
            assert self.postgres.data_dir is not None
            log = self.postgres.data_dir.parent / "log"
            if log.exists():
                (logs / "postgres.log").write_text(log.read_text(errors="replace"))
            self.postgres.stop()

    # ---- faults ----------------------------------------------------------------------------

    def kill_worker(self, slot: WorkerSlot) -> list[int]:
        """SIGKILL the slot's worker process (not its kernels: they are left to notice);
        returns the pids of the kernels it had."""
        process = slot.current
        assert process is not None
        try:
            kernels = [
                child.pid for child in psutil.Process(process.process.pid).children(recursive=True)
            ]
        except psutil.NoSuchProcess:
            kernels = []
        process.kill()
        return kernels

    def note_orphans(self, slot: WorkerSlot, kernels: list[int]) -> list[int]:
        """Those of a killed worker's `kernels` still alive now."""
        alive = [pid for pid in kernels if psutil.pid_exists(pid) and _not_zombie(pid)]
        name = f"w{slot.index}.{len(slot.processes) - 1}"
        for pid in alive:
            slot.orphans[pid] = name
        return alive

    def living_orphans(self) -> list[int]:
        """Kernels of killed workers that are still alive."""
        return [pid for slot in self.slots for pid in slot.orphans if _not_zombie(pid)]

    def kill_server(self, number: int) -> None:
        self.servers[number].kill()

    def start_server(self, number: int, timeout: float = 120) -> None:
        """Start server `number` again on its port; tries again while it cannot start (its
        store may be down too)."""
        deadline = time.monotonic() + timeout
        server = self.servers[number]
        while True:
            try:
                server.start(timeout=30)
                return
            except AssertionError as err:
                self.failed_starts.append(f"server {number}: {str(err)[-300:]}")
                server.kill()
                if time.monotonic() > deadline:
                    raise
                time.sleep(1)

    def halt_postgres(self) -> None:
        assert self.postgres is not None
        self.postgres.halt()

    def resume_postgres(self) -> None:
        assert self.postgres is not None
        self.postgres.resume()

    def restore(self) -> list[str]:
        """Every piece up again: PostgreSQL, servers, links, workers; says what it did."""
        done = []
        assert self.postgres is not None
        if not _accepts(self.postgres):
            self.resume_postgres()
            done.append("started PostgreSQL")
        for number, server in enumerate(self.servers):
            if not (server.processes and server.processes[-1].alive):
                self.start_server(number)
                done.append(f"started server {number}")
        for slot in self.slots:
            if slot.proxy.link is not Link.UP:
                slot.proxy.heal()
                done.append(f"healed worker {slot.index}'s link")
            if not slot.alive:
                self.start_worker(slot)
                done.append(f"started worker {slot.index}")
        return done


def _started(worker: OutputProcess, timeout: float) -> bool:
    """Has the worker said it started (True), or exited first (False)?"""
    wait_for(
        lambda: "started!" in worker.output or not worker.alive,
        timeout,
        lambda: f"the worker did not start:\n{worker.output}",
    )
    return worker.alive


def _accepts(server: PostgresServer) -> bool:
    import psycopg

    try:
        psycopg.connect(
            server.admin_url.replace("postgresql+psycopg", "postgresql"), connect_timeout=5
        ).close()
        return True
    except psycopg.OperationalError:
        return False


def _not_zombie(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _kill(pid: int) -> None:
    try:
        psutil.Process(pid).kill()
    except psutil.NoSuchProcess:
        pass

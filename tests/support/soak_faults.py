"""The soak's faults, injected at random (from a seed) while the load runs: SIGKILL a worker
(a new one takes its slot), SIGKILL a server and start it again on its port, stop and start
PostgreSQL, cut or stall a worker's link to its server for longer than the worker timeout,
and make one schedule unschedulable in the store. Each fault runs on a thread of its own and
undoes itself (but the bad schedule); faults of different kinds overlap, and no piece takes
two faults at once. Every fault is logged with its time (`events`)."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import update

from nborch.store.engine import open_store
from nborch.store.tables import DeploymentRow, ScheduleRow
from support.soak_cluster import WORKER_TIMEOUT, SoakCluster
from support.soak_load import DOOMED

KINDS = ("kill-worker", "kill-server", "restart-postgres", "partition", "bad-schedule")
# What makes the doomed schedule unschedulable: an interval whose next time overflows (the
# API refuses it now, the store takes it).
BAD_INTERVAL = 1e12


@dataclass
class Event:
    at: float  # time.time()
    kind: str
    what: str


@dataclass
class FaultInjector:
    cluster: SoakCluster
    rng: random.Random
    every: float  # seconds between faults, on average
    kinds: tuple[str, ...] = KINDS
    counts: Counter[str] = field(default_factory=Counter)
    events: list[Event] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    _busy: set[str] = field(default_factory=set)
    _threads: list[threading.Thread] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _loop: threading.Thread | None = None

    def log(self, kind: str, what: str) -> None:
        self.events.append(Event(time.time(), kind, what))

    # ---- the loop --------------------------------------------------------------------------

    def start(self) -> None:
        self._loop = threading.Thread(target=self._inject, name="faults", daemon=True)
        self._loop.start()

    def stop(self) -> None:
        """No new fault; wait for those under way to undo themselves."""
        self._stop.set()
        if self._loop is not None:
            self._loop.join()
        for thread in self._threads:
            thread.join(timeout=180)

    def _inject(self) -> None:
        # Every kind once first (in a random order), then any kind but the bad schedule.
        first = list(self.kinds)
        self.rng.shuffle(first)
        repeatable = [kind for kind in self.kinds if kind != "bad-schedule"]
        while not self._stop.wait(self.every * self.rng.uniform(0.5, 1.5)):
            kind = first.pop(0) if first else self.rng.choice(repeatable)
            action = self._action(kind)
            if action is None:  # every target of that kind is busy: another time
                continue
            thread = threading.Thread(target=self._safely, args=(kind, action), daemon=True)
            self._threads = [t for t in self._threads if t.is_alive()] + [thread]
            thread.start()

    def _safely(self, kind: str, action: Callable[[], None]) -> None:
        try:
            action()
        except Exception as err:  # the soak goes on; the report says the fault failed
            self.errors.append(f"{kind}: {type(err).__name__}: {err}")
            self.log(kind, f"FAILED: {type(err).__name__}: {err}")

    def _take(self, candidates: list[str]) -> str | None:
        """A free target among `candidates`, now busy; None if all are busy."""
        with self._lock:
            free = [name for name in candidates if name not in self._busy]
            if not free:
                return None
            target = self.rng.choice(free)
            self._busy.add(target)
            return target

    def _release(self, target: str) -> None:
        with self._lock:
            self._busy.discard(target)

    def _action(self, kind: str) -> Callable[[], None] | None:
        cluster = self.cluster
        if kind in ("kill-worker", "partition"):
            target = self._take([f"worker {slot.index}" for slot in cluster.slots])
        elif kind == "kill-server":
            target = self._take([f"server {n}" for n in range(len(cluster.servers))])
        elif kind == "restart-postgres":
            target = self._take(["postgres"])
        else:
            target = "doomed schedule" if self.counts[kind] == 0 else None
        if target is None:
            return None
        self.counts[kind] += 1
        number = int(target.split()[-1]) if target.split()[-1].isdigit() else 0
        actions: dict[str, Callable[[], None]] = {
            "kill-worker": lambda: self._kill_worker(number),
            "kill-server": lambda: self._kill_server(number),
            "restart-postgres": self._restart_postgres,
            "partition": lambda: self._partition(number),
            "bad-schedule": self._bad_schedule,
        }

        def act() -> None:
            try:
                actions[kind]()
            finally:
                self._release(target)

        return act

    # ---- the faults --------------------------------------------------------------------------

    def _kill_worker(self, index: int) -> None:
        slot = self.cluster.slots[index]
        if not slot.alive:
            return
        kernels = self.cluster.kill_worker(slot)
        self.log("kill-worker", f"SIGKILL worker w{slot.index}.{len(slot.processes) - 1}")
        self._stop.wait(self.rng.uniform(0.5, 3.0))
        orphans = self.cluster.note_orphans(slot, kernels)
        if orphans:
            self.log("kill-worker", f"kernels of the killed worker still alive: {orphans}")
        self.cluster.start_worker(slot)
        self.log("kill-worker", f"worker w{slot.index}.{len(slot.processes) - 1} started")

    def _kill_server(self, number: int) -> None:
        down = self.rng.uniform(1.0, 2.5 * WORKER_TIMEOUT)
        self.cluster.kill_server(number)
        self.log("kill-server", f"SIGKILL server {number}, down for {down:.1f} s")
        time.sleep(down)
        self.cluster.start_server(number)
        self.log("kill-server", f"server {number} started again")

    def _restart_postgres(self) -> None:
        down = self.rng.uniform(0.5, 1.5 * WORKER_TIMEOUT)
        self.cluster.halt_postgres()
        self.log("restart-postgres", f"PostgreSQL stopped (immediate), down for {down:.1f} s")
        time.sleep(down)
        self.cluster.resume_postgres()
        self.log("restart-postgres", "PostgreSQL started again")

    def _partition(self, index: int) -> None:
        slot = self.cluster.slots[index]
        how = self.rng.choice(["cut", "stall"])
        length = self.rng.uniform(1.5 * WORKER_TIMEOUT, 3 * WORKER_TIMEOUT)
        (slot.proxy.cut if how == "cut" else slot.proxy.stall)()
        self.log("partition", f"{how} worker {index}'s link for {length:.1f} s")
        time.sleep(length)
        slot.proxy.heal()
        self.log("partition", f"worker {index}'s link healed")

    def _bad_schedule(self) -> None:
        """Store the doomed schedule's interval as one no time can follow (tried again
        while PostgreSQL is down)."""
        store = open_store(self.cluster.database_url)
        deadline = time.monotonic() + 120
        while True:
            try:
                with store.write() as session:
                    doomed = session.query(DeploymentRow.id).filter(DeploymentRow.name == DOOMED)
                    session.execute(
                        update(ScheduleRow)
                        .where(ScheduleRow.deployment_id.in_(doomed.scalar_subquery()))
                        .values(interval_seconds=BAD_INTERVAL)
                    )
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(1)
        self.log("bad-schedule", f"schedule of '{DOOMED}' set to interval {BAD_INTERVAL:g} s")

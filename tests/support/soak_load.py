"""The soak's work: a notebook that records its own execution, the deployments that run it
(interval schedules, and one deployment for direct triggers) and the thread that triggers.

The notebook appends one line at its start and one at its end to a file named after its run
(`marks/<run id>`, O_APPEND, one write per line), with a token of its own: these lines, not
nborch's records, say how often each run was executed, and by which kernel. A run learns
its id from its kernel's environment (NBORCH_FLOW_RUN_ID); a triggered run also gets a
`trigger` parameter of its own, so that a trigger whose answer was lost is still found."""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from nborch.client.http import HttpClient
from nborch.flows import Flow
from nborch.models import CatchUp
from nborch.timeutil import utcnow
from support.notebooks import make_notebook
from support.soak_cluster import POOL

FLOW = "soak"
TRIGGERED = "triggered"
DOOMED = "doomed"  # its schedule is made unschedulable in the store during the soak
SCHEDULED = ("every-a", "every-b")  # two deployments, two interval schedules each
RETRIES = 2

MARKING = """\
import os, time, uuid
run_id = os.environ.get("NBORCH_FLOW_RUN_ID") or "no-run-id-" + trigger
token = uuid.uuid4().hex[:12]


def mark(what):
    line = f"{what} {token} {os.getpid()} {time.time():.3f} {trigger}\\n"
    fd = os.open(os.path.join(marks, run_id), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


mark("start")"""


def marking_notebook(path: Path) -> Path:
    return make_notebook(
        path,
        'marks: str = ""\nseconds: float = 2.0\ntrigger: str = ""',
        MARKING,
        "time.sleep(seconds)",
        'mark("end")',
    )


@dataclass
class Plan:
    """What the soak asks for: the schedules' intervals (their runs make about half of
    `runs`), a trigger every `trigger_every` s for the other half, over `duration` s."""

    runs: int
    duration: float
    seconds: float  # how long a run sleeps (triggered runs: 0.25x to 2x this)

    @property
    def triggers(self) -> int:
        return self.runs - self.runs // 2

    @property
    def trigger_every(self) -> float:
        return self.duration / max(1, self.triggers)

    def intervals(self) -> list[float]:
        """Four healthy schedules' intervals (at least 1 s: nborch's shortest), making
        about runs // 2 runs in `duration`."""
        rate = max(self.runs // 2, 1) / self.duration  # runs per second, all four together
        factors = [1.0, 1.2, 1.4, 1.6]
        base = sum(1 / f for f in factors) / rate
        return [max(1.0, round(base * f, 3)) for f in factors]


@dataclass
class Load:
    """The deployments, and the triggers sent so far: token -> the run id the API answered
    (None while unanswered or when the call failed: see `failures`)."""

    admins: list[HttpClient]
    marks: Path
    plan: Plan
    rng: random.Random
    triggered: dict[str, str | None] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)
    started: datetime | None = None
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _calls: list[threading.Thread] = field(default_factory=list)

    def deploy(self, folder: Path) -> None:
        self.marks.mkdir(parents=True, exist_ok=True)
        notebook = marking_notebook(folder / "marking.ipynb")
        flow = Flow.from_notebook(notebook, name=FLOW)
        admin = self.admins[0]
        common: dict[str, Any] = {
            "parameters": {"marks": str(self.marks), "seconds": self.plan.seconds},
            "retries": RETRIES,
            "catch_up": CatchUp.ALL,  # every slot is run, however late
            "quiet": True,
            "client": admin,
        }
        flow.deploy(TRIGGERED, POOL, **common)
        intervals = self.plan.intervals()
        for number, name in enumerate(SCHEDULED):
            flow.deploy(name, POOL, interval=intervals[2 * number : 2 * number + 2], **common)
        flow.deploy(DOOMED, POOL, interval=max(intervals), **common)

    def start(self) -> None:
        self.started = utcnow()
        self._thread = threading.Thread(target=self._trigger, name="triggers", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _trigger(self) -> None:
        """One run every `trigger_every` s (± half of it), through each server in turn."""
        every = self.plan.trigger_every
        for number in range(self.plan.triggers):
            if self._stop.wait(every * self.rng.uniform(0.5, 1.5)):
                return
            token = f"t{number:05d}"
            self.triggered[token] = None
            seconds = round(self.plan.seconds * self.rng.uniform(0.25, 2.0), 2)
            admin = self.admins[number % len(self.admins)]
            # On a thread of its own: a call waiting for a server to come back holds up
            # neither the others nor the pace.
            call = threading.Thread(target=self._create, args=(admin, token, seconds), daemon=True)
            self._calls.append(call)
            call.start()

    def join_calls(self, timeout: float) -> None:
        """Wait (at most `timeout` s in all) for the calls still waiting for an answer."""
        deadline = soon(timeout)
        for call in self._calls:
            call.join(max(0.0, deadline - time.monotonic()))

    def _create(self, admin: HttpClient, token: str, seconds: float) -> None:
        try:
            run = admin.create_run(
                f"{FLOW}/{TRIGGERED}",
                parameters={"trigger": token, "seconds": seconds, "marks": str(self.marks)},
            )
        except Exception as err:  # said in the report; the store is searched for it anyway
            self.failures[token] = f"{type(err).__name__}: {err}"
        else:
            self.triggered[token] = str(run.id)


def soon(seconds: float) -> float:
    """A monotonic deadline `seconds` from now."""
    return time.monotonic() + seconds

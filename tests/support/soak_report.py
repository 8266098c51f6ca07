"""What the soak found: nborch's records of every run (read from the store's tables) set
against the lines the runs' notebooks wrote (`soak_load`), as figures and goals.

Executed means the notebook's last cell wrote its `end` line; a run with two `end` lines was
executed to completion twice. Lost means planned but not final. A run sat non-final from its
time (or its creation, if later) to its final state. Planned: every run a trigger made, and
every run a schedule made for a slot up to the end of the faults."""

from __future__ import annotations

import json
import math
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from nborch.models import StateType
from nborch.store.engine import Store
from nborch.store.tables import DeploymentRow, FlowRunRow, FlowRunStateRow, ScheduleRow
from support.soak_load import DOOMED, TRIGGERED

FINAL = {s.value for s in StateType if s.is_final}
WAITING = {StateType.SCHEDULED.value, StateType.LATE.value}
# A claimed run whose state has not changed for this long (its notebook takes ~2 s) is stuck.
STUCK_AFTER = 60.0


@dataclass
class Mark:
    what: str  # start or end
    token: str  # one per execution of the notebook
    pid: int
    at: float  # time.time()


@dataclass
class RunRecord:
    id: str
    name: str
    deployment: str
    schedule_id: str | None
    slot: datetime | None
    created: datetime
    scheduled: datetime
    state: str
    run_count: int
    trigger: str
    history: list[tuple[str, datetime, str]] = field(default_factory=list)
    marks: list[Mark] = field(default_factory=list)

    @property
    def final(self) -> bool:
        return self.state in FINAL

    @property
    def ends(self) -> list[Mark]:
        return [mark for mark in self.marks if mark.what == "end"]

    @property
    def final_at(self) -> datetime | None:
        return self.history[-1][1] if self.final and self.history else None

    def waited(self, now: datetime) -> float:
        """Seconds from its time (or creation, if later) to its final state (or `now`)."""
        begin = max(self.created, self.scheduled)
        return ((self.final_at or now) - begin).total_seconds()

    def stuck(self, now: datetime) -> bool:
        changed = self.history[-1][1] if self.history else self.created
        return (now - changed).total_seconds() > STUCK_AFTER

    def crashed_then_retried(self) -> bool:
        types = [entry[0] for entry in self.history]
        return any(
            kind == StateType.CRASHED.value and StateType.SCHEDULED.value in types[i + 1 :]
            for i, kind in enumerate(types)
        )

    def ran_on_after_crash(self) -> bool:
        """An execution of an attempt already marked CRASHED went on to finish: it ended
        after the verdict, and started before the run was next set RUNNING."""
        times = [(kind, when.timestamp()) for kind, when, _message in self.history]
        starts = {mark.token: mark.at for mark in self.marks if mark.what == "start"}
        for i, (kind, crash) in enumerate(times):
            if kind != StateType.CRASHED.value:
                continue
            rerun = next((t for k, t in times[i + 1 :] if k == StateType.RUNNING.value), math.inf)
            if any(end.at > crash and starts.get(end.token, 0.0) < rerun for end in self.ends):
                return True
        return False

    def finished_before_crash(self) -> bool:
        """Its first execution had ended (its state not reported yet) when it was marked
        CRASHED."""
        crashes = [e[1].timestamp() for e in self.history if e[0] == StateType.CRASHED.value]
        return bool(self.ends and crashes and min(m.at for m in self.ends) < min(crashes))

    def describe(self) -> str:
        lines = [f"run {self.id} ({self.name}, {self.deployment}) {self.state}, "
                 f"run_count {self.run_count}"]  # fmt: skip
        events = [(when.timestamp(), f"state {kind}: {message}") for kind, when, message in
                  self.history]  # fmt: skip
        events += [(m.at, f"notebook {m.what} (execution {m.token}, kernel pid {m.pid})")
                   for m in self.marks]  # fmt: skip
        for at, text in sorted(events):
            lines.append(f"  {datetime.fromtimestamp(at).strftime('%H:%M:%S.%f')[:-3]} {text}")
        return "\n".join(lines)


def read_marks(folder: Path) -> dict[str, list[Mark]]:
    found: dict[str, list[Mark]] = {}
    for path in folder.iterdir():
        for line in path.read_text().splitlines():
            what, token, pid, at, *_trigger = line.split(" ")
            found.setdefault(path.name, []).append(Mark(what, token, int(pid), float(at)))
    return found


def read_runs(store: Store, marks: dict[str, list[Mark]]) -> list[RunRecord]:
    with store.read() as session:
        rows = session.execute(
            select(FlowRunRow, DeploymentRow.name).join(
                DeploymentRow, FlowRunRow.deployment_id == DeploymentRow.id
            )
        ).all()
        history: defaultdict[str, list[tuple[str, datetime, str]]] = defaultdict(list)
        for state in session.scalars(select(FlowRunStateRow).order_by(FlowRunStateRow.id)):
            history[state.run_id].append((state.type, state.timestamp, state.message))
    return [
        RunRecord(
            id=row.id,
            name=row.name,
            deployment=deployment,
            schedule_id=row.schedule_id,
            slot=row.slot_time,
            created=row.created,
            scheduled=row.scheduled_time,
            state=row.state,
            run_count=row.run_count,
            trigger=str(row.parameters.get("trigger", "")),
            history=history[row.id],
            marks=marks.get(row.id, []),
        )
        for row, deployment in rows
    ]


@dataclass
class ScheduleCheck:
    """A healthy schedule's slots from its first run to the end of the faults: expected
    against made."""

    schedule_id: str
    deployment: str
    interval: float
    expected: int
    made: int


def check_schedules(store: Store, runs: list[RunRecord], until: datetime) -> tuple[
    list[ScheduleCheck], str | None
]:  # fmt: skip
    """The healthy schedules' checks, and the doomed schedule's error (None: not marked)."""
    with store.read() as session:
        schedules = session.execute(
            select(ScheduleRow, DeploymentRow.name).join(
                DeploymentRow, ScheduleRow.deployment_id == DeploymentRow.id
            )
        ).all()
    checks, doomed_error = [], None
    for schedule, deployment in schedules:
        if deployment == DOOMED:
            doomed_error = schedule.error
            continue
        slots = [r.slot for r in runs if r.schedule_id == schedule.id and r.slot is not None]
        if not slots or schedule.interval_seconds is None or schedule.anchor_date is None:
            checks.append(ScheduleCheck(schedule.id, deployment, 0.0, 1, 0))
            continue
        first, interval = min(slots), schedule.interval_seconds
        offset = (first - schedule.anchor_date).total_seconds()
        span = (until - schedule.anchor_date).total_seconds()
        expected = max(0, math.floor(span / interval + 1e-9) - round(offset / interval) + 1)
        made = sum(1 for slot in slots if slot <= until)
        checks.append(ScheduleCheck(schedule.id, deployment, interval, expected, made))
    return checks, doomed_error


@dataclass
class Findings:
    planned: list[RunRecord]
    scheduled: int
    triggered: int
    triggers_failed: dict[str, str]  # token -> the API's error, for tokens with no run
    triggers_doubled: list[str]  # tokens with more than one run
    schedules: list[ScheduleCheck]
    doomed_error: str | None
    faults: Counter[str]
    fault_errors: list[str]
    faults_stopped: datetime
    collected: datetime
    settle: float
    no_run_id: list[str]  # mark files a notebook wrote without knowing its run
    orphan_kernels: int = 0  # kernels of killed workers still alive at the end
    failed_starts: list[str] = field(default_factory=list)  # started again

    @property
    def executed(self) -> list[RunRecord]:
        return [r for r in self.planned if r.ends]

    @property
    def executed_twice(self) -> list[RunRecord]:
        return [r for r in self.planned if len(r.ends) > 1]

    @property
    def lost(self) -> list[RunRecord]:
        return [r for r in self.planned if not r.final]

    @property
    def held(self) -> list[RunRecord]:
        """Lost runs a worker claimed and then nothing happened to for `STUCK_AFTER` s: a
        backlog would not explain them."""
        return [r for r in self.lost if r.state not in WAITING and r.stuck(self.collected)]

    @property
    def cancelled(self) -> list[RunRecord]:
        return [r for r in self.planned if r.state == StateType.CANCELLED.value]

    @property
    def retried(self) -> list[RunRecord]:
        return [r for r in self.planned if r.crashed_then_retried()]

    @property
    def ran_on(self) -> list[RunRecord]:
        return [r for r in self.planned if r.ran_on_after_crash()]

    @property
    def completed_unexecuted(self) -> list[RunRecord]:
        return [r for r in self.planned if r.state == StateType.COMPLETED.value and not r.ends]

    @property
    def executed_not_completed(self) -> list[RunRecord]:
        return [r for r in self.planned if r.final and r.ends and r.state != "COMPLETED"]

    @property
    def ended_unexecuted(self) -> list[RunRecord]:
        return [r for r in self.planned if r.final and not r.ends]

    @property
    def longest_wait(self) -> tuple[float, RunRecord | None]:
        waits = [(r.waited(self.collected), r) for r in self.planned]
        return max(waits, key=lambda pair: pair[0], default=(0.0, None))

    @property
    def all_final_after(self) -> float:
        """Seconds from the end of the faults until the last planned run was final."""
        if self.lost:
            return math.inf
        ends = [r.final_at for r in self.planned if r.final_at is not None]
        latest = max(ends, default=self.faults_stopped)
        return max(0.0, (latest - self.faults_stopped).total_seconds())

    @property
    def slots_missing(self) -> int:
        return sum(max(0, c.expected - c.made) for c in self.schedules)

    def goals(self) -> list[tuple[str, str, bool]]:
        """(goal, measured, met) for each goal."""
        after = self.all_final_after
        return [
            ("0 runs executed more than once", str(len(self.executed_twice)),
             not self.executed_twice),
            ("0 runs lost (never final)", str(len(self.lost)), not self.lost),
            (f"every run final within {self.settle:g} s after the faults stop",
             "never" if math.isinf(after) else f"{after:.1f} s", after <= self.settle),
            ("0 runs CANCELLED (the soak cancels none)", str(len(self.cancelled)),
             not self.cancelled),
            ("0 triggers that made two runs", str(len(self.triggers_doubled)),
             not self.triggers_doubled),
            ("every healthy schedule kept its slots", f"{self.slots_missing} missing",
             self.slots_missing == 0),
            ("the bad schedule is marked in error",
             "yes" if self.doomed_error else "no", bool(self.doomed_error)),
        ]  # fmt: skip

    @property
    def met(self) -> bool:
        return all(met for _goal, _measured, met in self.goals())

    def table(self) -> str:
        longest, which = self.longest_wait
        rows = [
            ("runs planned", f"{len(self.planned)} ({self.scheduled} by schedules, "
             f"{self.triggered} by triggers)"),
            ("executed (by the notebooks' own lines)", str(len(self.executed))),
            ("executed more than once", str(len(self.executed_twice))),
            ("  of them ended before marked CRASHED",
             str(sum(1 for r in self.executed_twice if r.finished_before_crash()))),
            ("lost (never final)", str(len(self.lost))),
            (f"  of them PENDING or RUNNING, unchanged for {STUCK_AFTER:g} s", str(len(self.held))),
            ("  of them waiting for a worker (SCHEDULED, LATE)",
             str(sum(1 for r in self.lost if r.state in WAITING))),
            ("CRASHED and retried", str(len(self.retried))),
            ("  of them went on running after marked CRASHED", str(len(self.ran_on))),
            ("final without being executed", str(len(self.ended_unexecuted))),
            ("  of them COMPLETED", str(len(self.completed_unexecuted))),
            ("  of them CANCELLED", str(sum(1 for r in self.cancelled if not r.ends))),
            ("executed, but recorded as not COMPLETED", str(len(self.executed_not_completed))),
            ("longest time a run sat non-final", f"{longest:.1f} s"
             + (f" ({which.name}, {which.state})" if which else "")),
            ("all final after the faults stopped", "never" if math.isinf(self.all_final_after)
             else f"{self.all_final_after:.1f} s"),
            ("triggers the API refused", str(len(self.triggers_failed))),
            ("healthy schedules' slots: expected / made",
             f"{sum(c.expected for c in self.schedules)} / {sum(c.made for c in self.schedules)}"),
            ("bad schedule's error", (self.doomed_error or "none")[:70]),
            ("faults injected", ", ".join(f"{k} {n}" for k, n in sorted(self.faults.items()))),
            ("faults that failed to inject or undo", str(len(self.fault_errors))),
            ("kernels of killed workers alive at the end", str(self.orphan_kernels)),
            ("processes that exited before they had started", str(len(self.failed_starts))),
        ]  # fmt: skip
        width = max(len(name) for name, _ in rows)
        lines = [f"{name.ljust(width)}  {value}" for name, value in rows]
        lines += ["", "goal".ljust(width) + "  measured / met"]
        for goal, measured, met in self.goals():
            lines.append(f"{goal.ljust(width)}  {measured} / {'met' if met else 'FAILED'}")
        return "\n".join(lines)

    def details(self, limit: int = 5) -> str:
        """Timelines of the runs behind each failure (at most `limit` of each)."""
        parts = []
        for title, runs in [
            ("executed more than once", self.executed_twice),
            ("lost, PENDING or RUNNING and unchanged", self.held),
            ("lost, waiting for a worker", [r for r in self.lost if r.state in WAITING]),
            ("final without being executed", self.ended_unexecuted),
            ("executed, but recorded as not COMPLETED", self.executed_not_completed),
        ]:
            if runs:
                parts.append(f"== {title}: {len(runs)}, the first {min(limit, len(runs))}")
                parts += [run.describe() for run in runs[:limit]]
        for token, error in list(self.triggers_failed.items())[:limit]:
            parts.append(f"== trigger {token} failed: {error}")
        parts += [f"== fault error: {error}" for error in self.fault_errors]
        parts += [f"== failed start: {failure}" for failure in self.failed_starts[:limit]]
        if self.no_run_id:
            parts.append(f"== notebooks that knew no run id: {self.no_run_id[:limit]}")
        return "\n".join(parts)

    def write(self, folder: Path) -> None:
        """Every run's record, as JSON, beside the logs."""
        records = [{**asdict(run), "executions": len(run.ends)} for run in self.planned]
        (folder / "runs.json").write_text(json.dumps(records, default=str, indent=1))


def planned_runs(
    runs: list[RunRecord], triggered: dict[str, str | None], until: datetime
) -> tuple[list[RunRecord], list[str]]:
    """The planned runs (triggered ones, and those of schedule slots up to `until`) and
    the tokens of triggers that made more than one run."""
    per_token = Counter(r.trigger for r in runs if r.deployment == TRIGGERED)
    planned = [
        r for r in runs
        if (r.deployment == TRIGGERED and r.trigger in triggered)
        or (r.schedule_id is not None and r.slot is not None and r.slot <= until)
    ]  # fmt: skip
    return planned, sorted(token for token, n in per_token.items() if n > 1)


def as_dict(findings: Findings) -> dict[str, Any]:
    """The figures, for a machine (e.g. a benchmark's record)."""
    longest, _ = findings.longest_wait
    return {
        "planned": len(findings.planned),
        "executed": len(findings.executed),
        "executed_twice": len(findings.executed_twice),
        "lost": len(findings.lost),
        "crashed_and_retried": len(findings.retried),
        "longest_non_final_s": round(longest, 1),
        "faults": dict(findings.faults),
        "goals_met": findings.met,
    }

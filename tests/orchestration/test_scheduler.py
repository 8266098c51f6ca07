"""The scheduler on both back ends, with time given to it (no sleeping): runs ahead of
time, never twice per slot, late runs, catch-up after downtime, schedule changes, lease."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from support.deployments import deploy_hello

from nborch.client import LocalClient
from nborch.errors import ParameterError, ValidationError
from nborch.models import CatchUp, FlowRun, ScheduleSpec, StateType
from nborch.orchestration import claims, scheduler
from nborch.orchestration.leases import acquire_lease
from nborch.settings import get_settings
from nborch.store.tables import FlowRunRow, ScheduleRow

T0 = datetime(2030, 1, 7, 12, 0, 30, tzinfo=timezone.utc)  # a Monday, mid-minute
MINUTELY = ScheduleSpec(cron="* * * * *")


def waiting(client: LocalClient) -> list[FlowRun]:
    found = client.list_runs(states=[StateType.SCHEDULED, StateType.LATE], limit=10_000)
    return sorted(found, key=lambda run: run.scheduled_time)


def tick(client: LocalClient, now: datetime) -> scheduler.TickResult:
    return scheduler.tick(client.store, now)


def runs_per_deployment(client: LocalClient) -> dict[str | None, int]:
    """Runs made so far (whatever their state), per deployment."""
    return dict(Counter(r.deployment_name for r in client.list_runs(limit=10_000)))


def test_runs_are_made_ahead_up_to_the_horizon(client: LocalClient, pool: str) -> None:
    deploy_hello(client, pool, schedules=[MINUTELY], parameters={"times": 4})
    assert tick(client, T0).created == 10  # 600 s ahead, one a minute
    made = waiting(client)
    assert [r.scheduled_time for r in made] == [
        datetime(2030, 1, 7, 12, m, tzinfo=timezone.utc) for m in range(1, 11)
    ]
    assert all(r.parameters == {"times": 4} and r.schedule_id for r in made)
    assert tick(client, T0).created == 0  # nothing twice
    assert tick(client, T0 + timedelta(seconds=60)).created == 1  # the horizon moved on
    deployment = client.get_deployment("hello/demo")
    assert deployment.schedules[0].next_run_time == made[0].scheduled_time


def test_a_rare_schedule_still_shows_its_next_run(client: LocalClient, pool: str) -> None:
    deploy_hello(client, pool, cron="0 1 * * *", timezone="Europe/Paris")
    assert tick(client, T0).created == 1
    [run] = waiting(client)
    assert run.scheduled_time == datetime(2030, 1, 8, 0, 0, tzinfo=timezone.utc)  # 01:00 CET
    assert tick(client, T0 + timedelta(hours=1)).created == 0


def test_each_tick_is_capped(
    client: LocalClient, pool: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(get_settings(), "scheduler_max_runs", 7)
    deploy_hello(client, pool, interval=1)
    assert tick(client, T0).created == 7


def test_the_store_refuses_a_second_run_for_a_slot(client: LocalClient, pool: str) -> None:
    deploy_hello(client, pool, schedules=[MINUTELY])
    tick(client, T0)
    # A second scheduler that read the schedule before the first one's tick made its runs:
    with client.store.write() as session:
        session.execute(sa.text("UPDATE deployment_schedules SET next_slot = NULL"))
    assert tick(client, T0).created == 0
    assert len(waiting(client)) == 10
    [run, *_] = waiting(client)
    with pytest.raises(sa.exc.IntegrityError):
        with client.store.write() as session:
            original = session.get(FlowRunRow, str(run.id))
            assert original is not None
            session.add(
                FlowRunRow(
                    id="00000000-0000-0000-0000-000000000001",
                    name="dup",
                    flow_id=original.flow_id,
                    schedule_id=original.schedule_id,
                    slot_time=original.slot_time,
                    state="SCHEDULED",
                    state_message="",
                    parameters={},
                    job_variables={},
                    input_path="x",
                    run_count=0,
                    retries=0,
                    tags=[],
                    scheduled_time=original.scheduled_time,
                    created=T0,
                )
            )


def test_two_schedulers_ticking_at_once_make_each_run_once(client: LocalClient, pool: str) -> None:
    deploy_hello(client, pool, schedules=[MINUTELY, ScheduleSpec(interval_seconds=30)])
    errors: list[BaseException] = []

    def race() -> None:
        try:
            for _ in range(5):
                tick(client, T0)
        except BaseException as err:  # reported below
            errors.append(err)

    threads = [threading.Thread(target=race) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    slots = [(r.schedule_id, r.scheduled_time) for r in waiting(client)]
    assert len(slots) == len(set(slots)) == 10 + 20


def test_lease_lets_one_process_tick_and_another_take_over(client: LocalClient) -> None:
    ttl = 3 * get_settings().scheduler_interval
    assert acquire_lease(client.store, "scheduler", "a", ttl, T0)
    assert not acquire_lease(client.store, "scheduler", "b", ttl, T0 + timedelta(seconds=1))
    assert acquire_lease(client.store, "scheduler", "a", ttl, T0 + timedelta(seconds=2))
    assert scheduler.tick_if_leader(client.store, "b", T0 + timedelta(seconds=3)) is None
    later = T0 + timedelta(seconds=2 + ttl + 1)  # `a` died and stopped renewing
    assert scheduler.tick_if_leader(client.store, "b", later) is not None


def test_runs_that_wait_too_long_are_late_and_still_run(
    client: LocalClient, pool: str, worker_id: object
) -> None:
    deploy_hello(client, pool, schedules=[MINUTELY], catch_up=CatchUp.ALL)
    tick(client, T0)
    late_after = get_settings().late_after
    result = tick(client, T0 + timedelta(seconds=60 + late_after + 1))  # 12:01 is late now
    assert result.late == 1 and result.skipped == 0
    late = waiting(client)[0]
    assert late.state is StateType.LATE
    assert "Not started within" in late.state_message
    claimed = claims.claim_runs(
        client.store,
        pool,
        worker_id,
        1,  # type: ignore[arg-type]
        now=T0 + timedelta(seconds=120),
    )
    assert [r.id for r in claimed] == [late.id]


def _downtime(client: LocalClient, pool: str, catch_up: CatchUp) -> tuple[int, list[FlowRun]]:
    deploy_hello(client, pool, schedules=[MINUTELY], catch_up=catch_up)
    tick(client, T0)  # 12:01 .. 12:10 made; then a week with no scheduler and no worker
    back = T0 + timedelta(days=7)
    result = tick(client, back)
    due = [r for r in waiting(client) if r.scheduled_time <= back]
    return result.created, due


def test_after_downtime_only_the_latest_missed_run_runs(client: LocalClient, pool: str) -> None:
    created, due = _downtime(client, pool, CatchUp.LATEST)
    assert [r.scheduled_time for r in due] == [datetime(2030, 1, 14, 12, 0, tzinfo=timezone.utc)]
    skipped = client.list_runs(states=[StateType.CANCELLED], limit=100)
    assert len(skipped) == 10 and all("catch-up policy" in r.state_message for r in skipped)
    assert created == 1 + 10  # the latest missed slot, then the next ten


def test_after_downtime_all_missed_runs_run_up_to_the_cap(client: LocalClient, pool: str) -> None:
    created, due = _downtime(client, pool, CatchUp.ALL)
    cap = get_settings().scheduler_max_runs
    assert len(due) == 10 + cap  # the ten made before, and the newest `cap` missed slots
    assert created == cap + 10
    assert client.list_runs(states=[StateType.CANCELLED]) == []


def test_after_downtime_no_missed_run_runs(client: LocalClient, pool: str) -> None:
    created, due = _downtime(client, pool, CatchUp.NONE)
    assert due == [] and created == 10


def test_pausing_and_changing_schedules_drop_their_unstarted_runs(
    client: LocalClient, pool: str
) -> None:
    deploy_hello(client, pool, schedules=[MINUTELY])
    tick(client, T0)
    [schedule] = client.list_schedules("hello/demo")
    client.set_schedule_active("hello/demo", str(schedule.id), False)
    assert waiting(client) == []
    assert tick(client, T0).created == 0
    client.set_schedule_active("hello/demo", str(schedule.id), True)
    assert tick(client, T0).created == 10
    deploy_hello(client, pool, schedules=[MINUTELY])  # the same schedule: its runs stay
    assert len(waiting(client)) == 10
    deploy_hello(client, pool, cron="*/5 * * * *")  # changed: the old runs go
    assert waiting(client) == []
    assert tick(client, T0).created == 2  # 12:05 and 12:10
    client.set_deployment_paused("hello/demo", True)
    assert waiting(client) == [] and tick(client, T0).created == 0
    client.set_deployment_paused("hello/demo", False)
    assert tick(client, T0).created == 2
    new = client.create_schedule("hello/demo", ScheduleSpec(interval_seconds=300))
    client.delete_schedule("hello/demo", str(new.id))
    assert [s.cron for s in client.list_schedules("hello/demo")] == ["*/5 * * * *"]


def test_schedule_parameters_are_checked_and_passed(client: LocalClient, pool: str) -> None:
    deploy_hello(client, pool, parameters={"times": 2})
    with pytest.raises(ParameterError, match="'times'.*must be int"):
        client.create_schedule(
            "hello/demo", ScheduleSpec(cron="0 * * * *", parameters={"times": "x"})
        )
    with pytest.raises(ValidationError, match="minute must be 0-59"):
        client.create_schedule("hello/demo", ScheduleSpec(cron="61 * * * *"))
    with pytest.raises(ValidationError, match="either a cron expression or an interval"):
        client.create_schedule("hello/demo", ScheduleSpec())
    with pytest.raises(ValidationError, match="too short"):
        client.create_schedule("hello/demo", ScheduleSpec(interval_seconds=0.1))
    assert client.list_schedules("hello/demo") == []
    client.create_schedule(
        "hello/demo", ScheduleSpec(cron="0 * * * *", parameters={"name": "hourly"})
    )
    tick(client, T0)
    assert waiting(client)[0].parameters == {"times": 2, "name": "hourly"}


def test_a_tick_takes_the_soonest_schedules_and_leaves_the_rest_for_the_next(
    client: LocalClient, pool: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    deploy_hello(client, pool, "minutely", schedules=[MINUTELY])
    deploy_hello(client, pool, "five", cron="*/5 * * * *")
    assert tick(client, T0).created == 10 + 2  # next slots now 12:11 and 12:15
    # One run is a batch: a tick takes one whole schedule, the one due soonest.
    monkeypatch.setattr(get_settings(), "scheduler_batch", 1)
    later = T0 + timedelta(minutes=5)  # horizon 12:15:30: both due
    first = tick(client, later)
    assert (first.created, first.more) == (5, True)  # 12:11 .. 12:15 of "minutely"
    assert runs_per_deployment(client) == {"hello/minutely": 15, "hello/five": 2}
    second = tick(client, later)
    assert (second.created, second.more) == (1, False)  # 12:20 of "five"
    assert runs_per_deployment(client) == {"hello/minutely": 15, "hello/five": 3}
    assert (tick(client, later).created, tick(client, later).more) == (0, False)
    slots = [(r.schedule_id, r.scheduled_time) for r in client.list_runs(limit=10_000)]
    assert len(slots) == len(set(slots)) == 10 + 5 + 2 + 1


def test_new_schedules_come_first_and_every_due_one_is_served(
    client: LocalClient, pool: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(get_settings(), "scheduler_batch", 1)
    for name in ("a", "b", "c"):
        deploy_hello(client, pool, name, schedules=[MINUTELY])
    results = [tick(client, T0) for _ in range(4)]
    assert [(r.created, r.more) for r in results] == [
        (10, True),
        (10, True),
        (10, False),
        (0, False),
    ]
    deploy_hello(client, pool, "new", cron="0 * * * *")  # never planned: before the others
    later = tick(client, T0 + timedelta(minutes=1))
    assert (later.created, later.more) == (1, True)
    assert waiting(client)[-1].deployment_name == "hello/new"


def test_a_schedule_whose_times_cannot_be_computed_is_skipped_and_the_others_run(
    client: LocalClient, pool: str
) -> None:
    """As a store written before schedules were bounded may hold: an interval whose next
    time is past year 9999. It is marked in error with the reason; every other schedule
    keeps its runs; resuming it clears the error (and it fails again while still bad)."""
    deploy_hello(client, pool, name="bad", schedules=[ScheduleSpec(interval_seconds=3600)])
    deploy_hello(client, pool, name="good", schedules=[MINUTELY])
    with client.store.write() as session:  # past the checks at the edge, as old data is
        session.execute(sa.update(ScheduleRow).values(interval_seconds=1e12).where(
            ScheduleRow.id == str(client.get_deployment("hello/bad").schedules[0].id)
        ))  # fmt: skip
    for minute in range(3):
        assert tick(client, T0 + timedelta(minutes=minute)).created >= 1
    assert runs_per_deployment(client) == {"hello/good": 12}
    [bad] = client.list_schedules("hello/bad")
    assert bad.error and "OverflowError" in bad.error and "Change or delete" in bad.error
    [good] = client.list_schedules("hello/good")
    assert good.error is None
    resumed = client.set_schedule_active("hello/bad", str(bad.id), True)
    assert resumed.error is None
    tick(client, T0 + timedelta(minutes=5))
    assert client.list_schedules("hello/bad")[0].error


@pytest.mark.parametrize(
    ("spec", "says"),
    [
        (ScheduleSpec(interval_seconds=1e12), "too long"),
        (ScheduleSpec(interval_seconds=float("nan")), "not a number"),
        (ScheduleSpec(interval_seconds=float("inf")), "too long"),
        (ScheduleSpec(interval_seconds=0.5), "too short"),
        (ScheduleSpec(interval_seconds=60, anchor_date=datetime(1, 1, 1)), "Anchor"),
        (ScheduleSpec(interval_seconds=60, anchor_date=datetime(9999, 12, 31)), "Anchor"),
        (ScheduleSpec(cron="0 0 30 2 *"), "never fires"),
    ],
)
def test_schedules_out_of_range_are_refused_where_they_enter(
    client: LocalClient, pool: str, spec: ScheduleSpec, says: str
) -> None:
    deploy_hello(client, pool)
    with pytest.raises(ValidationError, match=says):
        client.create_schedule("hello/demo", spec)
    assert client.list_schedules("hello/demo") == []

"""Compute hours per pool, deployment and tag, and a pool's quota: runs beyond it are refused
at creation and not claimed; on both back ends."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import update
from support.deployments import deploy_hello

from nborch.client import LocalClient
from nborch.errors import QuotaExceededError, ValidationError
from nborch.models import FlowRun, PoolType, QuotaPeriod, StateType
from nborch.orchestration.quotas import period_bounds
from nborch.store.tables import FlowRunRow
from nborch.timeutil import utcnow

S = StateType


def _ran_for(client: LocalClient, run: FlowRun, worker: uuid.UUID, hours: float) -> None:
    """Claim the run, start it, pretend it started `hours` ago, and finish it."""
    [claimed] = client.claim_runs(run.pool_name or "", worker, 1)
    assert claimed.id == run.id
    client.set_state(run.id, S.RUNNING)
    with client.store.write() as session:
        session.execute(
            update(FlowRunRow)
            .where(FlowRunRow.id == str(run.id))
            .values(start_time=utcnow() - timedelta(hours=hours))
        )
    client.set_state(run.id, S.COMPLETED)


def test_usage_per_pool_deployment_and_tag(client: LocalClient) -> None:
    client.create_pool("etl", "process")
    client.create_pool("managed", "nborch:managed", quota_hours=10, quota_period="week")
    deploy_hello(client, "etl", name="daily", tags=["team-a"])
    deploy_hello(client, "managed", name="adhoc", tags=["team-a", "gpu"])
    etl_worker = client.register_worker("w-etl", "etl").id
    managed_worker = client.register_worker("w-managed", "managed").id
    _ran_for(client, client.create_run("hello/daily"), etl_worker, 1.5)
    _ran_for(client, client.create_run("hello/daily", tags=["urgent"]), etl_worker, 0.5)
    _ran_for(client, client.create_run("hello/adhoc"), managed_worker, 2.0)
    client.create_run("hello/adhoc")  # never ran: no hours

    report = client.usage()
    pools = {p.name: p for p in report.pools}
    assert (pools["etl"].runs, pools["etl"].hours) == (2, pytest.approx(2.0, abs=0.01))
    assert pools["etl"].quota_hours is None and pools["etl"].quota_used_hours is None
    managed = pools["managed"]
    assert managed.type is PoolType.MANAGED
    assert (managed.runs, managed.hours) == (1, pytest.approx(2.0, abs=0.01))
    assert (managed.quota_hours, managed.quota_period) == (10, QuotaPeriod.WEEK)
    assert managed.quota_used_hours == pytest.approx(2.0, abs=0.01)
    assert managed.quota_resets == period_bounds(QuotaPeriod.WEEK, utcnow())[1]
    deployments = {e.name: (e.runs, round(e.hours, 1)) for e in report.deployments}
    assert deployments == {"hello/daily": (2, 2.0), "hello/adhoc": (1, 2.0)}
    tags = {e.name: (e.runs, round(e.hours, 1)) for e in report.tags}
    assert tags == {"team-a": (3, 4.0), "gpu": (1, 2.0), "urgent": (1, 0.5)}

    only = client.usage(pool_name="managed")
    assert [p.name for p in only.pools] == ["managed"]
    assert [e.name for e in only.deployments] == ["hello/adhoc"]
    earlier = client.usage(until=utcnow() - timedelta(days=40))
    assert all(p.runs == 0 for p in earlier.pools)


def test_a_running_run_counts_up_to_now_and_every_attempt_counts(client: LocalClient) -> None:
    client.create_pool("etl", "process")
    deploy_hello(client, "etl", name="daily", retries=1)
    worker = client.register_worker("w", "etl").id
    run = client.create_run("hello/daily")
    client.claim_runs("etl", worker, 1)
    client.set_state(run.id, S.RUNNING)
    with client.store.write() as session:
        session.execute(
            update(FlowRunRow)
            .where(FlowRunRow.id == str(run.id))
            .values(start_time=utcnow() - timedelta(hours=1))
        )
    assert client.usage().pools[0].hours == pytest.approx(1.0, abs=0.01)
    assert client.set_state(run.id, S.FAILED, "boom").state is S.SCHEDULED  # retried
    _ran_for(client, run, worker, 0.25)
    assert client.usage().pools[0].hours == pytest.approx(1.25, abs=0.01)


def test_runs_beyond_the_quota_are_refused_and_not_claimed(client: LocalClient) -> None:
    client.create_pool("managed", "nborch:managed", quota_hours=1, quota_period="day")
    deploy_hello(client, "managed", name="adhoc")
    worker = client.register_worker("w", "managed").id
    waiting = client.create_run("hello/adhoc", scheduled_time=utcnow() + timedelta(hours=1))
    _ran_for(client, client.create_run("hello/adhoc"), worker, 1.2)
    with pytest.raises(QuotaExceededError) as refused:
        client.create_run("hello/adhoc")
    message = str(refused.value)
    for words in (
        "Work pool 'managed'",
        "used 1.20 of its 1 compute hours this day",
        "nborch work-pool set-quota managed HOURS",
        "nborch work-pool usage --pool managed",
    ):
        assert words in message
    # A run made before (e.g. by the scheduler) waits: nothing is claimed over the quota.
    with client.store.write() as session:
        session.execute(
            update(FlowRunRow)
            .where(FlowRunRow.id == str(waiting.id))
            .values(scheduled_time=utcnow())
        )
    assert client.claim_runs("managed", worker, 5) == []
    client.update_pool("managed", quota_hours=5)
    assert [r.id for r in client.claim_runs("managed", worker, 5)] == [waiting.id]
    client.update_pool("managed", quota_hours=None)
    assert client.get_pool("managed").quota_hours is None
    client.create_run("hello/adhoc")


def test_quota_input_is_checked(client: LocalClient) -> None:
    with pytest.raises(ValidationError, match="above 0"):
        client.create_pool("p", "process", quota_hours=-1)
    with pytest.raises(ValidationError, match="Unknown quota period 'year'"):
        client.create_pool("p", "process", quota_hours=1, quota_period="year")
    client.create_pool("p", "process")
    with pytest.raises(ValidationError, match="above 0"):
        client.update_pool("p", quota_hours=0)
    pool = client.update_pool("p", quota_hours=3, quota_period="week")
    assert (pool.quota_hours, pool.quota_period) == (3, QuotaPeriod.WEEK)
    assert client.update_pool("p", description="x").quota_hours == 3


@pytest.mark.parametrize(
    ("period", "now", "start", "end"),
    [
        ("day", "2026-03-04T15:00", "2026-03-04T00:00", "2026-03-05T00:00"),
        ("week", "2026-03-04T15:00", "2026-03-02T00:00", "2026-03-09T00:00"),  # Wed: from Mon
        ("month", "2026-12-31T23:59", "2026-12-01T00:00", "2027-01-01T00:00"),
    ],
)
def test_quota_periods_are_utc_calendar_periods(
    period: str, now: str, start: str, end: str
) -> None:
    def utc(text: str) -> datetime:
        return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)

    assert period_bounds(QuotaPeriod(period), utc(now)) == (utc(start), utc(end))

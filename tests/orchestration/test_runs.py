"""Flow runs on both back ends: creation checks, claims under limits, the state machine,
cancellation, crash detection and retries, logs."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa
from support.deployments import deploy_hello

from nborch.client import LocalClient
from nborch.errors import ConflictError, NotFoundError, ParameterError, ValidationError
from nborch.models import StateType as S
from nborch.orchestration import claims, crash_detection
from nborch.settings import get_settings
from nborch.store.tables import FlowRunRow
from nborch.timeutil import utcnow


def states(client: LocalClient, run_id: uuid.UUID) -> list[str]:
    return [h.type.value for h in client.get_run(run_id).history]


def test_create_run_merges_parameters_and_job_variables(client: LocalClient, pool: str) -> None:
    deploy_hello(client, pool, parameters={"times": 5}, job_variables={"env": {"A": "1"}})
    run = client.create_run(
        "hello/demo", parameters={"name": "Ada"}, job_variables={"execution_timeout": 30}
    )
    assert run.state is S.SCHEDULED
    assert run.parameters == {"times": 5, "name": "Ada"}
    assert run.job_variables == {"env": {"A": "1"}, "execution_timeout": 30}
    assert run.input_path.endswith("notebooks/hello.ipynb")
    assert run.output_path and run.output_path.endswith(f"{run.id}/output.ipynb")
    assert (run.pool_name, run.queue_name, run.deployment_name) == (pool, "default", "hello/demo")


def test_bad_runs_are_refused_before_anything_is_stored(client: LocalClient, pool: str) -> None:
    deploy_hello(client, pool)
    with pytest.raises(ParameterError, match="has no parameter 'nope'.*times \\(int\\)"):
        client.create_run("hello/demo", parameters={"nope": 1})
    with pytest.raises(ParameterError, match="'times'.*must be int"):
        client.create_run("hello/demo", parameters={"times": "3"})
    with pytest.raises(ValidationError, match="Job variable 'cpu'"):
        client.create_run("hello/demo", job_variables={"cpu": 2})
    with pytest.raises(NotFoundError, match="Deployment 'hello/other' not found"):
        client.create_run("hello/other")
    with pytest.raises(ValidationError, match="FLOW/DEPLOYMENT"):
        client.create_run("hello")
    assert client.list_runs() == []


def test_claim_hands_each_due_run_to_one_worker(client: LocalClient, pool: str) -> None:
    deploy_hello(client, pool)
    due = [client.create_run("hello/demo") for _ in range(3)]
    client.create_run("hello/demo", scheduled_time=utcnow() + timedelta(hours=1))
    first = client.register_worker("w1", pool).id
    second = client.register_worker("w2", pool).id
    got = client.claim_runs(pool, first, 2)
    assert len(got) == 2 and all(r.state is S.PENDING and r.worker_id == first for r in got)
    rest = client.claim_runs(pool, second, 10)
    assert len(rest) == 1  # the future run is not due
    assert {r.id for r in got} | {r.id for r in rest} == {r.id for r in due}
    assert client.claim_runs(pool, first, 10) == []


def test_pool_queue_and_deployment_limits_hold(
    client: LocalClient, pool: str, worker_id: uuid.UUID
) -> None:
    deploy_hello(client, pool, concurrency_limit=2)
    for _ in range(5):
        client.create_run("hello/demo")
    assert len(client.claim_runs(pool, worker_id, 10)) == 2  # deployment limit
    client.update_pool(pool, concurrency_limit=1)
    assert client.claim_runs(pool, worker_id, 10) == []  # pool is over its limit
    client.update_pool(pool, concurrency_limit=None)
    client.update_queue(pool, "default", concurrency_limit=2)
    assert client.claim_runs(pool, worker_id, 10) == []  # queue limit reached too
    held = client.list_runs(states=[S.PENDING])
    client.set_state(held[0].id, S.RUNNING)
    client.set_state(held[0].id, S.COMPLETED)
    assert len(client.claim_runs(pool, worker_id, 10)) == 1  # a slot came free


def test_paused_pool_queue_and_deployment_start_nothing(
    client: LocalClient, pool: str, worker_id: uuid.UUID
) -> None:
    deploy_hello(client, pool)
    client.create_run("hello/demo")
    client.update_pool(pool, paused=True)
    assert client.claim_runs(pool, worker_id, 5) == []
    client.update_pool(pool, paused=False)
    client.set_deployment_paused("hello/demo", True)
    assert client.claim_runs(pool, worker_id, 5) == []
    client.set_deployment_paused("hello/demo", False)
    client.update_queue(pool, "default", paused=True)
    assert client.claim_runs(pool, worker_id, 5) == []
    client.update_queue(pool, "default", paused=False)
    assert len(client.claim_runs(pool, worker_id, 5)) == 1


def test_higher_priority_queue_is_served_first(
    client: LocalClient, pool: str, worker_id: uuid.UUID
) -> None:
    client.create_queue(pool, "urgent", priority=1)
    client.update_queue(pool, "default", priority=2)
    deploy_hello(client, pool, name="slow")
    deploy_hello(client, pool, name="fast", work_queue_name="urgent")
    client.create_run("hello/slow")
    urgent = client.create_run("hello/fast")
    assert [r.id for r in client.claim_runs(pool, worker_id, 1)] == [urgent.id]


def test_claims_go_by_priority_then_time_across_queues_and_states(
    client: LocalClient, pool: str, worker_id: uuid.UUID
) -> None:
    client.create_queue(pool, "a", priority=1)
    client.create_queue(pool, "b", priority=1)  # as urgent as "a": the two by time
    client.update_queue(pool, "default", priority=2)
    for name, queue in (("da", "a"), ("db", "b"), ("dd", "default")):
        deploy_hello(client, pool, name=name, work_queue_name=queue)
    now = utcnow()

    def run(deployment: str, seconds_ago: int) -> uuid.UUID:
        at = now - timedelta(seconds=seconds_ago)
        return client.create_run(f"hello/{deployment}", scheduled_time=at).id

    late, b, a, low, orphan = (
        run("da", 30),
        run("db", 20),
        run("da", 10),
        run("dd", 40),
        run("dd", 50),
    )
    with client.store.write() as session:  # one LATE, one whose queue was deleted
        session.execute(
            sa.update(FlowRunRow).where(FlowRunRow.id == str(late)).values(state="LATE")
        )
        session.execute(
            sa.update(FlowRunRow).where(FlowRunRow.id == str(orphan)).values(queue_id=None)
        )
    order = [client.claim_runs(pool, worker_id, 1)[0].id for _ in range(5)]
    assert order == [late, b, a, low, orphan]
    assert client.claim_runs(pool, worker_id, 1) == []


def test_every_state_change_is_stored_with_its_time(
    client: LocalClient, pool: str, worker_id: uuid.UUID
) -> None:
    deploy_hello(client, pool)
    run = client.create_run("hello/demo")
    client.claim_runs(pool, worker_id, 1)
    client.set_state(run.id, S.RUNNING)
    done = client.set_state(run.id, S.COMPLETED)
    assert [h.type for h in done.history] == [S.SCHEDULED, S.PENDING, S.RUNNING, S.COMPLETED]
    times = [h.timestamp for h in done.history]
    assert times == sorted(times) and all(t.tzinfo is not None for t in times)
    assert done.start_time and done.end_time and done.run_count == 1
    with pytest.raises(ConflictError, match="is COMPLETED and cannot become RUNNING"):
        client.set_state(run.id, S.RUNNING)


def test_cancel(client: LocalClient, pool: str, worker_id: uuid.UUID) -> None:
    deploy_hello(client, pool)
    waiting = client.create_run("hello/demo")
    assert client.cancel_run(waiting.id).state is S.CANCELLED
    running = client.create_run("hello/demo")
    client.claim_runs(pool, worker_id, 1)
    client.set_state(running.id, S.RUNNING)
    assert client.cancel_run(running.id).state is S.CANCELLING
    held = client.held_runs(worker_id)
    assert [(r.id, r.state) for r in held] == [(running.id, S.CANCELLING)]
    assert client.set_state(running.id, S.CANCELLED).state is S.CANCELLED
    with pytest.raises(ConflictError, match="already CANCELLED"):
        client.cancel_run(running.id)


def test_orphaned_runs_crash_and_are_retried(client: LocalClient, pool: str) -> None:
    deploy_hello(client, pool, retries=1)
    run = client.create_run("hello/demo")
    worker = client.register_worker("doomed", pool).id
    client.claim_runs(pool, worker, 1)
    client.set_state(run.id, S.RUNNING)
    assert crash_detection.crash_orphaned_runs(client.store) == []  # its worker is alive
    later = utcnow() + timedelta(seconds=get_settings().worker_timeout + 5)
    assert crash_detection.crash_orphaned_runs(client.store, now=later) == [str(run.id)]
    retried = client.get_run(run.id)
    assert [h.type for h in retried.history][-2:] == [S.CRASHED, S.SCHEDULED]
    assert "stopped heartbeating" in retried.history[-2].message
    # Held for its worker a while (it may only be cut off), then another may take it.
    assert retried.state is S.SCHEDULED and retried.worker_id == worker
    assert "held until" in retried.history[-1].message
    rescuer = client.register_worker("rescuer", pool).id
    assert claims.claim_runs(client.store, pool, rescuer, 1, now=later) == []
    hold = crash_detection.SILENCE_HOLD_TIMEOUTS * get_settings().worker_timeout
    after_hold = later + timedelta(seconds=hold + 1)
    taken = claims.claim_runs(client.store, pool, rescuer, 1, now=after_hold)
    assert [r.id for r in taken] == [run.id]
    # The second attempt fails: no retries left, so it stays FAILED.
    client.set_state(run.id, S.RUNNING)
    final = client.set_state(run.id, S.FAILED, "boom")
    assert final.state is S.FAILED and final.run_count == 2


def test_run_that_never_started_is_rescheduled_when_its_worker_dies(
    client: LocalClient, pool: str
) -> None:
    deploy_hello(client, pool)  # no retries
    run = client.create_run("hello/demo")
    worker = client.register_worker("doomed", pool).id
    client.claim_runs(pool, worker, 1)
    client.heartbeat(worker, stopped=True)
    crash_detection.crash_orphaned_runs(client.store)
    assert client.get_run(run.id).state is S.SCHEDULED


def test_logs_are_kept_in_order(client: LocalClient, pool: str) -> None:
    deploy_hello(client, pool)
    run = client.create_run("hello/demo")
    client.append_logs(run.id, ["one", "two"])
    client.append_logs(run.id, ["three"])
    lines = client.read_logs(run.id)
    assert [line.message for line in lines] == ["one", "two", "three"]
    assert [line.message for line in client.read_logs(run.id, after=lines[1].seq)] == ["three"]
    with pytest.raises(NotFoundError):
        client.read_logs(uuid.uuid4())


def test_next_run_time_skips_runs_within_the_lookahead(client: LocalClient, pool: str) -> None:
    deploy_hello(client, pool)
    now = utcnow()
    soon = client.create_run("hello/demo", scheduled_time=now + timedelta(seconds=2))
    later = client.create_run("hello/demo", scheduled_time=now + timedelta(seconds=10))
    assert claims.next_run_time(client.store, pool, now=now) == soon.scheduled_time
    # A worker with --prestart 3 was offered `soon` by its last claim: it sleeps for `later`.
    assert claims.next_run_time(client.store, pool, lookahead=3, now=now) == later.scheduled_time
    assert claims.next_run_time(client.store, pool, lookahead=60, now=now) is None


def test_next_run_time_is_the_soonest_waiting_run_late_or_scheduled(
    client: LocalClient, pool: str
) -> None:
    deploy_hello(client, pool)
    now = utcnow()
    times = {k: now + timedelta(seconds=k) for k in (1, 5, 10)}
    runs = {k: client.create_run("hello/demo", scheduled_time=t) for k, t in times.items()}
    with client.store.write() as session:  # states as another clock would have made them
        for k, state in ((1, S.RUNNING), (5, S.LATE)):
            session.execute(
                sa.update(FlowRunRow)
                .where(FlowRunRow.id == str(runs[k].id))
                .values(state=state.value)
            )
    assert claims.next_run_time(client.store, pool, now=now) == times[5]
    assert claims.next_run_time(client.store, pool, lookahead=6, now=now) == times[10]


def test_output_notebook_is_stored_and_read_whole(client: LocalClient, pool: str) -> None:
    deploy_hello(client, pool)
    run = client.create_run("hello/demo")
    assert client.read_output_notebook(run.id) is None  # nothing written yet
    notebook = {"cells": [{"cell_type": "code", "source": "x = 1"}], "metadata": {}}
    client.write_output_notebook(run.id, {**notebook, "nbformat": 4, "nbformat_minor": 5})
    assert client.read_output_notebook(run.id) == {**notebook, "nbformat": 4, "nbformat_minor": 5}
    with pytest.raises(ValidationError, match="not a notebook"):
        client.write_output_notebook(run.id, {"cells": "nope"})
    assert client.read_output_notebook(run.id)["cells"] == notebook["cells"]  # type: ignore[index]

"""Work pools and queues on both back ends: creation, errors, status from heartbeats."""

from __future__ import annotations

from datetime import timedelta

import pytest
from support.deployments import deploy_hello

from nborch.client import LocalClient
from nborch.errors import AlreadyExistsError, ConflictError, NotFoundError, ValidationError
from nborch.models import PoolStatus, PoolType
from nborch.orchestration import pools
from nborch.settings import get_settings
from nborch.timeutil import utcnow


def test_create_pool_makes_a_default_queue(client: LocalClient) -> None:
    pool = client.create_pool("etl", "process", description="nightly", concurrency_limit=3)
    assert (pool.name, pool.type, pool.description, pool.concurrency_limit) == (
        "etl",
        PoolType.PROCESS,
        "nightly",
        3,
    )
    assert pool.status is PoolStatus.NOT_READY
    assert "variables" in pool.base_job_template
    assert [q.name for q in client.list_queues("etl")] == ["default"]


def test_duplicate_unknown_and_bad_pools_are_refused(client: LocalClient) -> None:
    client.create_pool("etl", "process")
    with pytest.raises(AlreadyExistsError, match="Work pool 'etl' already exists"):
        client.create_pool("etl", "process")
    with pytest.raises(ValidationError, match="Unknown work pool type 'gpu'.*process"):
        client.create_pool("other", "gpu")
    with pytest.raises(ValidationError, match="not allowed"):
        client.create_pool("../etc", "process")
    with pytest.raises(NotFoundError, match="nborch work-pool create nope"):
        client.get_pool("nope")
    assert [p.name for p in client.list_pools()] == ["etl"]


def test_status_follows_heartbeats_and_pause(client: LocalClient) -> None:
    client.create_pool("etl", "process")
    worker = client.register_worker("w1", "etl")
    assert client.get_pool("etl").status is PoolStatus.READY
    assert client.get_pool("etl").workers_online == 1
    later = utcnow() + timedelta(seconds=get_settings().worker_timeout + 1)
    assert pools.get_pool(client.store, "etl", now=later).status is PoolStatus.NOT_READY
    assert pools.list_pools(client.store, now=later)[0].status is PoolStatus.NOT_READY
    client.update_pool("etl", paused=True)
    assert client.get_pool("etl").status is PoolStatus.PAUSED
    client.update_pool("etl", paused=False)
    client.heartbeat(worker.id, stopped=True)
    assert client.get_pool("etl").status is PoolStatus.NOT_READY


def test_concurrency_limit_set_and_cleared(client: LocalClient) -> None:
    client.create_pool("etl", "process")
    assert client.update_pool("etl", concurrency_limit=2).concurrency_limit == 2
    assert client.update_pool("etl", description="x").concurrency_limit == 2  # left as it was
    assert client.update_pool("etl", concurrency_limit=None).concurrency_limit is None
    with pytest.raises(ValidationError, match="whole number"):
        client.update_pool("etl", concurrency_limit=-1)


def test_delete_pool_refused_while_deployments_use_it(client: LocalClient) -> None:
    client.create_pool("etl", "process")
    deploy_hello(client, "etl")
    with pytest.raises(ConflictError, match="still has 1 deployment"):
        client.delete_pool("etl")
    client.delete_deployment("hello/demo")
    client.delete_pool("etl")
    assert client.list_pools() == []


def test_queues(client: LocalClient) -> None:
    client.create_pool("etl", "process")
    client.create_queue("etl", "urgent", priority=1, concurrency_limit=1)
    client.create_queue("etl", "bulk", priority=5)
    with pytest.raises(AlreadyExistsError):
        client.create_queue("etl", "bulk")
    with pytest.raises(ValidationError, match="priority"):
        client.create_queue("etl", "bad", priority=0)
    assert [q.name for q in client.list_queues("etl")] == ["default", "urgent", "bulk"]
    assert client.update_queue("etl", "bulk", paused=True).paused
    with pytest.raises(ConflictError, match="default queue"):
        client.delete_queue("etl", "default")
    client.delete_queue("etl", "bulk")
    with pytest.raises(NotFoundError, match="Work queue 'bulk' not found"):
        client.update_queue("etl", "bulk", paused=False)


def test_base_job_template_is_checked(client: LocalClient) -> None:
    with pytest.raises(ValidationError, match="job_configuration"):
        client.create_pool("etl", "process", base_job_template={"variables": {}})
    template = {
        "job_configuration": {"env": "{{ env }}"},
        "variables": {"type": "object", "properties": {"env": {"type": "object", "default": {}}}},
    }
    pool = client.create_pool("etl", "process", base_job_template=template)
    assert pool.base_job_template == template


def test_a_template_whose_defaults_make_no_job_of_the_pool_type_is_refused(
    client: LocalClient,
) -> None:
    # A valid schema, but its default `env` is text: no run of the pool could start.
    template = {
        "job_configuration": {"env": "{{ env }}"},
        "variables": {
            "type": "object",
            "properties": {"env": {"type": "string", "default": "A=1"}},
        },
    }
    with pytest.raises(ValidationError) as caught:
        client.create_pool("etl", "process", base_job_template=template)
    message = str(caught.value)
    assert "work pool 'etl' (its defaults) does not fit its pool type (env: " in message
    assert "nborch work-pool get-default-base-job-template" in message
    client.create_pool("etl", "process")
    with pytest.raises(ValidationError, match="work pool 'etl' \\(its defaults\\)"):
        client.update_pool("etl", base_job_template=template)
    assert client.get_pool("etl").base_job_template["job_configuration"]["env"] == "{{ env }}"
    assert "env" in client.get_pool("etl").base_job_template["variables"]["properties"]
    assert client.get_pool("etl").base_job_template != template

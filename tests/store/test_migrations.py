"""Schema migrations: a store made by an older version upgrades in place, losing nothing;
the newest migration matches the tables the code uses."""

from __future__ import annotations

import threading
import uuid

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from nborch.client import LocalClient
from nborch.models import StateType
from nborch.store import migrate
from nborch.store.engine import Store, close_stores, open_store
from nborch.store.tables import Base
from nborch.timeutil import utcnow


def test_head_revision_constant_matches_the_scripts() -> None:
    config = migrate._alembic_config(None)  # type: ignore[arg-type]
    assert ScriptDirectory.from_config(config).get_current_head() == migrate.HEAD_REVISION


def test_migrated_schema_matches_the_tables(database_url: str) -> None:
    store = open_store(database_url)
    with store.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert diff == []


def test_a_store_from_version_0001_upgrades_and_keeps_its_rows(database_url: str) -> None:
    old = Store(database_url)
    migrate.upgrade(old, "0001_initial")
    now = utcnow()
    pool_id, flow_id, dep_id, run_id = (str(uuid.uuid4()) for _ in range(4))
    with old.engine.begin() as c:
        c.execute(
            sa.text(
                "INSERT INTO work_pools (id, name, type, description, base_job_template, "
                "concurrency_limit, paused, created) VALUES (:id, 'legacy', 'process', 'old pool', "
                "'{}', 2, false, :now)"
            ),
            {"id": pool_id, "now": now.replace(tzinfo=None)},
        )
        c.execute(
            sa.text("INSERT INTO flows (id, name, created) VALUES (:id, 'hello', :now)"),
            {"id": flow_id, "now": now.replace(tzinfo=None)},
        )
        c.execute(
            sa.text(
                "INSERT INTO deployments (id, flow_id, name, source, entrypoint, parameter_specs, "
                "parameters, pool_id, job_variables, tags, description, paused, retries, created, "
                "updated) VALUES (:id, :flow, 'daily', '/nb', 'hello.ipynb', '[]', '{\"times\": 3}', "
                ":pool, '{}', '[\"t\"]', '', false, 0, :now, :now)"
            ),
            {"id": dep_id, "flow": flow_id, "pool": pool_id, "now": now.replace(tzinfo=None)},
        )
        c.execute(
            sa.text(
                "INSERT INTO flow_runs (id, name, flow_id, deployment_id, pool_id, state, "
                "state_message, parameters, job_variables, input_path, run_count, retries, tags, "
                "scheduled_time, created) VALUES (:id, 'daily-1', :flow, :dep, :pool, 'COMPLETED', "
                "'', '{\"times\": 3}', '{}', '/nb/hello.ipynb', 1, 0, '[]', :now, :now)"
            ),
            {
                "id": run_id,
                "flow": flow_id,
                "dep": dep_id,
                "pool": pool_id,
                "now": now.replace(tzinfo=None),
            },
        )
    old.dispose()
    close_stores()

    client = LocalClient(open_store(database_url))  # opening upgrades it
    pool = client.get_pool("legacy")
    assert (pool.description, pool.concurrency_limit) == ("old pool", 2)
    assert [q.name for q in client.list_queues("legacy")] == ["default"]
    deployment = client.get_deployment("hello/daily")
    assert (deployment.parameters, deployment.tags, deployment.queue_name) == (
        {"times": 3},
        ["t"],
        "default",
    )
    assert (deployment.catch_up.value, deployment.schedules) == ("latest", [])
    run = client.get_run(run_id)
    assert (run.state, run.parameters, run.queue_name) == (
        StateType.COMPLETED,
        {"times": 3},
        "default",
    )
    with client.store.engine.connect() as connection:
        assert migrate.current_revision(connection) == migrate.HEAD_REVISION


def test_concurrent_openers_migrate_once(database_url: str) -> None:
    errors: list[BaseException] = []

    def open_fresh() -> None:
        try:
            store = Store(database_url)
            migrate.ensure_schema_is_current(store)
            store.dispose()
        except BaseException as err:  # reported below
            errors.append(err)

    threads = [threading.Thread(target=open_fresh) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with Store(database_url).engine.connect() as connection:
        assert migrate.current_revision(connection) == migrate.HEAD_REVISION

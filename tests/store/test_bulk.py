"""Many rows in one statement, on each back end: they read back as the ORM would have
written them (times, JSON, NULLs), and time-ordered ids sort by time."""

from __future__ import annotations

import time
import uuid
from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from nborch.store.bulk import TIMESTAMP, for_each_row, time_ordered_id
from nborch.store.engine import open_store
from nborch.store.tables import FlowRow, WorkPoolRow

WHEN = datetime(2030, 1, 7, 12, 0, 30, 123456, tzinfo=timezone.utc)


def test_rows_go_in_in_one_statement_and_read_back_as_written(database_url: str) -> None:
    store = open_store(database_url)
    rows = [(str(uuid.uuid4()), f"flow-{i}", WHEN + timedelta(minutes=i)) for i in range(3)]
    with store.write() as session:
        made = for_each_row(
            session,
            "INSERT INTO flows (id, name, created) SELECT v.id, v.name, v.created FROM {rows}",
            {"id": "varchar", "name": "varchar", "created": TIMESTAMP},
            rows,
        )
        assert made.rowcount == 3
        assert for_each_row(session, "DELETE FROM flows WHERE id IN (SELECT v.id FROM {rows})",
                            {"id": "varchar"}, []).rowcount == 0  # fmt: skip
    with store.read() as session:
        found = {row.id: (row.name, row.created) for row in session.scalars(select(FlowRow))}
    assert found == {id_: (name, created) for id_, name, created in rows}


def test_json_nulls_and_bound_times(database_url: str) -> None:
    store = open_store(database_url)
    template = {"variables": {"x": [1, "two", None]}}
    with store.write() as session:
        for_each_row(
            session,
            "INSERT INTO work_pools (id, name, type, description, base_job_template, "
            "concurrency_limit, paused, created) "
            "SELECT v.id, v.name, 'process', '', v.template, v.cap, false, :now FROM {rows}",
            {"id": "varchar", "name": "varchar", "template": "json", "cap": "integer"},
            [(str(uuid.uuid4()), "a", template, None), (str(uuid.uuid4()), "b", {}, 3)],
            now=WHEN,
        )
    with store.read() as session:
        pools = {p.name: p for p in session.scalars(select(WorkPoolRow))}
    assert pools["a"].base_job_template == template and pools["a"].concurrency_limit is None
    assert pools["b"].base_job_template == {} and pools["b"].concurrency_limit == 3
    assert pools["a"].created == pools["b"].created == WHEN


def test_time_ordered_ids_are_version_7_uuids_in_time_order() -> None:
    first = [time_ordered_id() for _ in range(100)]
    time.sleep(0.002)
    later = time_ordered_id()
    for made in [*first, later]:
        parsed = uuid.UUID(made)
        assert (parsed.version, parsed.variant, str(parsed)) == (7, uuid.RFC_4122, made)
    assert max(first) < later
    assert len(set(first)) == len(first)

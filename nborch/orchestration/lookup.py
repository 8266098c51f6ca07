"""Finding rows by the names people use, with errors that say how to make them."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from nborch.errors import NotFoundError, ValidationError
from nborch.store.tables import (
    DeploymentRow,
    FlowRow,
    FlowRunRow,
    WorkPoolRow,
    WorkQueueRow,
)

DEFAULT_QUEUE = "default"


def pool_by_name(session: Session, name: str, *, for_update: bool = False) -> WorkPoolRow:
    query = select(WorkPoolRow).where(WorkPoolRow.name == name)
    if for_update:
        query = query.with_for_update()
    row = session.scalars(query).one_or_none()
    if row is None:
        raise NotFoundError(
            f"Work pool '{name}' not found. Create it with: nborch work-pool create {name} "
            "--type process"
        )
    return row


def queue_by_name(session: Session, pool: WorkPoolRow, name: str) -> WorkQueueRow:
    row = session.scalars(
        select(WorkQueueRow).where(WorkQueueRow.pool_id == pool.id, WorkQueueRow.name == name)
    ).one_or_none()
    if row is None:
        raise NotFoundError(
            f"Work queue '{name}' not found in pool '{pool.name}'. Create it with: "
            f"nborch work-queue create {name} --pool {pool.name}"
        )
    return row


def split_deployment_name(full_name: str) -> tuple[str, str]:
    flow_name, sep, name = full_name.partition("/")
    if not sep or not flow_name or not name:
        raise ValidationError(
            f"Deployment name {full_name!r} must be 'FLOW/DEPLOYMENT', e.g. 'hello/daily'. "
            "List them with: nborch deployment ls"
        )
    return flow_name, name


def deployment_by_name(session: Session, full_name: str) -> tuple[DeploymentRow, FlowRow]:
    flow_name, name = split_deployment_name(full_name)
    found = session.execute(
        select(DeploymentRow, FlowRow)
        .join(FlowRow, DeploymentRow.flow_id == FlowRow.id)
        .where(FlowRow.name == flow_name, DeploymentRow.name == name)
    ).one_or_none()
    if found is None:
        raise NotFoundError(
            f"Deployment '{full_name}' not found. List deployments with: nborch deployment ls"
        )
    return found[0], found[1]


def run_by_id(session: Session, run_id: str, *, for_update: bool = False) -> FlowRunRow:
    try:
        uuid.UUID(str(run_id))
    except ValueError:
        row = None
    else:
        query = select(FlowRunRow).where(FlowRunRow.id == str(run_id))
        if for_update:
            query = query.with_for_update()
        row = session.scalars(query).one_or_none()
    if row is None:
        raise NotFoundError(f"Flow run '{run_id}' not found. List runs with: nborch flow-run ls")
    return row

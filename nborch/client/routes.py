"""The HTTP API's contract: every operation, the client's and the server's own.

The client's operations are declared in `pool_operations`, `deployment_operations`,
`run_operations` and `alert_operations`; the few the server answers itself (health, the OpenAPI document, a run's
HTML, what the JupyterLab panel asks) are declared here. The server's handlers, the HTTP
transport, the OpenAPI document and the lab extension's types all read `ROUTES`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from nborch.client.alert_operations import AlertOperations
from nborch.client.deployment_operations import AppliedDeployment, DeploymentOperations
from nborch.client.operations import (
    ADMIN,
    ANY_KEY,
    API_PREFIX,
    IDEMPOTENCY_HEADER,
    MAX_BODY_BYTES,
    MAX_JSON_DEPTH,
    MAX_NOTEBOOK_BYTES,
    NAME_PATTERN,
    PUBLIC,
    READ,
    Access,
    Changes,
    Input,
    Name,
    NoInput,
    Operation,
    declare,
    operations_of,
    run_access,
)
from nborch.client.pool_operations import MAX_CLAIM_WAIT, PoolOperations
from nborch.client.run_operations import RunOperations, RunPath
from nborch.models import ParameterSpec

# An operation, as the server and the documents call it.
Route = Operation

# ---- what the JupyterLab panel asks ---------------------------------------------------------

# Notebook paths are relative to the server's folder.
NotebookPath = Field(min_length=1, max_length=4096)
CronExpression = Field(min_length=1, max_length=200)
TimeZone = Field(default="UTC", min_length=1, max_length=100)


class NotebookPathQuery(Input):
    path: str = NotebookPath


class CronPreviewQuery(Input):
    cron: str = CronExpression
    timezone: str = TimeZone
    count: int = Field(default=5, ge=1, le=50)


class DeployNotebook(Input):
    """Deploy the notebook at `path` (under the server's folder) as `flow_name/name`; its
    schedule is exactly `cron` (in `timezone`), or none without one."""

    path: str = NotebookPath
    name: str = Name
    pool_name: str = Name
    flow_name: str | None = Field(
        default=None, min_length=1, max_length=200, json_schema_extra={"pattern": NAME_PATTERN}
    )
    cron: str | None = Field(default=None, max_length=200)
    timezone: str = TimeZone
    parameters: dict[str, Any] = Field(default_factory=dict)
    job_variables: dict[str, Any] = Field(default_factory=dict)
    image: str | None = Field(default=None, min_length=1, max_length=400)
    build_image: bool = False  # build `image` from the notebook's folder (docker pools)
    description: str = Field(default="", max_length=10_000)


class StoreHealth(BaseModel):
    """Whether the server can read its store, and whether the store's schema is the one
    this nborch needs (`expected`); `error` says what is wrong and the fix, in one line."""

    reachable: bool = False
    revision: str | None = None  # the store's Alembic revision; None: unknown or no schema
    expected: str
    error: str | None = None


class Health(BaseModel):
    """`status` is "ok" (answered 200), or "error" (503) when the store cannot be read or
    its schema is not `store.expected`."""

    status: str
    version: str
    store: StoreHealth


class NotebookParameters(BaseModel):
    path: str
    flow_name: str  # the flow's name when deployed: from the notebook's file name
    parameters: list[ParameterSpec]


class CronPreview(BaseModel):
    cron: str  # as nborch reads it (spaces normalised, nicknames lower-cased)
    timezone: str
    times: list[datetime]  # the next fire times, aware UTC


# ---- the table ------------------------------------------------------------------------------

# fmt: off
# Answered by the server itself (`nborch.api.service.ApiService`), not by a client operation.
SERVER_ROUTES: list[Operation] = [
    declare(
        "GET", "/health", "health", PUBLIC,
        "Is the server up, can it read its store, is the store's schema current",
        response=Health,
    ),
    declare(
        "GET", "/openapi.json", "openapi", ANY_KEY, "This API's OpenAPI document",
        response=dict[str, Any],
    ),
    declare(
        "GET", "/flow-runs/{run_id}/output.html", "output_html", run_access(reads=True),
        "The run's output notebook as HTML", params=RunPath, response=str,
        content_type="text/html",
    ),
    declare(
        "GET", "/notebook-parameters", "notebook_parameters", ADMIN,
        "The parameters of a notebook in the server's folder (from its cell tagged parameters)",
        params=NotebookPathQuery, response=NotebookParameters,
    ),
    declare(
        "GET", "/cron-preview", "cron_preview", READ,
        "The next times of a cron expression in a time zone",
        params=CronPreviewQuery, response=CronPreview,
    ),
    declare(
        "POST", "/deploy-notebook", "deploy_notebook", ADMIN,
        "Deploy a notebook in the server's folder by its path",
        body=DeployNotebook, body_arg="request", response=AppliedDeployment,
    ),
]
# fmt: on

CLIENT_ROUTES: list[Operation] = [
    *operations_of(PoolOperations),
    *operations_of(DeploymentOperations),
    *operations_of(RunOperations),
    *operations_of(AlertOperations),
]
ROUTES: list[Operation] = [*SERVER_ROUTES, *CLIENT_ROUTES]
ROUTES_BY_OP: dict[str, Operation] = {route.name: route for route in ROUTES}
# Operations the server answers itself; every other route is a client method.
SERVER_OPS = frozenset(route.name for route in SERVER_ROUTES)

__all__ = [
    "API_PREFIX",
    "IDEMPOTENCY_HEADER",
    "MAX_BODY_BYTES",
    "MAX_CLAIM_WAIT",
    "MAX_JSON_DEPTH",
    "MAX_NOTEBOOK_BYTES",
    "ROUTES",
    "ROUTES_BY_OP",
    "SERVER_OPS",
    "StoreHealth",
    "Access",
    "AppliedDeployment",
    "Changes",
    "CronPreview",
    "DeployNotebook",
    "Health",
    "NoInput",
    "NotebookParameters",
    "Route",
]

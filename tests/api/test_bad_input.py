"""Bad requests get a 4xx that says what is wrong, never a 500, and never change the store:
malformed JSON, wrong types, huge payloads, unknown ids, path tricks in names. The whole API is
then fuzzed from its own OpenAPI document (schemathesis)."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Any
from unittest import mock

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from support.api import Server, store_snapshot
from support.deployments import deploy_hello

from nborch.api.openapi import build_openapi
from nborch.client.routes import MAX_BODY_BYTES, MAX_JSON_DEPTH, ROUTES
from nborch.errors import ValidationError
from nborch.models import ScheduleSpec


def _nested(depth: int) -> bytes:
    """A pool whose body nests `depth` deep: objects and arrays, and brackets in strings."""
    inner = '{"k": "[[{{", "v": ' * (depth - 2) + "[]" + "}" * (depth - 2)
    return f'{{"name": "deep", "type": "process", "parameters": {inner}}}'.encode()


DEPLOYMENT = {"flow_name": "hello", "name": "daily", "source": ".", "entrypoint": "hello.ipynb"}
RUN = {"deployment": "hello/daily"}
ANY_TEXT = mock.ANY


@pytest.fixture
def populated(sqlite_server: Server) -> Server:
    admin = sqlite_server.client()
    admin.create_pool("etl", "process")
    deploy_hello(admin, "etl", name="daily", cron="0 1 * * *")
    admin.create_run("hello/daily", parameters={"name": "Ada"})
    return sqlite_server


BAD_REQUESTS: list[tuple[str, str, Any, int, str]] = [
    # method, path, body (bytes: sent as is), status, words in the message
    ("POST", "/work-pools", b"{not json", 422, "not valid JSON"),
    ("POST", "/work-pools", b"\xff\xfe", 400, "not UTF-8"),
    ("POST", "/work-pools", b'{"name": "caf\xe9", "type": "process"}', 400, "not UTF-8"),
    ("POST", "/work-pools", b"[" * 3000 + b"]" * 3000, 422, f"{MAX_JSON_DEPTH} levels"),
    ("POST", "/work-pools", _nested(MAX_JSON_DEPTH + 1), 422, f"{MAX_JSON_DEPTH} levels"),
    ("POST", "/work-pools", b'{"a": "' + b"[" * 3000 + b'"}', 422, "body.name"),
    ("POST", "/work-pools", _nested(MAX_JSON_DEPTH), 422, "body.parameters"),
    ("POST", "/work-pools", [1, 2], 422, "body"),
    ("POST", "/work-pools", {"name": 7, "type": "process"}, 422, "body.name"),
    ("POST", "/work-pools", {"name": "p", "type": "process", "extra": 1}, 422, "body.extra"),
    ("POST", "/work-pools", {"name": "../etc", "type": "process"}, 422, "is not allowed"),
    ("POST", "/work-pools", {"name": "a\x00b", "type": "process"}, 422, "NUL"),
    (
        "POST",
        "/work-pools",
        {"name": "big", "type": "process", "concurrency_limit": 10**30},
        422,
        "fit",
    ),
    (
        "POST",
        "/work-pools",
        {"name": "neg", "type": "process", "concurrency_limit": -1},
        422,
        ">= 0",
    ),
    ("PATCH", "/work-pools/etl", {"paused": "maybe"}, 422, "body.paused"),
    ("GET", "/work-pools/..%2F..%2Fetc", None, 404, "not found"),
    ("GET", "/work-pools/nope", None, 404, "Work pool 'nope' not found"),
    ("DELETE", "/work-pools/nope", None, 404, "not found"),
    ("GET", "/flow-runs/not-a-uuid", None, 422, "UUID"),
    ("GET", f"/flow-runs/{uuid.uuid4()}", None, 404, "not found"),
    ("POST", f"/flow-runs/{uuid.uuid4()}/state", {"state": "RUNNING"}, 404, "not found"),
    (
        "POST",
        "/flow-runs",
        {"deployment": "hello/daily", "parameters": {"times": "x"}},
        422,
        "times",
    ),
    ("POST", "/flow-runs", {"deployment": "hello/daily", "parameters": {"nope": 1}}, 422, "nope"),
    ("POST", "/flow-runs", {"deployment": "hello/daily", "job_variables": {"cpu": 1}}, 422, "cpu"),
    ("GET", "/deployments/hello%2F..%2F..", None, 404, "not found"),
    ("GET", "/deployments/no-slash", None, 422, "FLOW/DEPLOYMENT"),
    ("POST", "/deployments/hello%2Fdaily/schedules", {"cron": "61 * * * *"}, 422, "61"),
    (
        "POST",
        "/deployments/hello%2Fdaily/schedules",
        {"cron": "0 1 * * *", "colour": "red"},
        422,
        "body.colour: unknown field, which create_schedule does not take: remove it",
    ),
    ("PUT", "/deployments", {**DEPLOYMENT, "colour": "red"}, 422, "body.colour: unknown field"),
    (
        "PUT",
        "/deployments",
        {**DEPLOYMENT, "schedules": [{"cron": "0 1 * * *", "colour": "red"}]},
        422,
        "body.schedules.0.colour: unknown field, which apply_deployment",
    ),
    (
        "PUT",
        "/deployments",
        {**DEPLOYMENT, "parameter_specs": [{"name": "x", "kind": "int"}]},
        422,
        "body.parameter_specs.0.kind: unknown field",
    ),
    ("POST", "/flow-runs", {**RUN, "scheduled_time": "2026-01-01T09:00:00"}, 422, "+00:00"),
    ("POST", "/flow-runs", {**RUN, "scheduled_time": "0001-01-01T00:00:00+00:00"}, 422, "1970"),
    ("POST", "/flow-runs", {**RUN, "scheduled_time": "9999-12-31T23:59:59+00:00"}, 422, "2200"),
    ("POST", "/flow-runs", {**RUN, "scheduled_time": "9999-12-31T23:59:59-05:00"}, 422, "2200"),
    (
        "POST",
        "/deployments/hello%2Fdaily/schedules",
        {"interval_seconds": 60, "anchor_date": "0001-01-01T00:00:00+00:00"},
        422,
        "years 1970 to 2200",
    ),
    (
        "POST",
        "/deployments/hello%2Fdaily/schedules",
        {"interval_seconds": 60, "anchor_date": "9999-12-31T23:59:59-05:00"},
        422,
        "years 1970 to 2200",
    ),
    (
        "PUT",
        "/deployments",
        {
            **DEPLOYMENT,
            "schedules": [{"interval_seconds": 60, "anchor_date": "9999-12-31T00:00:00"}],
        },
        422,
        "years 1970 to 2200",
    ),
    ("GET", "/usage?since=2026-01-01T00:00:00", None, 422, "query.since"),
    ("GET", "/usage?since=0001-01-01T00:00:00%2B00:00", None, 422, "1970"),
    ("GET", "/usage?until=9999-12-31T23:59:59Z", None, 422, "2200"),
    ("GET", "/flow-runs?limit=-5", None, 422, "query.limit"),
    ("GET", "/flow-runs?states=SLEEPING", None, 422, "query.states"),
    ("GET", "/flow-runs?colour=red", None, 422, "Unknown query parameter 'colour'"),
    ("GET", "/work-pools", b"{}", 422, "takes no request body"),
    ("PUT", "/work-pools", {}, 405, "not offered"),
    ("POST", "/work-pools", b"x" * (MAX_BODY_BYTES + 1), 413, "at most"),
]


@pytest.mark.parametrize("method, path, body, status, words", BAD_REQUESTS)
def test_bad_request_is_refused_clearly_and_changes_nothing(
    populated: Server, method: str, path: str, body: Any, status: int, words: str
) -> None:
    before = store_snapshot(populated)
    headers = {"Authorization": f"Bearer {populated.admin_key}"}
    if isinstance(body, bytes):
        answer = httpx.request(
            method, populated.url + "/api/v1" + path, content=body, headers=headers
        )
    else:
        answer = httpx.request(method, populated.url + "/api/v1" + path, json=body, headers=headers)
    assert answer.status_code == status, answer.text
    error = answer.json()["error"]
    assert words in error["message"], error
    assert store_snapshot(populated) == before


def test_output_notebooks_may_be_large_but_not_unbounded(populated: Server) -> None:
    run = populated.local.list_runs()[0]
    admin = populated.client()
    big = {"cells": [{"cell_type": "markdown", "source": "x" * (4 * MAX_BODY_BYTES)}]}
    admin.write_output_notebook(run.id, {**big, "metadata": {}, "nbformat": 4, "nbformat_minor": 5})
    stored = admin.read_output_notebook(run.id)
    assert stored is not None and len(stored["cells"][0]["source"]) == 4 * MAX_BODY_BYTES


SCHEMA = schemathesis.openapi.from_dict(build_openapi())
# A body over the size limit is refused before it is read: 413 is a rightful refusal too.
SCHEMA.config.checks.negative_data_rejection.expected_statuses.append("413")


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["positive", "negative"])
def test_fuzzed_requests_never_fail_the_server(populated: Server, mode: str) -> None:
    """Every operation, with requests made from the OpenAPI document: answers conform to it
    (status codes, content types, bodies), nothing answers 500, requests the document calls
    invalid are refused, and a refused request leaves the store as it was."""
    headers = {"Authorization": f"Bearer {populated.admin_key}"}
    failures: list[str] = []
    checked: list[str] = []
    changed: list[str] = []  # refused requests that changed the store anyway
    for result in SCHEMA.get_all_operations():
        operation = result.ok()
        strategy = operation.as_strategy(generation_mode=schemathesis.GenerationMode(mode))

        @settings(
            max_examples=15,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def check(case: schemathesis.Case) -> None:
            before = store_snapshot(populated)
            try:
                response = case.call_and_validate(
                    base_url=populated.url,
                    headers=headers,
                    # The document cannot say every rule (a cron's fields, a notebook's
                    # parameter types), so some schema-valid requests are rightly refused.
                    excluded_checks=[schemathesis.checks.positive_data_acceptance],
                )
            except Exception as err:  # collect every operation's failure, then report
                failures.append(f"{case.method} {case.path}: {str(err)[:800]}")
                raise
            if 400 <= response.status_code < 500 and store_snapshot(populated) != before:
                changed.append(f"{case.method} {case.formatted_path} {case.body!r}")

        checked.append(operation.label)

        try:
            given(case=strategy)(check)()
        except Unsatisfiable:  # nothing to make invalid: the operation takes no input
            if mode != "negative" or list(operation.iter_parameters()) or operation.body:
                failures.append(f"{operation.label}: no request could be made")
        except Exception as err:  # a failed check (kept above) or one that could not run
            if not any(f.startswith(f"{operation.label}:") for f in failures):
                failures.append(f"{operation.label}: {type(err).__name__}: {err}")
    assert not failures, "\n\n".join(failures[:10])
    assert len(checked) == len(ROUTES)  # every operation of the API was fuzzed
    assert not changed, "\n".join(changed)


@pytest.mark.parametrize("with_key", [True, False])
@pytest.mark.parametrize(
    "path, words",
    [
        ("/flow-runs?limit=%FF", "query string of GET /flow-runs is not UTF-8"),
        ("/flow-runs?%FF=1", "query string of GET /flow-runs is not UTF-8"),
        ("/health?x=%C3", "query string of GET /health is not UTF-8"),
        ("/work-pools/%FF%FE", "name in the path of GET /work-pools/{name} is not UTF-8"),
    ],
)
def test_text_that_is_not_utf8_is_a_400(
    populated: Server, path: str, words: str, with_key: bool
) -> None:
    """Percent-escapes that decode to bytes that are not UTF-8, in the query (values and
    names) or a path segment: 400 naming where, with or without a key (401 is as good
    without one), never a 500."""
    headers = {"Authorization": f"Bearer {populated.admin_key}"} if with_key else {}
    answer = httpx.get(populated.url + "/api/v1" + path, headers=headers)
    if not with_key and answer.status_code == 401:
        assert "API key" in answer.json()["error"]["message"]
        assert not path.startswith("/health")
        return
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"] == {"type": "BadRequestError", "message": ANY_TEXT}
    assert words in answer.json()["error"]["message"]


def test_the_python_api_refuses_the_times_the_http_api_refuses(populated: Server) -> None:
    """On either transport, before anything is sent or stored: the same rule as the wire."""
    utc = timezone.utc
    for client in (populated.local, populated.client()):
        with pytest.raises(ValidationError, match=r"scheduled_time of create_run: .*\+00:00"):
            client.create_run("hello/daily", scheduled_time=datetime(2026, 1, 1, 9))
        with pytest.raises(ValidationError, match="years 1970 to 2200"):
            client.create_run("hello/daily", scheduled_time=datetime(9999, 12, 31, tzinfo=utc))
        with pytest.raises(ValidationError, match="since of usage: .* years 1970 to 2200"):
            client.usage(since=datetime(1, 1, 1, tzinfo=utc))
        with pytest.raises(ValidationError, match="until of usage: .* has no time zone"):
            client.usage(until=datetime(2026, 1, 1))
        schedule = ScheduleSpec(interval_seconds=60, anchor_date=datetime(1, 1, 1))
        with pytest.raises(ValidationError, match="Anchor of a schedule .* years 1970 to 2200"):
            client.create_schedule("hello/daily", schedule)
    assert len(populated.local.list_runs()) == 1
    # A naive anchor is in its schedule's time zone (said beside it): accepted.
    paris = ScheduleSpec(
        interval_seconds=3600, anchor_date=datetime(2026, 1, 1, 9), timezone="Europe/Paris"
    )
    made = populated.client().create_schedule("hello/daily", paris)
    assert made.anchor_date == datetime(2026, 1, 1, 8, tzinfo=utc)

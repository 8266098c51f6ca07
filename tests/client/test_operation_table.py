"""The operation table is consistent: each client operation is declared once, its Python
signature, its wire inputs and the orchestration function that carries it out agree, and
the client has no method beside the table's."""

from __future__ import annotations

import inspect
import uuid
from typing import Any

import pytest

from nborch.client import Client, LocalClient
from nborch.client.http import HttpClient
from nborch.client.operations import KEEP
from nborch.client.routes import CLIENT_ROUTES, ROUTES, Route
from nborch.models import StateType


def test_each_operation_and_each_binding_is_declared_once() -> None:
    names = [route.name for route in ROUTES]
    bindings = [(route.method, route.path) for route in ROUTES]
    assert len(set(names)) == len(names)
    assert len(set(bindings)) == len(bindings)


def _parameters(route: Route) -> set[str]:
    assert route.signature is not None
    return set(route.signature.parameters) - {"self"}


@pytest.mark.parametrize("route", CLIENT_ROUTES, ids=lambda route: route.name)
def test_the_wire_inputs_are_the_method_parameters(route: Route) -> None:
    wire = set(route.params.model_fields)
    if route.body_arg:
        wire.add(route.body_arg)
    elif route.body is not None:
        wire |= set(route.body.model_fields)
    assert wire == _parameters(route)
    assert set(route.path_fields) <= set(route.params.model_fields)


@pytest.mark.parametrize("route", CLIENT_ROUTES, ids=lambda route: route.name)
def test_the_orchestration_function_takes_the_store_and_every_input(route: Route) -> None:
    parameters = inspect.signature(route.function()).parameters
    assert next(iter(parameters)) == "store"
    assert _parameters(route) <= set(parameters)


@pytest.mark.parametrize(
    "route", [r for r in CLIENT_ROUTES if r.filled_by_server], ids=lambda route: route.name
)
def test_what_the_server_fills_in_comes_from_no_caller(route: Route) -> None:
    assert not set(route.filled_by_server) & _parameters(route)  # not on the wire
    assert set(route.filled_by_server) <= set(inspect.signature(route.function()).parameters)


def test_every_client_method_is_an_operation() -> None:
    operations = {route.name for route in CLIENT_ROUTES}
    methods = {
        name
        for name, value in inspect.getmembers(Client)
        if not name.startswith("_") and callable(value)
    }
    assert methods - operations == {"watch_pool", "last_request_sent"}
    assert operations <= methods
    # The two clients add nothing but how to settle an answer lost on the wire.
    assert {name for name in vars(LocalClient) if not name.startswith("_")} == {"store"}
    assert {
        name for name in vars(HttpClient) if not name.startswith("_") and name != "transport"
    } == {"url", "on_connection", "close", "claim_runs", "set_state", "last_request_sent"}


class RecordingTransportFake:
    """A fake transport: notes each call instead of carrying it out."""

    is_remote = False

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def call(self, operation: Route, arguments: dict[str, Any]) -> None:
        self.calls.append((operation.name, arguments))

    def watch_pool(self, pool_name: str, on_work: Any) -> None:
        return None


def test_a_call_hands_every_argument_by_name_with_defaults_filled_in() -> None:
    transport = RecordingTransportFake()
    client = Client(transport)
    worker = uuid.uuid4()
    client.claim_runs("etl", worker, 2, wait=5)
    client.update_pool("etl", paused=True)
    client.set_state("r1", StateType.RUNNING)
    assert transport.calls == [
        (
            "claim_runs",
            {"pool_name": "etl", "worker_id": worker, "limit": 2, "lookahead": 0.0, "wait": 5},
        ),
        (
            "update_pool",
            {
                "name": "etl",
                "paused": True,
                "concurrency_limit": KEEP,
                "description": None,
                "base_job_template": None,
                "quota_hours": KEEP,
                "quota_period": None,
            },
        ),
        (
            "set_state",
            {
                "run_id": "r1",
                "state": StateType.RUNNING,
                "message": "",
                "failure": None,
                "attempt": None,
                "timed_out": False,
            },
        ),
    ]


@pytest.mark.parametrize(
    ("args", "kwargs", "complaint"),
    [
        ((), {}, "missing a required argument: 'name'"),
        (("etl", "more"), {}, "too many positional arguments"),
        (("etl",), {"name": "etl"}, "multiple values for argument 'name'"),
        (("etl",), {"colour": "red"}, "unexpected keyword argument 'colour'"),
    ],
)
def test_a_call_that_does_not_fit_the_signature_is_a_type_error(
    args: tuple[Any, ...], kwargs: dict[str, Any], complaint: str
) -> None:
    transport = RecordingTransportFake()
    with pytest.raises(TypeError, match=complaint):
        Client(transport).get_pool(*args, **kwargs)
    assert transport.calls == []

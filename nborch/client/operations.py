"""What an operation of the client contract is, and how one is declared.

An operation is declared once, as a method without a body under the `@operation` decorator
(the table: `pool_operations`, `deployment_operations`,
`run_operations`): its signature is the Python API, and the decorator adds the
rest — its typed input (path and query model, body model), its typed output, its HTTP
binding, who may call it, whether it is idempotent, the orchestration function that
carries it out (`does`, named, so that this module imports nothing of the store), and
which of its arguments is told who calls (`caller`). The decorated method hands its
arguments to the client's transport; the server dispatches requests to the same
operations, and the OpenAPI document and the lab extension's types are made from them.

Adding an operation: declare it in the table module of its area, with its input models;
write the orchestration function it names; run `python -m nborch.api.codegen` for the
OpenAPI document and the lab extension's types. Nothing else changes: the client, both
transports, the server's dispatch and authorisation read the declaration.

This module imports pydantic only: a worker that knows nothing but a URL loads no store.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any, ParamSpec, Protocol, TypeVar, cast

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from nborch.errors import ValidationError
from nborch.timeutil import time_problem

API_PREFIX = "/api/v1"
# A request sent again with its key is answered, not carried out twice (operations `once`).
IDEMPOTENCY_HEADER = "Idempotency-Key"
# Request bodies beyond these sizes are refused (413) before they are parsed.
MAX_BODY_BYTES = 1024 * 1024
MAX_NOTEBOOK_BYTES = 64 * 1024 * 1024
# Bodies nesting arrays and objects deeper than this are refused (422) before they are parsed.
MAX_JSON_DEPTH = 64

KEEP: Any = ...  # "leave as it is" for optional updates where None means "clear"


# ---- who may call an operation ------------------------------------------------------------


@dataclass(frozen=True)
class Access:
    """Who may call an operation; admin keys may call every one.

    `kind` says which other keys may: "public" (anyone, without a key, e.g. health), "any"
    (any valid key), "admin" (no other key), or worker keys of one pool: "pool" (the pool
    named by input `field`), "run" (the pool of the run `field`), "worker" (the pool of the
    worker `field`). `reads` marks an operation that only reads and shows nothing secret:
    viewer and runner keys may call it too. `runs` names the input that is a deployment
    (FLOW/NAME): runner keys whose deployment patterns match it may call it. The roles are
    those of `nborch.models.ApiKeyRole`; Jupyter users get one of them
    (`nborch.api.jupyter_roles`); the rule that reads this is `nborch.api.roles.permits`.
    """

    kind: str
    field: str | None = None
    reads: bool = False
    runs: str | None = None

    def describe(self) -> str:
        """Who may call, in words (the OpenAPI document says it per operation)."""
        reach = {
            "public": "anyone, without a key",
            "any": "any valid key",
            "admin": "admin keys",
            "pool": f"admin keys, and worker keys of the pool named by `{self.field}`",
            "run": f"admin keys, and worker keys of the pool of the run `{self.field}`",
            "worker": f"admin keys, and worker keys of the pool of the worker `{self.field}`",
        }[self.kind]
        if self.reads and self.kind not in ("public", "any"):
            reach += "; viewer and runner keys (it only reads)"
        if self.runs:
            reach += f"; runner keys whose deployment patterns match `{self.runs}`"
        return reach


PUBLIC = Access("public")
ANY_KEY = Access("any")
ADMIN = Access("admin")
# An admin's read that viewers may make as well.
READ = Access("admin", reads=True)


def pool_access(field: str, *, reads: bool = False) -> Access:
    return Access("pool", field, reads)


def run_access(field: str = "run_id", *, reads: bool = False) -> Access:
    return Access("run", field, reads)


def worker_access(field: str = "worker_id", *, reads: bool = False) -> Access:
    return Access("worker", field, reads)


def runner_access(field: str = "deployment") -> Access:
    """Admin keys, and runner keys whose patterns match the deployment named by `field`."""
    return Access("admin", runs=field)


# ---- inputs -------------------------------------------------------------------------------


class Input(BaseModel):
    """An operation's input as the wire carries it: unknown fields are refused."""

    model_config = ConfigDict(extra="forbid")


class NoInput(Input):
    pass


class Changes(Input):
    """An update: only the fields given are passed on (the others are left as they are)."""


# Documented in the OpenAPI document, checked by the orchestration (whose messages say more).
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\- ]{0,99}$"
Name = Field(min_length=1, max_length=200, json_schema_extra={"pattern": NAME_PATTERN})


def _wire_time(moment: datetime) -> datetime:
    problem = time_problem(moment)
    if problem:
        raise ValueError(problem)
    return moment


# A time as an input: with a time zone (RFC 3339, as the OpenAPI document's date-time says),
# in the years of `nborch.timeutil.TIME_YEARS`. The client checks the same before sending.
Time = Annotated[datetime, AfterValidator(_wire_time)]


# ---- the operation ------------------------------------------------------------------------


@dataclass(frozen=True)
class Operation:
    """One operation: `name` is the client method (and the OpenAPI operationId)."""

    name: str
    method: str
    path: str  # under API_PREFIX; `{field}` segments are path inputs
    access: Access
    summary: str
    params: type[BaseModel] = NoInput  # path and query inputs
    body: type[BaseModel] | Any = None  # a model whose fields are inputs, or any other type
    body_arg: str | None = None  # set when the whole body is one input of that name
    response: Any = None  # None: 204 No Content
    status: int = 200
    content_type: str = "application/json"
    max_body: int = MAX_BODY_BYTES
    # The orchestration function that carries it out, as "module.function" under
    # nborch.orchestration, called with the store and the inputs by name. None: the
    # server answers it itself (health, the lab extension's helpers).
    does: str | None = None
    # wire answer <-> what the client method returns
    to_wire: Callable[[Any], Any] | None = None
    from_wire: Callable[[Any], Any] | None = None
    # The function's argument told who calls (a run's `created_by`): never an input, so
    # no caller can name another; the server fills it from the caller's key or login, the
    # in-process transport with this process's user.
    caller: str | None = None
    # Not idempotent by itself: the client sends an Idempotency-Key, and a copy of the
    # request (sent again after a lost answer) gets the first one's answer.
    once: bool = False
    # The input that says how many seconds the answer may wait (a long poll), if any.
    waits_for: str | None = None
    # Arguments of the orchestration function that the serving side fills in (e.g. which
    # server a worker talks through), never taken from the wire nor from the client.
    filled_by_server: tuple[str, ...] = ()
    signature: inspect.Signature | None = field(default=None, compare=False, repr=False)

    @property
    def success_status(self) -> int:
        return 204 if self.response is None else self.status

    @property
    def path_fields(self) -> list[str]:
        return re.findall(r"\{(\w+)\}", self.path)

    def function(self) -> Callable[..., Any]:
        """The orchestration function that carries the operation out (imported now)."""
        if self.does is None:
            raise LookupError(f"Operation {self.name} is answered by the server itself.")
        module, _, name = self.does.rpartition(".")
        found: Callable[..., Any] = getattr(
            importlib.import_module(f"nborch.orchestration.{module}"), name
        )
        return found


def declare(
    method: str, path: str, name: str, access: Access, summary: str, **rest: Any
) -> Operation:
    """An operation; POST is not idempotent by itself unless told (GET, PUT, PATCH and DELETE
    repeat harmlessly)."""
    rest.setdefault("once", method == "POST")
    return Operation(name, method, path, access, summary, **rest)


# ---- declaring an operation as a client method --------------------------------------------


class Transport(Protocol):
    """How a client's operations are carried out: in-process or over HTTP."""

    def call(self, operation: Operation, arguments: dict[str, Any]) -> Any:
        """Carry the operation out with these arguments (every parameter, by name)."""


class HasTransport(Protocol):
    transport: Transport


P = ParamSpec("P")
R = TypeVar("R")


def operation(
    method: str, path: str, access: Access, **rest: Any
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Declare the method below as an operation: calling it hands its arguments (by name,
    defaults filled in) to the client's transport, which answers with what it returns. The
    summary is the first line of its docstring."""

    def declared(stub: Callable[P, R]) -> Callable[P, R]:
        signature = inspect.signature(stub)
        summary = (inspect.getdoc(stub) or stub.__name__).splitlines()[0].rstrip(".")
        op = declare(method, path, stub.__name__, access, summary, signature=signature, **rest)

        bind = _binder(signature)
        times = [n for n, p in signature.parameters.items() if "datetime" in str(p.annotation)]

        @functools.wraps(stub)
        def call(*args: P.args, **kwargs: P.kwargs) -> R:
            arguments = bind(args, kwargs)
            client = cast(HasTransport, arguments.pop("self"))
            for name in times:  # what the server's `Time` refuses, refused on either transport
                _check_time(op, name, arguments[name])
            return cast(R, client.transport.call(op, arguments))

        call.operation = op  # type: ignore[attr-defined]
        return call

    return declared


def _check_time(op: Operation, name: str, moment: Any) -> None:
    problem = time_problem(moment) if isinstance(moment, datetime) else None
    if problem:
        raise ValidationError(f"{name} of {op.name}: {problem}.")


def _binder(
    signature: inspect.Signature,
) -> Callable[[tuple[Any, ...], dict[str, Any]], dict[str, Any]]:
    """Arguments by name, defaults filled in: what `signature.bind` and `apply_defaults` give,
    in a fifth of the time (a worker's heartbeat pays it); a call that does not fit the
    signature goes to `bind`, which raises the usual TypeError."""
    parameters = signature.parameters.values()
    positional = [p.name for p in parameters if p.kind is p.POSITIONAL_OR_KEYWORD]
    names = set(signature.parameters)
    defaults = {p.name: p.default for p in parameters if p.default is not p.empty}

    def bind(args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        arguments = {**defaults, **dict(zip(positional, args, strict=False)), **kwargs}
        if (
            len(args) > len(positional)
            or len(arguments) != len(names)
            or not names.issuperset(kwargs)
            or not kwargs.keys().isdisjoint(positional[: len(args)])
        ):
            bound = signature.bind(*args, **kwargs)  # raises TypeError, saying why
            bound.apply_defaults()
            return dict(bound.arguments)
        return arguments

    return bind


def operations_of(cls: type) -> list[Operation]:
    """The operations declared on a class (and its bases), in declaration order."""
    found: dict[str, Operation] = {}
    for klass in reversed(cls.__mro__):
        for value in vars(klass).values():
            op = getattr(value, "operation", None)
            if isinstance(op, Operation):
                found[op.name] = op
    return list(found.values())

"""nborch's errors on the wire: each error class has an HTTP status, and an answer's error
body turns back into the same class with the same message, so a command says the same thing
whether it ran against the local store or a server."""

from __future__ import annotations

from typing import Any

from nborch import errors
from nborch.errors import NborchError


class AuthenticationError(NborchError):
    """No API key, or one the server does not know (401)."""


class PermissionDeniedError(NborchError):
    """The API key may not do this (403)."""


class BadRequestError(NborchError):
    """A request that is not even readable: bytes that are not UTF-8 (400)."""


class PayloadTooLargeError(errors.ValidationError):
    """A request body beyond the server's limit (413)."""


class ServerUnavailableError(errors.StoreError):
    """The server cannot be reached, or failed unexpectedly (5xx)."""


# Most specific first: an error answers with the status of the first class it is.
_STATUS: list[tuple[type[NborchError], int]] = [
    (BadRequestError, 400),
    (AuthenticationError, 401),
    (PermissionDeniedError, 403),
    (errors.NotFoundError, 404),
    (errors.AlreadyExistsError, 409),
    (errors.ConflictError, 409),
    (PayloadTooLargeError, 413),
    (errors.ValidationError, 422),
    (errors.NotebookError, 422),
    (errors.InfrastructureError, 502),
    (errors.StoreError, 503),
    (NborchError, 400),
]

_CLASSES: dict[str, type[NborchError]] = {
    cls.__name__: cls
    for cls in [*vars(errors).values(), ServerUnavailableError, *(c for c, _ in _STATUS)]
    if isinstance(cls, type) and issubclass(cls, NborchError)
}


def status_of(err: NborchError) -> int:
    return next(status for cls, status in _STATUS if isinstance(err, cls))


def error_body(err: NborchError) -> dict[str, Any]:
    body: dict[str, Any] = {"type": type(err).__name__, "message": err.message}
    parameter = getattr(err, "parameter", None)
    if parameter is not None:
        body["parameter"] = parameter
    return {"error": body}


def error_from_body(status: int, body: Any) -> NborchError:
    """The error an answer's body describes (or a generic one for a foreign body)."""
    detail = body.get("error") if isinstance(body, dict) else None
    if not isinstance(detail, dict) or not isinstance(detail.get("message"), str):
        by_status = {s: cls for cls, s in reversed(_STATUS)}
        cls = ServerUnavailableError if status >= 500 else by_status.get(status, NborchError)
        return cls(f"The nborch server answered {status}: {str(body)[:500]}")
    cls = _CLASSES.get(str(detail.get("type")), NborchError)
    if cls is errors.ParameterError:
        return errors.ParameterError(detail["message"], parameter=detail.get("parameter"))
    return cls(detail["message"])

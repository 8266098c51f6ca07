"""nborch's errors: one base class, every message names the object, the reason and the fix.

NborchError
 ├── NotFoundError          an object named by the user does not exist
 ├── AlreadyExistsError     a name is taken
 ├── ValidationError        bad input: refused before anything changes
 │    └── ParameterError    a flow parameter that is unknown or of the wrong type
 ├── ConflictError          the object is not in a state that allows the action
 │    ├── RunLostError       a worker wrote about a run no longer in its hands
 │    └── QuotaExceededError a pool has used its compute hours for the period
 ├── StoreError             the store cannot be opened or migrated
 ├── NotebookError          a notebook file is missing or unreadable
 └── InfrastructureError    the infrastructure (a Docker engine, an image) cannot do what a
                            run or a command needs
"""

from __future__ import annotations


class NborchError(Exception):
    """Base of every error nborch raises on purpose. `str(err)` is meant for people."""

    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFoundError(NborchError):
    """An object named by the user does not exist."""


class AlreadyExistsError(NborchError):
    """An object with that name exists already."""


class ValidationError(NborchError):
    """Input refused at the edge; nothing was changed."""


class ParameterError(ValidationError):
    """A flow parameter that is unknown or has a value of the wrong type."""

    def __init__(self, message: str, *, parameter: str | None = None) -> None:
        super().__init__(message)
        self.parameter = parameter


class ConflictError(NborchError):
    """The object's current state does not allow the action."""


class RunLostError(ConflictError):
    """A worker wrote about a run that is no longer in its hands (it ended, was marked
    CRASHED, or another claim holds it): the worker must stop the run."""


class QuotaExceededError(ConflictError):
    """A work pool has used the compute hours its quota allows for the current period."""


class StoreError(NborchError):
    """The store cannot be reached, opened or migrated."""


class NotebookError(NborchError):
    """A notebook file is missing, unreadable or not a notebook."""


class InfrastructureError(NborchError):
    """The infrastructure (a Docker engine, an image, a build) cannot do what was asked."""

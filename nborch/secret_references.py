"""Secret references: ``{{ secret.NAME }}`` inside the strings of parameters and job variables.

A reference may be a whole string (``"{{ secret.API_TOKEN }}"``) or part of one
(``"Bearer {{ secret.API_TOKEN }}"``), at any depth of dicts and lists. Deployments, runs
and schedules keep the reference text; the worker that runs a run substitutes the values,
fetched for that run only, just before it starts the run's infrastructure.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from nborch.errors import NborchError, ValidationError

# The name part follows `nborch.orchestration.names`: letters, digits, '-', '_', '.' and
# inner spaces.
SECRET_REFERENCE = re.compile(
    r"\{\{\s*secret\.([A-Za-z0-9](?:[A-Za-z0-9_.\- ]*[A-Za-z0-9_.\-])?)\s*\}\}"
)
# What looks like the start of a reference (`secrets.` too: a common slip).
_OPENING = re.compile(r"\{\{\s*secrets?\.")


def reference(name: str) -> str:
    """The text that refers to secret `name`."""
    return f"{{{{ secret.{name} }}}}"


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _strings(item)


def secret_names(*values: Any) -> set[str]:
    """The names of the secrets referenced anywhere in `values`."""
    return {
        match.group(1)
        for value in values
        for text in _strings(value)
        for match in SECRET_REFERENCE.finditer(text)
    }


def check_reference_syntax(*values: Any, owner: str) -> None:
    """Refuse text that starts a secret reference but is not one (``{{ secrets.X }}``,
    ``{{ secret.X }`` ...): left alone, it would reach the run as it is."""
    for value in values:
        for text in _strings(value):
            if len(_OPENING.findall(text)) > len(SECRET_REFERENCE.findall(text)):
                raise ValidationError(
                    f"{owner[0].upper() + owner[1:]} has {text!r}, which is not a valid secret "
                    f"reference. Write {reference('NAME')}, e.g. {reference('API_TOKEN')}."
                )


def substitute_secrets(value: Any, secrets: Mapping[str, str], *, where: str) -> Any:
    """A copy of `value` with every reference replaced by its secret's value (types other
    than text are kept). A reference to a secret not in `secrets` is an error: `where` says
    what held it."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in secrets:
            raise NborchError(
                f"Secret '{name}' is referenced by {where} but was not resolved for this run: "
                "only secrets referenced by the run's parameters and job variables are. "
                f'Reference it there, e.g. --job-var \'env={{"X": "{reference(name)}"}}\'.'
            )
        return secrets[name]

    if isinstance(value, str):
        return SECRET_REFERENCE.sub(replace, value)
    if isinstance(value, Mapping):
        return {key: substitute_secrets(item, secrets, where=where) for key, item in value.items()}
    if isinstance(value, list):
        return [substitute_secrets(item, secrets, where=where) for item in value]
    return value

"""Names people give to pools, queues, flows and deployments: checked once, here."""

from __future__ import annotations

import re

from nborch.errors import ValidationError

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\- ]{0,99}$")


def check_name(kind: str, name: str) -> str:
    """Refuse empty names, path tricks and characters that break CLIs and URLs."""
    if not isinstance(name, str) or not _NAME.fullmatch(name) or name.strip() != name:
        raise ValidationError(
            f"{kind} name {name!r} is not allowed: use 1-100 letters, digits, '-', '_', '.' or "
            "spaces, starting with a letter or digit."
        )
    return name

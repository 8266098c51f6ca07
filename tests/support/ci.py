"""Skipping outside CI, failing in it: what a test needs and the machine lacks is a skip on a
developer's machine and a failure under `CI` (set by `.ci/run`), where everything must run.
A CI run that skipped anything fails anyway, naming the skips (tests/conftest.py)."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def in_ci() -> bool:
    return bool(os.environ.get("CI"))


def unavailable(needs: str, reason: str) -> NoReturn:
    """Skip the test for `reason`; under CI, fail it: "CI needs `needs`: `reason`"."""
    if in_ci():
        pytest.fail(f"CI needs {needs}: {reason}")
    pytest.skip(reason)

"""Skipping outside CI, failing in it: what a test needs and the machine lacks is a skip on a
developer's machine and a failure under `CI` (set by `.ci/run`), where everything must run.

And the hooks (tests/conftest.py imports them) by which a CI run that skipped anything
fails anyway, naming each skip: a test skipped there did not run, and a green run would
claim what it never checked."""

from __future__ import annotations

import os
from typing import Any, NoReturn

import pytest


def in_ci() -> bool:
    return bool(os.environ.get("CI"))


def unavailable(needs: str, reason: str) -> NoReturn:
    """Skip the test for `reason`; under CI, fail it: "CI needs `needs`: `reason`"."""
    if in_ci():
        pytest.fail(f"CI needs {needs}: {reason}")
    pytest.skip(reason)


SKIPPED: list[str] = []  # "node id: reason", as the tests run


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        SKIPPED.append(f"{report.nodeid}: {reason}")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if in_ci() and SKIPPED and exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if in_ci() and SKIPPED:
        terminalreporter.section("skipped under CI, so this run fails", red=True, bold=True)
        for line in SKIPPED:
            terminalreporter.line(f"SKIPPED {line}")

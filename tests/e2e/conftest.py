"""Fixtures of the end-to-end browser tests: short worker intervals, worker processes
stopped at the end, and playwright with the machine's Chromium."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from support.browser import playwright_or_skip
from support.processes import WorkerProcess
from support.workers import FAST

from nborch.settings import reset_settings


@pytest.fixture
def fast(monkeypatch: pytest.MonkeyPatch, nborch_home: Path) -> None:
    """Short heartbeats and scheduler ticks, for this process and what it starts."""
    for key, value in FAST.items():
        monkeypatch.setenv(key, value)
    reset_settings()


@pytest.fixture
def workers(fast: None) -> Iterator[list[WorkerProcess]]:
    started: list[WorkerProcess] = []
    yield started
    for worker in started:
        worker.stop()


@pytest.fixture
def playwright_api() -> ModuleType:
    """Python playwright, driving the machine's Chromium (never a downloaded browser)."""
    return playwright_or_skip()

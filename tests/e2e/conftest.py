"""Fixtures of the end-to-end browser tests: short worker intervals, worker processes
stopped at the end, and playwright with the machine's Chromium."""

from __future__ import annotations

from types import ModuleType

import pytest
from support.browser import playwright_or_skip


@pytest.fixture
def playwright_api() -> ModuleType:
    """Python playwright, driving the machine's Chromium (never a downloaded browser)."""
    return playwright_or_skip()

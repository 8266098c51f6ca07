"""The extension's TypeScript: strictly typed and linted (eslint with typescript-eslint's
strict type-checked rules, tsc with `strict`), and its unit tests (jest, in jsdom) pass."""

from __future__ import annotations

import re
import subprocess

import pytest
from support.labextension import SOURCES, npm_or_skip

pytestmark = pytest.mark.slow


def run_npm(script: str) -> str:
    done = subprocess.run(
        [npm_or_skip(), "run", "--silent", script],
        cwd=SOURCES,
        capture_output=True,
        text=True,
        timeout=600,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"npm run {script} failed:\n{output[-6000:]}"
    return output


def test_the_typescript_is_typed_strictly_and_linted() -> None:
    run_npm("lint")


def test_the_typescript_unit_tests_pass() -> None:
    output = run_npm("test")
    summary = re.search(r"Tests:\s+(\d+) passed, (\d+) total", output)
    assert summary and summary.group(1) == summary.group(2), output[-3000:]

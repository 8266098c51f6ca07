"""Under CI a skipped test fails the run, naming it (support.ci's hooks, which
tests/conftest.py takes): a green CI run never stands for tests that did not run. Outside CI
a skip is only a skip."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def pytest_with_our_hooks(folder: Path, ci: bool) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key != "CI"}
    env["PYTHONPATH"] = str(TESTS)
    if ci:
        env["CI"] = "true"
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "support.ci", "."],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_under_ci_a_skip_fails_the_run_and_is_named(tmp_path: Path) -> None:
    (tmp_path / "test_some.py").write_text(
        "import pytest\n\n"
        "def test_skips():\n    pytest.skip('no frobnicator here')\n\n"
        "def test_passes():\n    pass\n"
    )
    in_ci = pytest_with_our_hooks(tmp_path, ci=True)
    assert in_ci.returncode == 1, in_ci.stdout + in_ci.stderr
    assert "SKIPPED test_some.py::test_skips: Skipped: no frobnicator here" in in_ci.stdout
    outside = pytest_with_our_hooks(tmp_path, ci=False)
    assert outside.returncode == 0, outside.stdout + outside.stderr
    assert "1 passed, 1 skipped" in outside.stdout

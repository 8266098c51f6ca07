"""What `nborch worker start` imports before its first run: none of the libraries only other
commands (rich, httpx), job template checks (jsonschema) or the runs themselves (papermill,
nbclient, nbformat) need. Each check runs in a fresh interpreter and reads `sys.modules`."""

from __future__ import annotations

import json
import subprocess
import sys

NOT_AT_START = [
    "rich",
    "httpx",
    "jsonschema",
    "rfc3987_syntax",
    "nbformat",
    "nbclient",
    "papermill",
    "requests",
]


def loaded_after(code: str) -> set[str]:
    """The modules loaded (not blocked) once `code` has run in a fresh interpreter."""
    script = (
        f"{code}\nimport json, sys\n"
        "print(json.dumps(sorted(k for k, v in sys.modules.items() if v is not None)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


def test_a_process_worker_starts_without_the_heavy_libraries() -> None:
    loaded = loaded_after(
        "import click\n"
        "from nborch.cli.main import cli\n"
        "cli.get_command(click.Context(cli), 'worker')\n"
        "from nborch.models import PoolType\n"
        "from nborch.workers import worker_class_for\n"
        "worker_class_for(PoolType.PROCESS)\n"
        "import nborch.workers.kernel_runs\n"
    )
    assert "nborch.workers.process" in loaded and "nborch.workers.kernel_runs" in loaded
    assert [name for name in NOT_AT_START if name in loaded] == []


def test_the_command_line_goes_without_rfc3987_syntax() -> None:
    loaded = loaded_after(
        "from nborch.cli.main import _skip_unused_format_checkers\n"
        "_skip_unused_format_checkers()\n"
        "import nbformat, jsonschema\n"
        "from nborch.jobs import default_base_job_template, validate_base_job_template\n"
        "from nborch.models import PoolType\n"
        "validate_base_job_template(default_base_job_template(PoolType.PROCESS), 'P')\n"
        "assert 'uri' in jsonschema.FormatChecker().checkers\n"
    )
    assert "jsonschema" in loaded and "nbformat" in loaded
    assert "rfc3987_syntax" not in loaded

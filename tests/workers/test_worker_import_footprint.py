"""What `nborch worker start` imports before its first run: none of the libraries only other
commands (rich, httpx), job template checks (jsonschema) or the runs themselves (papermill,
nbclient, nbformat) need — until a run is on its way. Each check runs in a fresh
interpreter and reads `sys.modules`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]

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


def _worker_loads_execution(home: Path, run_coming: bool) -> bool:
    """Start a process worker (standby kernels) in a fresh interpreter, with or without a
    run scheduled two minutes ahead: has it loaded the execution stack 15 s later? (Deploying
    loads papermill in this interpreter already: the module that runs notebooks tells.)"""
    script = f"""
import json, sys, threading, time
from datetime import timedelta
sys.path.insert(0, {str(TESTS)!r})
from support.deployments import deploy_hello
from nborch.client import LocalClient
from nborch.timeutil import utcnow
from nborch.workers.process import ProcessWorker

client = LocalClient()
client.create_pool("local", "process")
deploy_hello(client, "local", quiet=True)
if {run_coming!r}:
    client.create_run("hello/demo", scheduled_time=utcnow() + timedelta(seconds=120))
worker = ProcessWorker(client, "local", echo=lambda _: None, run_scheduler=False, poll_interval=1)
thread = threading.Thread(target=worker.start, daemon=True)
thread.start()
assert worker.started.wait(60), "the worker did not start"
deadline = time.monotonic() + 15
while time.monotonic() < deadline and "nborch.execution.in_process" not in sys.modules:
    time.sleep(0.1)
print(json.dumps("nborch.execution.in_process" in sys.modules))
worker.request_stop(force=True)
thread.join(60)
"""
    env = {**os.environ, "NBORCH_HOME": str(home)}
    env.pop("NBORCH_DATABASE_URL", None)
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=180, env=env
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return bool(json.loads(done.stdout.strip().splitlines()[-1]))


def test_a_worker_loads_the_execution_stack_before_a_scheduled_run_not_when_idle(
    tmp_path: Path,
) -> None:
    # The first run after an idle spell would otherwise pay papermill's import as start lag.
    assert _worker_loads_execution(tmp_path / "coming", run_coming=True)
    assert not _worker_loads_execution(tmp_path / "idle", run_coming=False)

"""The papermill command line a run executes, wherever it runs (subprocess or container)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

# When a run launched early should begin (seconds since the epoch), for the `nborch` engine.
START_AT = "NBORCH_START_AT"


def write_parameters_file(path: Path, parameters: Mapping[str, Any]) -> Path:
    """Parameters as YAML for papermill's ``-f``: types survive (a list stays a list)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(dict(parameters), allow_unicode=True, sort_keys=True))
    return path


def papermill_argv(
    program: Sequence[str],
    input_path: str,
    output_path: str,
    *,
    parameters_file: str | None,
    cwd: str | None,
    kernel_name: str | None = None,
    execution_timeout: float | None = None,
    log_output: bool = True,
    engine: str | None = None,
) -> list[str]:
    """``program`` is how papermill is started: ``[sys.executable, "-m", "papermill"]`` on
    the host, ``["papermill"]`` in an image that has it."""
    argv = [*program, input_path, output_path, "--no-progress-bar"]
    if parameters_file:
        argv += ["-f", parameters_file]
    if cwd:
        argv += ["--cwd", cwd]
    if kernel_name:
        argv += ["-k", kernel_name]
    if execution_timeout:
        argv += ["--execution-timeout", str(int(execution_timeout))]
    if log_output:
        argv.append("--log-output")
    if engine:
        argv += ["--engine", engine]
    return argv

"""The run's folder around a container: what goes in, and who owns what comes out."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
import yaml
from support.ci import unavailable

from nborch.containers.run_folder import prepare_run_folder, reclaim_run_folder
from nborch.errors import NotebookError
from nborch.models import FlowRun, StateType
from nborch.timeutil import utcnow


def a_run(tmp_path: Path, notebook: Path) -> FlowRun:
    now = utcnow()
    run_id = uuid.uuid4()
    return FlowRun(
        id=run_id,
        name="demo-1",
        flow_name="demo",
        state=StateType.RUNNING,
        parameters={"items": [1, 2], "name": "Ada"},
        input_path=str(notebook),
        output_path=str(tmp_path / "runs" / str(run_id) / "output.ipynb"),
        scheduled_time=now,
        created=now,
    )


def test_the_input_notebook_and_parameters_go_in_and_the_folder_opens(tmp_path: Path) -> None:
    notebook = tmp_path / "flow.ipynb"
    notebook.write_text('{"cells": []}')
    run = a_run(tmp_path, notebook)
    assert run.output_path
    Path(run.output_path).parent.mkdir(parents=True)
    Path(run.output_path).write_text("an earlier attempt's output")
    run_dir = prepare_run_folder(run)
    assert run_dir == Path(run.output_path).parent
    assert (run_dir / "input.ipynb").read_text() == '{"cells": []}'
    assert yaml.safe_load((run_dir / "parameters.yaml").read_text()) == run.parameters
    assert not Path(run.output_path).exists()  # a stale output cannot block papermill
    assert run_dir.stat().st_mode & 0o777 == 0o777
    reclaim_run_folder(run_dir)
    assert run_dir.stat().st_mode & 0o777 == 0o755


def test_a_notebook_missing_on_this_machine_is_a_clear_error(tmp_path: Path) -> None:
    run = a_run(tmp_path, tmp_path / "gone.ipynb")
    with pytest.raises(NotebookError, match="is not on this worker's machine"):
        prepare_run_folder(run)


def test_files_the_container_user_wrote_become_the_worker_s(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        unavailable("root", "only root can make a file another user's")
    run_dir = tmp_path / "run"
    run_dir.mkdir(mode=0o777)
    output = run_dir / "output.ipynb"
    output.write_text("executed")
    os.chown(output, 1000, 1000)  # as the runtime image's user would leave it
    output.chmod(0o600)
    reclaim_run_folder(run_dir)
    assert output.stat().st_uid == os.geteuid()
    assert output.stat().st_mode & 0o777 == 0o644
    assert output.read_text() == "executed"
    assert sorted(p.name for p in run_dir.iterdir()) == ["output.ipynb"]  # no temporary left

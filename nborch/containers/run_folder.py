"""The run's folder as a container sees it: what goes in before, who owns what comes out.

The container's user is often not the worker's (the runtime image runs as the non-root user
'nborch', uid 1000). While the container runs, the folder is open to every user (mode 0777)
so that it can write the output notebook; afterwards the files it wrote are copied into
files the worker owns (readable and removable by the worker) and the folder is closed again
(0755).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from nborch.containers.spec import INPUT_NOTEBOOK, PARAMETERS_FILE
from nborch.errors import NotebookError
from nborch.execution.papermill_command import write_parameters_file
from nborch.models import FlowRun


def prepare_run_folder(run: FlowRun) -> Path:
    """A copy of the input notebook and the parameters file in the run's folder (the folder
    of its output notebook); returns the folder, open to the container's user."""
    assert run.output_path, "every run has an output path"
    run_dir = Path(run.output_path).parent
    source = Path(run.input_path)
    if not source.is_file():
        raise NotebookError(
            f"Notebook '{source}' of flow run '{run.name}' is not on this worker's machine: the "
            "docker worker copies it into the container's run folder. Run the worker where the "
            "deployment's folder is, or deploy from a folder this machine has."
        )
    run_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, run_dir / INPUT_NOTEBOOK)
    write_parameters_file(run_dir / PARAMETERS_FILE, run.parameters)
    # An output left by an earlier attempt may belong to another user: papermill could not
    # overwrite it.
    Path(run.output_path).unlink(missing_ok=True)
    run_dir.chmod(0o777)
    return run_dir


def reclaim_run_folder(run_dir: Path) -> None:
    """Files the container wrote at the top of the folder become the worker's; the folder
    is closed to other users again."""
    if not run_dir.is_dir():
        return
    me = os.geteuid()
    for path in run_dir.iterdir():
        if path.is_file() and not path.is_symlink() and path.stat().st_uid != me:
            _own(path)
    run_dir.chmod(0o755)


def _own(path: Path) -> None:
    """Replace `path` by a copy that this process owns (works without root: the folder is
    ours)."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    os.close(handle)
    try:
        shutil.copyfile(path, temporary)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise

"""Files under $NBORCH_HOME are for their owner only: what nborch creates there (the SQLite
store and its -wal/-shm files, the secret key file, runs/, each run's folder and what a
run leaves in it) is made mode 0700 (folders) or 0600 (files).

Folders and files that exist already keep their modes: nborch does not undo a choice made
on purpose. A run folder handed to a container that runs as another user is opened for the
time of the run (see `nborch.containers.run_folder`); it stays out of other users' reach
because runs/ above it is 0700, and `seal_run_folder` closes it again afterwards.
"""

from __future__ import annotations

import os
from pathlib import Path

from nborch.settings import get_settings

FOLDER_MODE = 0o700
FILE_MODE = 0o600


def private_folder(path: str | Path) -> Path:
    """`path` as a folder, made with its missing parents, each mode 0700."""
    path = Path(path)
    missing = []
    folder = path
    while not folder.exists() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=FOLDER_MODE)
        except FileExistsError:  # made meanwhile by another process
            continue
        folder.chmod(FOLDER_MODE)  # whatever the umask says
    return path


def private_file(path: str | Path) -> Path:
    """`path` made empty with mode 0600 (in a private folder) if it does not exist yet:
    whoever then writes it in place (SQLite, papermill) keeps that mode."""
    path = Path(path)
    private_folder(path.parent)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
    except FileExistsError:
        pass
    return path


def write_private_text(path: str | Path, text: str) -> Path:
    """Write `text` to `path`, a file only its owner may read (made 0600, or made so)."""
    path = private_file(path)
    os.chmod(path, FILE_MODE)
    path.write_text(text, encoding="utf-8")
    return path


def nborch_run_folder(output_path: str | None) -> Path | None:
    """The folder of a run's output notebook when it is one of nborch's, under runs/; None
    for an output the user put elsewhere (`nborch run NOTEBOOK OUTPUT`): not ours to seal."""
    if not output_path:
        return None
    folder = Path(output_path).parent
    return folder if folder.parent == Path(get_settings().runs_dir) else None


def seal_run_folder(run_dir: str | Path) -> None:
    """A run's folder, once the run has ended: 0700, and the files this process owns at its
    top (the output notebook, its parameters file) 0600, whatever made them."""
    run_dir = Path(run_dir)
    me = os.geteuid()
    try:
        if run_dir.stat().st_uid != me:
            return
        run_dir.chmod(FOLDER_MODE)
        for entry in os.scandir(run_dir):
            if entry.is_file(follow_symlinks=False) and entry.stat().st_uid == me:
                os.chmod(entry.path, FILE_MODE)
    except FileNotFoundError:  # the run never made its folder
        return

"""A damaged (cut short, overwritten) or locked SQLite store: the CLI, a worker and the
server each say so in one line that names the file and the fix, not in a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from nborch.client import LocalClient
from nborch.store.engine import close_stores

NBORCH = [sys.executable, "-m", "nborch.cli.main"]
COMMANDS = {
    "cli": ["work-pool", "ls"],
    "worker": ["worker", "start", "--pool", "local", "--run-once"],
    "server": ["server", "start", "--port", "0", "--no-scheduler", "--no-dispatcher"],
}


def damaged_store(home: Path, damage: str) -> Path:
    client = LocalClient()
    client.create_pool("local", "process")
    close_stores()  # checkpoints the WAL into the file
    path = home / "nborch.db"
    content = path.read_bytes()
    assert len(content) > 8192
    path.write_bytes(content[:5000] if damage == "truncated" else os.urandom(len(content)))
    return path


def one_error_line(argv: list[str], timeout: float = 60) -> str:
    done = subprocess.run(
        [*NBORCH, *argv], capture_output=True, text=True, timeout=timeout, env=os.environ
    )
    assert done.returncode != 0, (done.stdout, done.stderr)
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    return lines[0]


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize("damage", ["truncated", "random bytes"])
def test_a_damaged_store_is_one_line_naming_the_file_and_the_fix(
    nborch_home: Path, damage: str, command: str
) -> None:
    path = damaged_store(nborch_home, damage)
    line = one_error_line(COMMANDS[command])
    assert line.startswith(f"Error: The store {path} is damaged"), line
    assert f"mv {path} {path}.damaged" in line


@pytest.mark.slow
def test_a_locked_store_is_one_line_naming_the_file_and_the_fix(nborch_home: Path) -> None:
    LocalClient().create_pool("local", "process")
    close_stores()
    path = nborch_home / "nborch.db"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sqlite3, sys, time\n"
            "c = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
            "c.execute('PRAGMA locking_mode = EXCLUSIVE')\n"
            "c.execute('BEGIN EXCLUSIVE')\n"
            "print('locked', flush=True)\n"
            "time.sleep(120)\n",
            str(path),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout and holder.stdout.readline() == "locked\n"
        line = one_error_line(COMMANDS["cli"], timeout=90)
    finally:
        holder.kill()
        holder.wait()
    assert line.startswith(f"Error: The store {path} is locked by another process"), line
    assert f"fuser {path}" in line

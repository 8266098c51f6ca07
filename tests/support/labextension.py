"""The JupyterLab extension's sources (labextension/) and its build (labextension/dist/),
which `make labextension` makes with Node.js and packages from the npm registry."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import NoReturn

from support.ci import unavailable

REPO = Path(__file__).resolve().parents[2]
SOURCES = REPO / "labextension"
DIST = SOURCES / "dist"
NAME = "nborch-labextension"


def _unavailable(reason: str) -> NoReturn:
    unavailable("the JupyterLab extension", reason)


def npm_or_skip() -> str:
    """npm, once labextension/node_modules is installed; the test is skipped (failed under
    CI) otherwise."""
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        _unavailable(
            "no Node.js: as root, `make labextension` installs it (scripts/install-node.sh)"
        )
    if not (SOURCES / "node_modules").is_dir():
        _unavailable("labextension/node_modules is not installed: run `make labextension`")
    assert npm is not None
    return npm


def built_or_skip() -> Path:
    """labextension/dist, once built."""
    if not (DIST / "package.json").exists():
        _unavailable("the JupyterLab extension is not built: run `make labextension`")
    return DIST

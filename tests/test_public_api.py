"""The public API is what `nborch.__all__` says, and all of it imports."""

from __future__ import annotations

import subprocess
import sys

import nborch


def test_all_names_exist_and_are_public() -> None:
    assert sorted(nborch.__all__) == sorted(set(nborch.__all__))
    for name in nborch.__all__:
        assert hasattr(nborch, name), name
    assert {"Flow", "get_client", "StateType", "NborchError"} <= set(nborch.__all__)


def test_importing_nborch_starts_no_back_end() -> None:
    # Importing must not open the store, import papermill or load a worker (import time is
    # a cost every CLI call pays).
    code = (
        "import sys, nborch\n"
        "heavy = [m for m in ('papermill', 'nborch.workers.process', 'alembic') if m in sys.modules]\n"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""

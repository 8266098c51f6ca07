"""nborch inside the notebook: magics (`%load_ext nborch`)."""

from __future__ import annotations

from typing import Any


def load_ipython_extension(ipython: Any) -> None:
    """`%load_ext nborch` (or `c.InteractiveShellApp.extensions = ["nborch"]`)."""
    from nborch.notebook.magics import NborchMagics

    ipython.register_magics(NborchMagics)

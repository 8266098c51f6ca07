"""A run's output notebook as HTML (nbconvert's HTMLExporter, through
`nborch.execution.html`), shown in a sandboxed frame.

The exported page brings its own style sheet; inside an `<iframe srcdoc>` it cannot restyle
JupyterLab, and with `sandbox` the notebook's outputs run no script in the page.
"""

from __future__ import annotations

import hashlib
import html
import json
from typing import Any

from nborch.execution.html import notebook_html


def fingerprint(notebook: dict[str, Any]) -> str:
    """Changes whenever the notebook does (a new output, a cell's status)."""
    return hashlib.sha1(json.dumps(notebook, sort_keys=True, default=str).encode()).hexdigest()


def notebook_frame(notebook: dict[str, Any], height: str = "520px") -> str:
    """The notebook as HTML in a sandboxed frame, for an `ipywidgets.HTML`."""
    page = html.escape(notebook_html(notebook), quote=True)
    return (
        f'<iframe class="nborch-output-notebook" sandbox="" srcdoc="{page}" '
        f'style="width:100%;height:{height};border:1px solid #e5e7eb;border-radius:4px">'
        "</iframe>"
    )

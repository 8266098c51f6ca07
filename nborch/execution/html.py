"""An executed notebook as one HTML page (nbconvert), for the API and the dashboard."""

from __future__ import annotations

import json
from typing import Any

import nbformat


def notebook_html(notebook: dict[str, Any], template: str = "lab") -> str:
    """The notebook as HTML: a whole page (`lab`), or its cells alone (`basic`)."""
    from nbconvert import HTMLExporter  # slow to import: only when a page is asked for

    # Read as a file is (not `from_dict`): sources and outputs stored as lists of lines,
    # as nbformat writes them, become the strings nbconvert expects.
    node = nbformat.reads(json.dumps(notebook), as_version=4)
    body, _resources = HTMLExporter(template_name=template).from_notebook_node(node)
    return str(body)

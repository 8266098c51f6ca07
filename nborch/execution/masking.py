"""Masking secret values in what a run leaves behind: its output notebook and its
parameters file (and, through `masked_forms`, its log lines).

A value can appear as it is (printed by a cell), escaped as papermill writes it into the
injected-parameters cell (``token = "a\\"b"``), or escaped as JSON or Python would; every
one of these forms is replaced by MASK. Only text meant for people is touched: cell
sources, outputs (not images) and the parameters papermill records, never the notebook's
structure.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import yaml

MASK = "*****"


def masked_forms(values: Iterable[str]) -> list[str]:
    """Every form in which each value may be written, longest first."""
    forms: set[str] = set()
    for value in values:
        if not value:
            continue
        papermill = value.encode("unicode_escape").decode("utf-8").replace('"', '\\"')
        forms.update({value, papermill, json.dumps(value)[1:-1], repr(value)[1:-1]})
    return sorted((form for form in forms if form), key=len, reverse=True)


def mask_text(text: str, forms: Sequence[str]) -> str:
    for form in forms:
        text = text.replace(form, MASK)
    return text


def _mask_strings(node: Any, forms: Sequence[str]) -> Any:
    """`node` with every string in it masked (keys of dicts are left alone)."""
    if isinstance(node, str):
        return mask_text(node, forms)
    if isinstance(node, dict):
        return {key: _mask_strings(value, forms) for key, value in node.items()}
    if isinstance(node, list):
        return [_mask_strings(item, forms) for item in node]
    return node


def _mask_output(output: dict[str, Any], forms: Sequence[str]) -> dict[str, Any]:
    masked = dict(output)
    for key in ("text", "evalue", "traceback"):
        if key in masked:
            masked[key] = _mask_strings(masked[key], forms)
    if isinstance(masked.get("data"), dict):
        masked["data"] = {
            mime: content if mime.startswith("image/") else _mask_strings(content, forms)
            for mime, content in masked["data"].items()
        }
    return masked


def mask_notebook(notebook: dict[str, Any], forms: Sequence[str]) -> dict[str, Any]:
    """The notebook (nbformat JSON) with the forms masked: a copy, the original stays."""
    if not forms:
        return notebook
    masked = dict(notebook)
    metadata = dict(masked.get("metadata") or {})
    papermill = metadata.get("papermill")
    if isinstance(papermill, dict) and "parameters" in papermill:
        metadata["papermill"] = {
            **papermill,
            "parameters": _mask_strings(papermill["parameters"], forms),
        }
        masked["metadata"] = metadata
    cells = []
    for cell in masked.get("cells") or []:
        if isinstance(cell, dict):
            cell = {**cell, "source": _mask_strings(cell.get("source", ""), forms)}
            if isinstance(cell.get("outputs"), list):
                cell["outputs"] = [
                    _mask_output(o, forms) if isinstance(o, dict) else o for o in cell["outputs"]
                ]
        cells.append(cell)
    masked["cells"] = cells
    return masked


def mask_notebook_file(path: str | Path, forms: Sequence[str]) -> None:
    """Rewrite the notebook at `path` masked, atomically; nothing when it is missing,
    unreadable (cut short) or has nothing to mask."""
    path = Path(path)
    try:
        notebook = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    if not isinstance(notebook, dict):
        return
    masked = mask_notebook(notebook, forms)
    if masked != notebook:
        _replace(path, json.dumps(masked, indent=1, sort_keys=True, ensure_ascii=False) + "\n")


def mask_parameters_file(path: str | Path, forms: Sequence[str]) -> None:
    """Rewrite papermill's parameters file (YAML) at `path` masked, atomically."""
    path = Path(path)
    try:
        parameters = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return
    masked = _mask_strings(parameters, forms)
    if masked != parameters:
        _replace(path, yaml.safe_dump(masked, allow_unicode=True, sort_keys=True))


def _replace(path: Path, text: str) -> None:
    """Readers see the old file or the new one, never half of one."""
    handle, draft = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
        shutil.copymode(path, draft)
        os.replace(draft, path)
    except BaseException:
        Path(draft).unlink(missing_ok=True)
        raise

"""Masking secret values in what a run leaves behind, as a reader sees it: its output
notebook, its parameters file and its log lines.

A value can appear as it is (printed by a cell), escaped as papermill writes it into the
injected-parameters cell (``token = "a\\"b"``), or escaped as JSON or Python would; every
one of these forms is replaced by MASK. Only text meant for people is touched: cell
sources, outputs (not images) and the parameters papermill records, never the notebook's
structure (but for adjacent streams, joined as below).

A cell may write a value in pieces (half, flush, the other half): what a reader sees is the
joined text. In a notebook, adjacent stream outputs of one name are joined (as Jupyter shows
them) before masking; in the logs, where each piece may arrive as a line of its own,
`LineMasker` masks a value cut across lines in every piece.
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


def _joined_streams(outputs: list[Any]) -> list[Any]:
    """Adjacent stream outputs of one name (stdout, stderr) as one, the way a reader sees
    them: a value written in pieces is whole again, so it can be masked."""
    joined: list[Any] = []
    for output in outputs:
        previous = joined[-1] if joined else None
        if (
            isinstance(previous, dict)
            and _is_stream(previous)
            and _is_stream(output)
            and output.get("name") == previous.get("name")
        ):
            joined[-1] = {**previous, "text": _text(previous) + _text(output)}
        else:
            joined.append(output)
    return joined


def _is_stream(output: Any) -> bool:
    return isinstance(output, dict) and output.get("output_type") == "stream"


def _text(output: dict[str, Any]) -> str:
    text = output.get("text", "")
    return "".join(text) if isinstance(text, list) else str(text)


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
                    _mask_output(o, forms) if isinstance(o, dict) else o
                    for o in _joined_streams(cell["outputs"])
                ]
        cells.append(cell)
    masked["cells"] = cells
    return masked


class LineMasker:
    """Masks the forms in a stream of lines, a value cut across lines included.

    `feed` takes lines as they come and returns those that may go out, masked. A value
    written in pieces comes as several lines: line breaks are ignored when looking for
    values, and every piece of one is masked. A line whose end could begin a value (at
    least HOLD characters of one) is held back until more lines come or `finish`, so the
    first piece is not let out before the second shows it to be one.
    """

    HOLD = 4

    def __init__(self, forms: Sequence[str] = ()) -> None:
        self._forms: list[str] = []
        self._held: list[str] = []
        self._released = ""  # the end of the text let out, where a value may have begun
        self.add(forms)

    def add(self, forms: Iterable[str]) -> None:
        """Mask these forms too (a value's line breaks split it into lines: ignored)."""
        extra = {form.replace("\n", "") for form in forms} - {""}
        self._forms = sorted(set(self._forms) | extra, key=len, reverse=True)

    def feed(self, lines: Iterable[str]) -> list[str]:
        self._held.extend(lines)
        if not self._forms:
            return self.finish()
        text = "".join(self._held)
        hold_from = len(text) - self._longest_pending_start(text)
        lines_out = end = 0
        for line in self._held:
            end += len(line)
            if end > hold_from:
                break
            lines_out += 1
        return self._release(lines_out)

    def finish(self) -> list[str]:
        """Every line held back, masked as far as what came shows."""
        return self._release(len(self._held))

    def _longest_pending_start(self, text: str) -> int:
        """The length of the longest end of the text that begins a form (0: none long
        enough to hold back)."""
        whole = self._released + text
        for length in range(min(len(whole), len(self._forms[0]) - 1), self.HOLD - 1, -1):
            tail = whole[-length:]
            if any(len(form) > length and form.startswith(tail) for form in self._forms):
                return min(length, len(text))
        return 0

    def _release(self, count: int) -> list[str]:
        lines, self._held = self._held[:count], self._held[count:]
        if not lines:
            return []
        context = self._released
        text = context + "".join(lines) + "".join(self._held)
        hidden = bytearray(len(text))
        for form in self._forms:
            start = text.find(form)
            while start != -1:
                hidden[start : start + len(form)] = b"\x01" * len(form)
                start = text.find(form, start + 1)
        masked, position = [], len(context)
        for line in lines:
            masked.append(_masked_runs(line, hidden[position : position + len(line)]))
            position += len(line)
        keep = max(len(self._forms[0]) - 1, 0) if self._forms else 0
        released = context + "".join(lines)
        self._released = released[len(released) - keep :] if keep else ""
        return masked


def _masked_runs(line: str, hidden: bytes | bytearray) -> str:
    """`line` with each run of hidden characters replaced by one MASK."""
    out: list[str] = []
    for index, char in enumerate(line):
        if not hidden[index]:
            out.append(char)
        elif index == 0 or not hidden[index - 1]:
            out.append(MASK)
    return "".join(out)


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

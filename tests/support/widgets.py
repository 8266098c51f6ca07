"""Reading what an `ipywidgets.HTML` shows a person: its text without tags or escapes."""

from __future__ import annotations

import html
import re

import ipywidgets as widgets


def shown(widget: widgets.HTML | str) -> str:
    value = widget if isinstance(widget, str) else widget.value
    return html.unescape(re.sub(r"<[^>]+>", " ", value)).strip()

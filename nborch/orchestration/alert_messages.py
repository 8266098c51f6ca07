"""What an alert says: enough to act without opening anything else — the deployment, the
run, its state and why, the failing cell's line and exception, the parameters (secret
references stay references), the duration, a link to the run's HTML output when
`public_url` is set, and the command that runs it again. Every text is masked of the run's
secret values (`nborch.execution.masking`). A digest counts what a storm held back.

`Message` is channel-neutral; `alert_channels` turns it into a webhook body or an email.
"""

from __future__ import annotations

import html
import json
import re
import shlex
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from nborch.execution.masking import mask_text, masked_forms
from nborch.models import FlowRun
from nborch.settings import get_settings

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
# IPython marks the line that raised: "----> 3 raise ValueError(...)".
_ARROW = re.compile(r"^-+>\s*(\d+)\s?(.*)$")


@dataclass
class Message:
    """One alert, for any channel: `fields` are the facts (the webhook's JSON), `text` the
    same for people, `cell_html` the failing cell as HTML (email), when there is one."""

    subject: str
    text: str
    fields: dict[str, Any]
    cell_html: str | None = None
    severity: str = "error"  # error, warning, good
    lines: list[str] = field(default_factory=list)


def output_link(run_id: object) -> str | None:
    base = get_settings().public_url
    return f"{base.rstrip('/')}/api/v1/flow-runs/{run_id}/output.html" if base else None


def retry_command(run: FlowRun) -> str | None:
    """The command that runs the deployment again with the run's parameters."""
    if not run.deployment_name:
        return None
    words = ["nborch", "deployment", "run", run.deployment_name]
    for name, value in run.parameters.items():
        text = value if isinstance(value, str) else json.dumps(value)
        words += ["-p", f"{name}={text}"]
    return shlex.join(words)


def _failing_cell(notebook: dict[str, Any] | None, index: int) -> dict[str, Any] | None:
    cells = (notebook or {}).get("cells") or []
    return cells[index] if 0 <= index < len(cells) else None


def _source(cell_source: str | list[str]) -> str:
    return "".join(cell_source) if isinstance(cell_source, list) else cell_source


def failing_line(source: str, cell: dict[str, Any] | None) -> str:
    """The line that raised, from the cell's traceback (IPython's arrow), else the cell's
    last line."""
    for output in (cell or {}).get("outputs") or []:
        if output.get("output_type") != "error":
            continue
        for frame in reversed(output.get("traceback") or []):
            for line in reversed(_ANSI.sub("", frame).splitlines()):
                found = _ARROW.match(line.strip())
                if found:
                    return found.group(2).strip()
    lines = [line for line in source.splitlines() if line.strip()]
    return lines[-1].strip() if lines else ""


def _cell_html(cell: dict[str, Any]) -> str:
    from nborch.execution.html import notebook_html

    notebook = {"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    return notebook_html(notebook, template="basic")


def _duration(run: FlowRun) -> str | None:
    if run.start_time is None or run.end_time is None:
        return None
    seconds = (run.end_time - run.start_time).total_seconds()
    return f"{seconds:.1f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def run_message(
    run: FlowRun,
    state: str,
    state_message: str,
    rule: str,
    secrets: list[str],
    notebook: dict[str, Any] | None,
) -> Message:
    """The alert of `run` entering `state`; `secrets`: its secret values, to mask."""
    forms = masked_forms(secrets)

    def masked(text: str) -> str:
        return mask_text(text, forms)

    owner = run.deployment_name or f"flow {run.flow_name}"
    facts: dict[str, Any] = {
        "kind": "run",
        "rule": rule,
        "deployment": run.deployment_name,
        "flow": run.flow_name,
        "run_id": str(run.id),
        "run_name": run.name,
        "state": state,
        "message": masked(state_message),
        "parameters": json.loads(masked(json.dumps(run.parameters))),
        "pool": run.pool_name,
        "attempt": run.run_count,
        "duration": _duration(run),
        "output_html": output_link(run.id),
        "retry": retry_command(run),
    }
    lines = [
        f"{owner}: run {run.name} is {state}" + (f": {facts['message']}" if state_message else "")
    ]
    cell_html = None
    if run.failure is not None:
        cell = _failing_cell(notebook, run.failure.cell_index)
        facts["failure"] = {
            "cell": run.failure.cell_index,
            "line": masked(failing_line(run.failure.source, cell)),
            "exception": masked(f"{run.failure.ename}: {run.failure.evalue}"),
        }
        lines.append(
            f"Cell {run.failure.cell_index}: {facts['failure']['line']}\n"
            f"{facts['failure']['exception']}"
        )
        if cell is not None:
            try:
                cell_html = masked(_cell_html(cell))
            except Exception:  # nbconvert could not render it: the text says it all
                cell_html = None
    if run.parameters:
        lines.append("Parameters: " + json.dumps(facts["parameters"]))
    for label, key in (("Duration", "duration"), ("Output", "output_html"), ("Retry", "retry")):
        if facts[key]:
            lines.append(f"{label}: {facts[key]}")
    severity = {"COMPLETED": "good", "CANCELLED": "warning", "LATE": "warning"}.get(state, "error")
    if state == "RUNNING":
        severity = "warning"
    subject = f"[nborch] {owner}: {run.name} {state}"
    return Message(subject, "\n".join(lines), facts, cell_html, severity, lines)


def digest_message(
    rule: str, events: list[tuple[str, str | None, str]], first: datetime, last: datetime
) -> Message:
    """One message for many events held back by the rule's rate limit: (run name,
    deployment, state) each."""
    states = Counter(state for _run, _dep, state in events)
    deployments = Counter(dep or "(no deployment)" for _run, dep, _state in events)
    count = len(events)
    what = ", ".join(f"{n} {s}" for s, n in states.most_common())
    top = ", ".join(f"{d} ({n})" for d, n in deployments.most_common(5))
    seconds = max((last - first).total_seconds(), 0)
    lines = [
        f"{count} run events in {seconds:.0f} s ({what}); rule '{rule}' sends one digest "
        "instead of a message each.",
        f"Deployments: {top}",
        "Runs: " + ", ".join(run for run, _d, _s in events[:10]) + (" ..." if count > 10 else ""),
        "List them: nborch flow-run ls --state " + " --state ".join(states),
    ]
    facts = {
        "kind": "digest",
        "rule": rule,
        "count": count,
        "states": dict(states),
        "deployments": dict(deployments),
        "runs": [run for run, _d, _s in events[:100]],
    }
    return Message(
        f"[nborch] {count} run events ({what})", "\n".join(lines), facts, None, "error", lines
    )


def test_message(rule: str) -> Message:
    text = f"A test message of nborch alert rule '{rule}': its target receives alerts."
    return Message(
        f"[nborch] test of alert rule '{rule}'",
        text,
        {"kind": "test", "rule": rule},
        None,
        "good",
        [text],
    )


def escape_lines(message: Message) -> str:
    """The message's lines as HTML paragraphs."""
    return "".join(f"<p>{html.escape(line).replace(chr(10), '<br>')}</p>" for line in message.lines)

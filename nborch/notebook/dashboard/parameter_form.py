"""The form "Run" opens: one editor per flow parameter, chosen by its type and starting at
its default, plus the run's job variables and its timeout; a bad value is shown beside its field and
creates nothing.

| parameter type | editor |
|---|---|
| `bool` | checkbox |
| `int`, `float` | number box (a text box when the default is None) |
| `str` | text box; a date picker when the default is a date (`"2024-01-31"`) |
| `list` | a list editor: tags for strings, numbers for numbers, else JSON text |
| `dict`, `any` | JSON (or YAML) text |

Values typed as text are read as `nborch.parameters` reads `-p name=value` on the command
line, and checked by its `validate_parameters`, so the form accepts exactly what the CLI
does. Only the values that differ from what the run would get anyway (the deployment's
parameters, else the notebook's defaults) are sent, as the CLI sends only its `-p`s.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import date
from typing import Any

import ipywidgets as widgets

from nborch.client import NborchClient
from nborch.errors import NborchError, ParameterError, ValidationError
from nborch.models import Deployment, FlowRun, ParameterSpec
from nborch.notebook.dashboard.formatting import compact, error, muted, success, text
from nborch.notebook.dashboard.rows import button
from nborch.parameters import parse_cli_value, validate_parameters
from nborch.timeutil import format_seconds, parse_duration

ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
NAMED_PARAMETER = re.compile(r"Parameter '([^']+)'")
EDITOR_WIDTH = "320px"


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _all(values: Any, kind: type | tuple[type, ...]) -> bool:
    return bool(values) and all(isinstance(v, kind) and not isinstance(v, bool) for v in values)


class ParameterField:
    """One parameter: a label, its editor, and its error beside it."""

    def __init__(self, spec: ParameterSpec, initial: Any, owner: str) -> None:
        self.spec = spec
        self.initial = initial
        self.owner = owner
        # What a text box shows at first: a string as it is, other values as JSON.
        if isinstance(initial, str):
            self.initial_text = initial
        else:
            self.initial_text = "" if initial is None else json.dumps(initial)
        self.kind, self.editor = self._make_editor()
        self.error = widgets.HTML()
        label = widgets.HTML(
            f"<code>{text(spec.name)}</code> {muted(spec.type)}",
            layout=widgets.Layout(width="180px"),
            tooltip=spec.help or None,
        )
        parts: list[widgets.Widget] = [label, self.editor, self.error]
        if spec.help:
            parts.insert(2, widgets.HTML(muted(spec.help)))
        self.widget = widgets.HBox(parts, layout=widgets.Layout(align_items="center"))
        self.widget.add_class(f"nborch-parameter-{spec.name}")

    def _make_editor(self) -> tuple[str, widgets.ValueWidget]:
        spec, initial = self.spec, self.initial
        layout = widgets.Layout(width=EDITOR_WIDTH)
        if spec.type == "bool":
            return "checkbox", widgets.Checkbox(value=bool(initial), indent=False)
        if spec.type == "int" and _is_number(initial) and float(initial).is_integer():
            return "number", widgets.IntText(value=int(initial), layout=layout)
        if spec.type == "float" and _is_number(initial):
            return "number", widgets.FloatText(value=float(initial), layout=layout)
        if spec.type == "str" and isinstance(initial, str) and ISO_DATE.match(initial):
            try:
                return "date", widgets.DatePicker(value=date.fromisoformat(initial))
            except ValueError:
                pass  # not a real date (2024-02-30): a text box then
        if spec.type == "list" and isinstance(initial, list):
            if _all(initial, str):
                return "list", widgets.TagsInput(value=list(initial), allow_duplicates=True)
            if _all(initial, int):
                return "list", widgets.IntsInput(value=list(initial))
            if _all(initial, (int, float)):
                return "list", widgets.FloatsInput(value=[float(v) for v in initial])
        if spec.type in ("list", "dict"):
            return "text", widgets.Textarea(
                value=self.initial_text, layout=widgets.Layout(width=EDITOR_WIDTH, height="60px")
            )
        return "text", widgets.Text(value=self.initial_text, layout=layout)

    def read(self) -> tuple[bool, Any]:
        """(whether the value differs from the initial one, the value); a value the
        parameter refuses raises ParameterError."""
        value = self._value()
        if _is_number(value) and _is_number(self.initial):
            return value != self.initial, value
        return type(value) is not type(self.initial) or value != self.initial, value

    def _value(self) -> Any:
        if self.kind == "date":
            picked = self.editor.value
            if picked is None:
                raise ParameterError(
                    f"Parameter '{self.spec.name}' of {self.owner} needs a date: pick one.",
                    parameter=self.spec.name,
                )
            return picked.isoformat()
        if self.kind == "list":
            return list(self.editor.value)
        if self.kind != "text":
            return self.editor.value
        raw = str(self.editor.value)
        if raw == self.initial_text:
            return self.initial
        if not raw.strip() and self.initial is None:
            return None
        return parse_cli_value(self.spec, raw, self.owner)

    def show_error(self, message: str) -> None:
        self.error.value = error(message)


class ParameterForm:
    """Run a deployment with these parameters and job variables: `submit()` (the "Create
    run" button) creates the run, or shows what is wrong and creates nothing."""

    def __init__(
        self,
        client: NborchClient,
        deployment: Deployment,
        *,
        on_created: Callable[[FlowRun], None] = lambda run: None,
        on_close: Callable[[], None] = lambda: None,
    ) -> None:
        self.client = client
        self.deployment = deployment
        self.on_created = on_created
        self.owner = f"deployment '{deployment.full_name}'"
        self.fields = {
            spec.name: ParameterField(
                spec, deployment.parameters.get(spec.name, spec.default), self.owner
            )
            for spec in deployment.parameter_specs
        }
        self.job_variables = widgets.Textarea(
            value="",
            placeholder='{"env": {"STAGE": "test"}}',
            layout=widgets.Layout(width=EDITOR_WIDTH, height="60px"),
        )
        self.job_variables_error = widgets.HTML()
        timeout = self.deployment.timeout_seconds
        self.timeout = widgets.Text(
            value="",
            placeholder=f"deployment's: {format_seconds(timeout) if timeout else 'none'}",
            layout=widgets.Layout(width="160px"),
        )
        self.submit_button = button(
            "Create run", "Create a flow run with these values", style="primary"
        )
        self.close_button = button("Close", "Close this form")
        self.message = widgets.HTML()
        self.close_button.on_click(lambda _b: on_close())
        self.widget = widgets.VBox(
            [
                widgets.HTML(f"<b>Run {text(deployment.full_name)}</b>"),
                *(field.widget for field in self.fields.values()),
                *([] if self.fields else [widgets.HTML(muted("This flow has no parameters."))]),
                widgets.HBox(
                    [
                        widgets.HTML(
                            "<code>job variables</code>", layout=widgets.Layout(width="180px")
                        ),
                        self.job_variables,
                        widgets.HTML(muted(self._job_variables_hint())),
                        self.job_variables_error,
                    ],
                    layout=widgets.Layout(align_items="center"),
                ),
                widgets.HBox(
                    [
                        widgets.HTML("<code>timeout</code>", layout=widgets.Layout(width="180px")),
                        self.timeout,
                        widgets.HTML(muted("this run's, e.g. 30m or 2h: stopped past it")),
                    ],
                    layout=widgets.Layout(align_items="center"),
                ),
                widgets.HBox([self.submit_button, self.close_button, self.message]),
            ],
            layout=widgets.Layout(border="1px solid #e5e7eb", padding="6px", margin="6px 0"),
        )
        self.widget.add_class("nborch-run-form")

    def _job_variables_hint(self) -> str:
        said = f"deployment's: {compact(self.deployment.job_variables)}"
        if self.deployment.pool_name:
            try:
                pool = self.client.get_pool(self.deployment.pool_name)
            except NborchError:
                return said
            offered = pool.base_job_template.get("variables", {}).get("properties", {})
            if offered:
                said += f"; pool '{pool.name}' offers {', '.join(sorted(offered))}"
        return said

    def values(self) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """The parameters and job variables the run would get, or None (errors shown)."""
        for field in self.fields.values():
            field.show_error("")
        self.job_variables_error.value = ""
        self.message.value = ""
        parameters: dict[str, Any] = {}
        good = True
        for name, field in self.fields.items():
            try:
                changed, value = field.read()
            except ParameterError as err:
                field.show_error(err.message)
                good = False
                continue
            if changed:
                parameters[name] = value
        if good:
            try:
                validate_parameters(self.deployment.parameter_specs, parameters, self.owner)
            except ParameterError as err:
                self._show(err)
                good = False
        job_variables = self._read_job_variables()
        if job_variables is None or not good:
            if not self.message.value:
                self.message.value = error("Fix the values marked in red: no run was created.")
            return None
        return parameters, job_variables

    def _read_job_variables(self) -> dict[str, Any] | None:
        raw = self.job_variables.value
        if not raw.strip():
            return {}
        value = parse_cli_value(None, raw, self.owner)
        if not isinstance(value, dict):
            self.job_variables_error.value = error(
                f"Job variables must be an object of names and values, got {raw.strip()!r}. "
                'Write e.g. {"env": {"STAGE": "test"}}'
            )
            return None
        return value

    def submit(self) -> FlowRun | None:
        """Create the run from the form's values; None when a value is refused."""
        values = self.values()
        if values is None:
            return None
        parameters, job_variables = values
        try:
            raw = self.timeout.value.strip()
            timeout = parse_duration(raw, "Timeout") if raw else None
        except ValueError as err:
            self.message.value = error(f"{err} No run was created.")
            return None
        try:
            run = self.client.create_run(
                self.deployment.full_name,
                parameters=parameters,
                job_variables=job_variables,
                timeout_seconds=timeout,
            )
        except NborchError as err:
            if not self._show(err):  # the form's own error: it says what was refused
                self.message.value = error(f"{err.message} No run was created.")
            return None
        self.message.value = success(f"Created flow run '{run.name}' ({run.state.value}).")
        self.on_created(run)
        return run

    def _show(self, err: NborchError) -> bool:
        """An error beside the field it is about: a parameter's (named by the error, or by
        its message when it came over HTTP), the job variables', or the form's (False)."""
        name = getattr(err, "parameter", None)
        if name is None and isinstance(err, ValidationError):
            found = NAMED_PARAMETER.search(err.message)
            name = found.group(1) if found else None
        if name in self.fields:
            self.fields[name].show_error(err.message)
            return True
        if "job variable" in err.message.lower():
            self.job_variables_error.value = error(err.message)
            return True
        self.message.value = error(err.message)
        return False

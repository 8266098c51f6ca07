"""What the JupyterLab panel asks of the server beyond the client's operations: the
parameters of a notebook in the server's folder, the next times of a cron expression, and
deploying a notebook by its path there ("Deploy this notebook…").

Notebook paths are the file browser's: relative to the server's notebook folder (Jupyter's
`root_dir`; the working directory of `nborch server start`). A path that leads out of it,
by `..` or through a symbolic link, is refused.
"""

from __future__ import annotations

from datetime import datetime
from itertools import islice
from pathlib import Path, PurePosixPath

from croniter import CroniterBadDateError
from papermill.exceptions import PapermillException

from nborch.client.base import NborchClient
from nborch.client.routes import AppliedDeployment, CronPreview, DeployNotebook, NotebookParameters
from nborch.errors import NborchError, NotebookError, ValidationError
from nborch.flows import Flow
from nborch.orchestration.timetables import check_cron, check_timezone, cron_times
from nborch.timeutil import utcnow


def resolve_notebook(root: Path, path: str) -> Path:
    """The notebook `path` names under `root`, or a ValidationError saying why not."""
    shown = f"Notebook path {path!r}"
    relative = PurePosixPath(path.replace("\\", "/"))
    if relative.is_absolute():
        raise ValidationError(
            f"{shown} is absolute: give it relative to the server's folder ({root}), as the "
            "file browser shows it."
        )
    if relative.suffix != ".ipynb":
        raise ValidationError(f"{shown} does not name a notebook: name an .ipynb file.")
    try:
        base = root.resolve()
        resolved = (base / relative).resolve()
    except (OSError, RuntimeError) as err:  # too long a name, a symbolic link loop
        raise ValidationError(f"{shown} cannot be used: {err}") from None
    if not resolved.is_relative_to(base):
        raise ValidationError(
            f"{shown} leads out of the server's folder ({base}): name a notebook inside it."
        )
    return resolved


def _read_flow(root: Path, path: str, flow_name: str | None = None) -> Flow:
    notebook = resolve_notebook(root, path)
    try:
        return Flow.from_notebook(notebook, flow_name)
    except NborchError:
        raise
    except (OSError, ValueError, SyntaxError, PapermillException) as err:
        # papermill reading an odd parameters cell, or a kernel it has no translator for
        raise NotebookError(
            f"The parameters of notebook {path!r} cannot be read: {err} Check its kernel and "
            "its cell tagged 'parameters' (plain assignments such as n: int = 3)."
        ) from None


def notebook_parameters(root: Path, path: str) -> NotebookParameters:
    flow = _read_flow(root, path)
    return NotebookParameters(path=path, flow_name=flow.name, parameters=flow.parameters)


def cron_preview(
    cron: str, timezone: str = "UTC", count: int = 5, after: datetime | None = None
) -> CronPreview:
    expression = check_cron(cron)
    check_timezone(timezone)
    try:
        times = list(islice(cron_times(expression, timezone, after or utcnow()), count))
    except CroniterBadDateError:
        raise ValidationError(
            f"{cron!r} never fires (no date matches it, e.g. the 31st of February). "
            "Check its day-of-month and month fields."
        ) from None
    return CronPreview(cron=expression, timezone=timezone, times=times)


def deploy_notebook(client: NborchClient, root: Path, request: DeployNotebook) -> AppliedDeployment:
    """Deploy the notebook at `request.path`: its schedule is exactly the cron given (none
    when there is none), as the dialog shows it."""
    flow = _read_flow(root, request.path, request.flow_name)
    # Checked before an image is built for nothing (the time zone even with no cron).
    check_timezone(request.timezone)
    if request.cron:
        check_cron(request.cron)
    deployment, created = flow.deploy(
        request.name,
        request.pool_name,
        parameters=request.parameters,
        job_variables=request.job_variables,
        description=request.description,
        cron=request.cron or None,
        timezone=request.timezone,
        schedules=None if request.cron else [],
        image=request.image,
        build=request.build_image,
        quiet=True,
        client=client,
    )
    return AppliedDeployment(deployment=deployment, created=created)

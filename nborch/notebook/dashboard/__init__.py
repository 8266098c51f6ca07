"""The ipywidgets dashboard: `nborch.dashboard()` or `%nborch_dashboard`.

Modules, one idea each: `app` (the widget and its tabs' wiring), `pools_tab`,
`workers_tab`, `deployments_tab`, `runs_tab` with `run_detail`, `compare_tab` with
`comparison` (what differs between two runs), `parameter_form` (the form "Run" opens),
`progress` (a run's per-cell progress from its output notebook), `notebook_html`
(nbconvert), `refresher` (the background thread), `rows` (tables updated in place),
`actions` (buttons), `formatting`.
"""

from nborch.notebook.dashboard.app import DEFAULT_REFRESH_INTERVAL, Dashboard, dashboard

__all__ = ["DEFAULT_REFRESH_INTERVAL", "Dashboard", "dashboard"]

"""nborch inside `jupyter lab` / `jupyter server`: a jupyter_server `ExtensionApp` (enabled on
install by jupyter_server_config.d/nborch.json) that serves the API's handlers under Jupyter's
base URL behind Jupyter's own login, ticks the scheduler, so a running Jupyter keeps
schedules on time without a worker, and runs the dispatcher, which serves managed and push
pools. What it starts when Jupyter loads it, it stops when Jupyter shuts down
(`stop_extension`). Its settings (`NborchApp` below) are traitlets as well as NBORCH_*
variables (`nborch.settings`); who may do what is configured here too, together with
Jupyter's authorizer (`nborch.api.jupyter_roles`)."""

from __future__ import annotations

import asyncio
import os
import socket
from typing import Any, get_args

from jupyter_server.base.handlers import APIHandler
from jupyter_server.extension.application import ExtensionApp
from traitlets import Bool, Dict, Float, Integer, List, TraitType, Unicode

from nborch.api.handlers import ApiHandlerMixin, api_handlers
from nborch.api.jupyter_roles import JupyterRoles, jupyter_principal
from nborch.api.service import ApiService
from nborch.dispatch import Dispatcher
from nborch.orchestration.api_keys import Principal
from nborch.scheduler_loop import SchedulerLoop
from nborch.settings import Settings, reset_settings, settings_environment, variable_for
from nborch.store.engine import close_stores

# Clients of a Jupyter server point at its URL + this (NBORCH_API_URL, e.g.
# http://127.0.0.1:8888/nborch), with a Jupyter token as NBORCH_API_KEY.
MOUNT = "/nborch"


class JupyterApiHandler(ApiHandlerMixin, APIHandler):
    """A logged-in Jupyter user has the nborch role Jupyter's config and authorizer give it
    (by default: an admin)."""

    _content_type = "application/json"
    roles: JupyterRoles

    def initialize(self, service: ApiService, routes: dict[str, Any]) -> None:
        super().initialize(service, routes)
        self.roles = self.settings.get("nborch_roles") or JupyterRoles()

    async def caller(self) -> Principal | None:
        return await jupyter_principal(self, self.roles)

    def set_header(self, name: str, value: Any) -> None:
        if name.lower() == "content-type":
            self._content_type = str(value)
        super().set_header(name, value)

    def finish(self, *args: Any, **kwargs: Any) -> Any:
        # Jupyter's APIHandler labels every answer JSON; keep the route's own type
        # (GET /flow-runs/{id}/output.html is HTML).
        kwargs.setdefault("set_content_type", self._content_type)
        return super().finish(*args, **kwargs)


def _settings_traits() -> dict[str, TraitType[Any, Any]]:
    """A traitlet for each NBORCH_* setting, None (the variable's value, or nborch's
    default) unless configured."""
    trait_types: dict[Any, type[TraitType[Any, Any]]] = {float: Float, int: Integer, bool: Bool}
    traits: dict[str, TraitType[Any, Any]] = {}
    for name, field in Settings.model_fields.items():
        # float, int, bool, or text (str, Path, SecretStr); all may be None (not configured)
        [kind] = set(get_args(field.annotation) or [field.annotation]) - {type(None)}
        traits[name] = trait_types.get(kind, Unicode)(
            None,
            allow_none=True,
            help=f"nborch's {variable_for(name)} for this Jupyter server and the kernels it "
            "starts (the README's Settings table says what it does); set here, it wins over "
            "the environment variable.",
        ).tag(config=True)
    return traits


class NborchApp(ExtensionApp):
    """nborch's API, scheduler and dispatcher in a Jupyter server, configured as
    `c.NborchApp.<name>` in jupyter_server_config (or `--NborchApp.<name>=...`): the two
    switches below, and every NBORCH_* setting by its name (`c.NborchApp.home`, ...)."""

    name = "nborch"
    description = "Notebook orchestration: nborch's API, scheduler and dispatcher in Jupyter"

    run_scheduler = Bool(
        True,
        help="Tick nborch's scheduler in this Jupyter server, so schedules make their runs "
        "with no other nborch process (one process ticks at a time, whoever holds the lease).",
    ).tag(config=True)
    run_dispatcher = Bool(
        True,
        help="Serve the managed and push pools (nborch:managed, docker-swarm, dask) from "
        "this Jupyter server; another dispatcher on the same store may serve them as well.",
    ).tag(config=True)

    # Who may do what (`nborch.api.jupyter_roles`): none configured, everyone is an admin.
    admin_users = List(
        Unicode(),
        default_value=[],
        help='Jupyter users who are nborch admins ("*": every logged-in user). With none of '
        "admin_users, viewer_users and run_deployments set, every logged-in user is one. "
        "Jupyter's authorizer must allow them write on the resource 'nborch'.",
    ).tag(config=True)
    viewer_users = List(
        Unicode(),
        default_value=[],
        help="Jupyter users who may read nborch's pools, deployments, runs, logs and outputs "
        '(nothing secret, no change); "*": every logged-in user.',
    ).tag(config=True)
    run_deployments = Dict(
        key_trait=Unicode(),
        value_trait=List(Unicode()),
        default_value={},
        help="Jupyter users who may run some deployments and read what viewers read: user "
        '(or "*") -> FLOW/NAME patterns, e.g. {"alice": ["reports/*"]}. Jupyter\'s '
        "authorizer must allow them execute on 'nborch'.",
    ).tag(config=True)

    # One traitlet per setting, made from `Settings` so that the two cannot drift apart.
    locals().update(_settings_traits())

    service: ApiService | None = None
    scheduler: SchedulerLoop | None = None
    dispatcher: Dispatcher | None = None
    # NBORCH_* variables as they were before the configured settings replaced them.
    _environment_before: dict[str, str | None] = {}

    def initialize_settings(self) -> None:
        """Start the API's service, the scheduler and the dispatcher (Jupyter calls this
        once, when it loads the extension)."""
        assert self.serverapp is not None
        log = self.serverapp.log
        self._export_settings()
        # Notebooks are deployed by their path in Jupyter's file browser, under its root_dir.
        app = self.serverapp
        self.service = ApiService(
            notebook_root=app.root_dir,
            name=f"jupyter {socket.gethostname()}:{app.port}{app.base_url.rstrip('/')}",
        )
        self.service.keep_alive()
        if self.run_scheduler:
            self.scheduler = SchedulerLoop(
                self.service.client,
                f"jupyter server {socket.gethostname()} ({os.getpid()})",
                on_error=lambda e: log.warning("nborch scheduler: %s", e),
            ).start()
        if self.run_dispatcher:
            self.dispatcher = Dispatcher(
                self.service.client, echo=lambda line: log.info("nborch: %s", line)
            ).start()
        roles = JupyterRoles(
            frozenset(self.admin_users),
            frozenset(self.viewer_users),
            {user: tuple(patterns) for user, patterns in self.run_deployments.items()},
        )
        self.settings.update(
            nborch_scheduler=self.scheduler, nborch_dispatcher=self.dispatcher, nborch_roles=roles
        )

    def initialize_handlers(self) -> None:
        """The API's routes under Jupyter's base URL + /nborch/api/v1."""
        assert self.service is not None and self.serverapp is not None
        self.handlers.extend(api_handlers(self.service, JupyterApiHandler, MOUNT))
        self.serverapp.log.info(
            "nborch: API at %s%s/api/v1, scheduler %s, managed and push pools %s",
            self.serverapp.base_url.rstrip("/"),
            MOUNT,
            "on" if self.scheduler else "off",
            "served here" if self.dispatcher else "not served here",
        )

    async def stop_extension(self) -> None:
        """Jupyter is shutting down: stop the scheduler, the dispatcher (the runs in its
        hands get its grace period) and the service's threads, off the event loop."""
        await asyncio.to_thread(self._stop)

    def _stop(self) -> None:
        if self.scheduler is not None:
            self.scheduler.stop()
            self.scheduler = None
        if self.dispatcher is not None:
            self.dispatcher.stop()
            self.dispatcher = None
        if self.service is not None:
            self.service.close()
            self.service = None
        close_stores()  # and the store's wake-up thread
        self._restore_environment()
        if self.serverapp is not None:
            self.serverapp.log.info("nborch: scheduler, dispatcher and API stopped")

    def _export_settings(self) -> None:
        """The settings configured here become this process's NBORCH_* variables, over
        any set before: nborch reads its settings from them, and the kernels Jupyter starts
        (and the magics in them) inherit them, so they use the same store."""
        assert self.serverapp is not None
        configured = {
            name: getattr(self, name)
            for name in Settings.model_fields
            if getattr(self, name) is not None
        }
        environment = settings_environment(configured, "c.NborchApp")
        self._environment_before = {}
        for name in configured:
            variable = variable_for(name)
            before = os.environ.get(variable)
            if before is not None and before != environment[variable]:  # no values: secrets
                self.serverapp.log.info("nborch: c.NborchApp.%s wins over %s", name, variable)
            self._environment_before[variable] = before
            os.environ[variable] = environment[variable]
        reset_settings()

    def _restore_environment(self) -> None:
        for variable, value in self._environment_before.items():
            if value is None:
                os.environ.pop(variable, None)
            else:
                os.environ[variable] = value
        self._environment_before = {}
        reset_settings()

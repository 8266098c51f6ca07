"""The API inside `jupyter lab` / `jupyter server`: the same handlers under Jupyter's base URL,
behind Jupyter's own login; the scheduler ticks here too, so a running Jupyter keeps
schedules on time without a worker, and the dispatcher serves managed and push pools.
Enabled on install (jupyter_server_config.d/nborch.json)."""

from __future__ import annotations

import os
import socket
from typing import Any

from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join

from nborch.api.handlers import ApiHandlerMixin, api_handlers
from nborch.api.service import ApiService, jupyter_principal
from nborch.dispatch import Dispatcher
from nborch.orchestration.api_keys import Principal
from nborch.scheduler_loop import SchedulerLoop, server_orphan_grace


class JupyterApiHandler(ApiHandlerMixin, APIHandler):
    """A logged-in Jupyter user may do anything an admin key may."""

    _content_type = "application/json"

    async def caller(self) -> Principal | None:
        return jupyter_principal(self.current_user is not None)

    def set_header(self, name: str, value: Any) -> None:
        if name.lower() == "content-type":
            self._content_type = str(value)
        super().set_header(name, value)

    def finish(self, *args: Any, **kwargs: Any) -> Any:
        # Jupyter's APIHandler labels every answer JSON; keep the route's own type
        # (GET /flow-runs/{id}/output.html is HTML).
        kwargs.setdefault("set_content_type", self._content_type)
        return super().finish(*args, **kwargs)


def _load_jupyter_server_extension(serverapp: Any) -> None:
    # Notebooks are deployed by their path in Jupyter's file browser, under its root_dir.
    service = ApiService(notebook_root=serverapp.root_dir)
    # NBORCH_API_URL for clients of this Jupyter: its URL + "/nborch" (e.g.
    # http://127.0.0.1:8888/nborch) with a Jupyter token as NBORCH_API_KEY.
    base_url = url_path_join(serverapp.web_app.settings.get("base_url", "/"), "nborch")
    serverapp.web_app.add_handlers(".*$", api_handlers(service, JupyterApiHandler, base_url))
    holder = f"jupyter server {socket.gethostname()} ({os.getpid()})"
    scheduler = SchedulerLoop(
        service.client,
        holder,
        on_error=lambda e: serverapp.log.warning("nborch scheduler: %s", e),
        orphan_grace=server_orphan_grace(),
    ).start()
    serverapp.web_app.settings["nborch_scheduler"] = scheduler
    dispatcher = Dispatcher(
        service.client, echo=lambda line: serverapp.log.info("nborch: %s", line)
    ).start()
    serverapp.web_app.settings["nborch_dispatcher"] = dispatcher
    serverapp.log.info(
        "nborch: API at %s/api/v1, scheduler on, managed and push pools served", base_url
    )

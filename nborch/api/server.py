"""`nborch server start`: the API on its own tornado server, with API keys, and the scheduler
ticking inside it. It binds to loopback unless told otherwise."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import threading
from collections.abc import Callable
from pathlib import Path

from tornado.httpserver import HTTPServer
from tornado.web import Application

from nborch.api.handlers import KeyAuthenticatedHandler, NoSuchPathHandler, api_handlers
from nborch.api.service import ApiService
from nborch.client.routes import API_PREFIX, MAX_NOTEBOOK_BYTES
from nborch.dispatch import Dispatcher
from nborch.scheduler_loop import SchedulerLoop


class ApiServer:
    """The API and the scheduler on one event loop; `start` and `stop` run on that loop.

    The dispatcher (the worker of every managed and push pool) runs beside them, unless
    `run_dispatcher` is False; by default it runs where the scheduler does."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 8750,
        *,
        run_scheduler: bool = True,
        echo: Callable[[str], None] = print,
        notebook_root: str | Path | None = None,
        run_dispatcher: bool | None = None,
    ) -> None:
        self.host, self.port = host, port
        self.run_scheduler = run_scheduler
        self.run_dispatcher = run_scheduler if run_dispatcher is None else run_dispatcher
        self.dispatcher: Dispatcher | None = None
        self.echo = echo
        # Notebooks deployed by path (POST /deploy-notebook) are under this folder.
        self.service = ApiService(notebook_root=notebook_root)
        self.http = HTTPServer(
            Application(
                api_handlers(self.service, KeyAuthenticatedHandler),
                default_handler_class=NoSuchPathHandler,
            ),
            max_body_size=MAX_NOTEBOOK_BYTES + 1024 * 1024,
        )
        self.scheduler: SchedulerLoop | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> None:
        sockets = self._bind()
        self.http.add_sockets(sockets)
        self.port = sockets[0].getsockname()[1]
        # The same name after a restart on this port: its workers' silence while it was
        # down does not count against them (`nborch.orchestration.crash_detection`).
        self.service.name = f"{socket.gethostname()}:{self.port}"
        self.service.keep_alive()
        if self.run_scheduler:
            holder = f"server {socket.gethostname()}:{self.port} ({os.getpid()})"
            self.scheduler = SchedulerLoop(
                self.service.client,
                holder,
                on_error=lambda e: self.echo(f"scheduler: {e}"),
            ).start()
        if self.run_dispatcher:
            self.dispatcher = Dispatcher(self.service.client, echo=self.echo).start()
        if not self.service.client.list_api_keys():
            self.echo(
                "No API key exists yet: every request but /health will be refused. Create one: "
                "nborch api-key create admin --role admin"
            )
        self.echo(
            f"nborch server listening on {self.url} (API at {self.url}{API_PREFIX}, scheduler "
            f"{'on' if self.scheduler else 'off'}, managed and push pools "
            f"{'served here' if self.dispatcher else 'not served here'})"
        )

    def _bind(self) -> list[socket.socket]:
        from tornado.netutil import bind_sockets

        return bind_sockets(self.port, self.host)

    def stop(self) -> None:
        self.http.stop()
        if self.scheduler:
            self.scheduler.stop()
        if self.dispatcher:
            self.dispatcher.stop()
        self.service.close()


def run_server(
    host: str = "127.0.0.1",
    port: int = 8750,
    *,
    run_scheduler: bool = True,
    echo: Callable[[str], None] = print,
    run_dispatcher: bool | None = None,
) -> None:
    """Serve until SIGTERM or SIGINT."""

    async def serve() -> None:
        server = ApiServer(
            host, port, run_scheduler=run_scheduler, echo=echo, run_dispatcher=run_dispatcher
        )
        server.start()
        stopped = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stopped.set)
        try:
            await stopped.wait()
        finally:
            server.stop()
            echo("nborch server stopped.")

    asyncio.run(serve())


class BackgroundServer:
    """The server on a thread of this process (tests, benchmarks, notebooks)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, **options: object) -> None:
        self._options = options
        self.host, self.port = host, port
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=self._run, name="nborch-server", daemon=True)
        self.server: ApiServer | None = None

    def __enter__(self) -> BackgroundServer:
        self._thread.start()
        self._ready.wait(30)
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self.server is not None
        return self.server.url

    def _run(self) -> None:
        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._done = asyncio.Event()
            self.server = ApiServer(self.host, self.port, **self._options)  # type: ignore[arg-type]
            self.server.start()
            self._ready.set()
            await self._done.wait()
            self.server.stop()

        asyncio.run(main())

    def stop(self) -> None:
        if self._loop is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._done.set)
            self._thread.join(10)

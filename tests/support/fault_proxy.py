"""TCP proxies a test controls, between a client (a worker) and a server: each forwards
bytes both ways until told to `cut` the network (every connection reset, new ones reset at
once, as when a cable is pulled or a firewall rejects) or to `stall` it (connections stay
open and carry nothing, as when packets are dropped), then `heal` it. All proxies of a
`ProxyHost` share one asyncio loop on a thread of their own; a fake of the network, which
cannot be broken for real on loopback without root."""

from __future__ import annotations

import asyncio
import enum
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")
CHUNK = 65536


class Link(enum.Enum):
    UP = "up"
    CUT = "cut"
    STALLED = "stalled"


class FaultProxy:
    """Listens on a free loopback port and forwards each connection to `target_port`."""

    def __init__(self, host: ProxyHost, target_port: int) -> None:
        self.host = host
        self.target_port = target_port
        self.link = Link.UP
        self.port = 0
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.StreamWriter] = set()
        self._healed = asyncio.Event()
        self._healed.set()
        self._epoch = 0  # moves on at each reset: pipes of an older epoch stop

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _open(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._connections.add(writer)
        upstream: asyncio.StreamWriter | None = None
        try:
            epoch = self._epoch
            await self._healed.wait()  # a stalled link holds new connections too
            if self.link is Link.CUT or self._epoch != epoch:
                return
            try:
                up_reader, upstream = await asyncio.open_connection("127.0.0.1", self.target_port)
            except OSError:  # the server is down: the client sees its connection reset
                return
            self._connections.add(upstream)
            await asyncio.gather(
                self._pipe(reader, upstream, epoch), self._pipe(up_reader, writer, epoch)
            )
        finally:
            for end in (writer, upstream):
                if end is not None:
                    self._connections.discard(end)
                    _abort(end)

    async def _pipe(
        self, source: asyncio.StreamReader, sink: asyncio.StreamWriter, epoch: int
    ) -> None:
        try:
            while data := await source.read(CHUNK):
                await self._healed.wait()  # stalled: the bytes wait
                if self._epoch != epoch:  # reset meanwhile: they are lost
                    break
                sink.write(data)
                await sink.drain()
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            _abort(sink)

    def _reset_all(self) -> None:
        self._epoch += 1
        for writer in list(self._connections):
            _abort(writer)
        self._connections.clear()

    async def _set(self, link: Link) -> None:
        self.link = link
        if link is Link.STALLED:
            self._healed.clear()
            return
        if link is Link.CUT:
            self._reset_all()
        # A link back up after a stall drops what it held, as a peer's timeout would.
        elif not self._healed.is_set():
            self._reset_all()
        self._healed.set()

    def cut(self) -> None:
        self.host.call(self._set(Link.CUT))

    def stall(self) -> None:
        self.host.call(self._set(Link.STALLED))

    def heal(self) -> None:
        self.host.call(self._set(Link.UP))

    async def _close(self) -> None:
        if self._server is not None:
            self._server.close()
        self._reset_all()
        self._healed.set()


class ProxyHost:
    """The loop the proxies run on (a daemon thread), and the proxies it made."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.proxies: list[FaultProxy] = []
        self._thread = threading.Thread(target=self.loop.run_forever, name="proxies", daemon=True)
        self._thread.start()

    def call(self, work: Coroutine[Any, Any, T], timeout: float = 10) -> T:
        return asyncio.run_coroutine_threadsafe(work, self.loop).result(timeout)

    def proxy(self, target_port: int) -> FaultProxy:
        async def make() -> FaultProxy:
            proxy = FaultProxy(self, target_port)
            await proxy._open()
            return proxy

        proxy = self.call(make())
        self.proxies.append(proxy)
        return proxy

    def close(self) -> None:
        for proxy in self.proxies:
            self.call(proxy._close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)


def _abort(writer: asyncio.StreamWriter) -> None:
    """Close at once, with a reset rather than a polite end (what a broken network gives)."""
    transport = writer.transport
    if not transport.is_closing():
        transport.abort()

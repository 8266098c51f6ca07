"""Kernels a worker starts itself, to execute notebooks from its own process: each serves
exactly one run, then is shut down.

A `KernelRecipe` says what makes two kernels interchangeable for a run: the kernel's name,
its working directory and the environment it gets on top of the worker's. A kernel started
ahead for one recipe is only ever handed to a run with the same recipe.

Everything here runs on the worker's `KernelLoop`, shared by all its kernels, so nothing may
block it: every zmq send on it fails at once instead of waiting for a peer that is not there
(`kernel_context`), and a kernel's death is seen from its process (a pidfd) the moment it
happens, not from a socket that stays silent.

Kernels talk over IPC (Unix sockets in a folder of the worker's own): no TCP port is chosen
by the client and bound later by the kernel, the race in which two kernels started at once
take each other's ports ("Address already in use", or a client connected to another
kernel's socket).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import zmq
import zmq.asyncio
from jupyter_client import AsyncKernelManager

from nborch.errors import InfrastructureError
from nborch.execution.outcome import describe_exit

T = TypeVar("T")

STARTUP_TIMEOUT = 60.0
# Lines of a kernel's own output (stdout and stderr) kept to say why it died.
LAST_OUTPUT_LINES = 20
# As nbclient starts IPython kernels for papermill: a history of their own, in memory, not
# the user's history file (which kernels running at once would lock each other out of).
IPYTHON_HISTORY = "--HistoryManager.hist_file=:memory:"


class KernelDied(InfrastructureError):
    """A kernel process ended on its own: while starting or while it ran a notebook."""


def sockets_folder() -> str:
    """A new folder of this process's own for kernels' IPC sockets: short (a Unix socket's
    path has at most 107 bytes), and no other process's kernels name sockets in it."""
    base = "/tmp" if os.path.isdir("/tmp") else None
    return tempfile.mkdtemp(prefix="nborch-kernels-", dir=base)


def ipc_address(folder: str) -> str:
    """Where one kernel's sockets go (its `ip` with the IPC transport): `folder/<id>-N`."""
    return os.path.join(folder, uuid.uuid4().hex[:12])


@dataclass(frozen=True)
class KernelHost:
    """What the kernels of one worker share: a zmq context and the folder of their sockets.

    A send on the context that cannot be queued at once (no peer: e.g. a client connected
    to a socket of the wrong kind) raises `zmq.Again` instead of blocking the loop all the
    kernels share."""

    context: zmq.asyncio.Context
    sockets_dir: str  # short: a Unix socket's path has at most 107 bytes

    @classmethod
    def create(cls) -> KernelHost:
        context = zmq.asyncio.Context()
        context.setsockopt(zmq.SNDTIMEO, 0)
        return cls(context, sockets_folder())

    def close(self) -> None:
        self.context.destroy(linger=0)
        shutil.rmtree(self.sockets_dir, ignore_errors=True)


@dataclass(frozen=True)
class KernelRecipe:
    kernel_name: str
    cwd: str
    env: tuple[tuple[str, str], ...]  # sorted (name, value) pairs

    @classmethod
    def of(cls, kernel_name: str, cwd: str, env: Mapping[str, str]) -> KernelRecipe:
        return cls(kernel_name, cwd, tuple(sorted(env.items())))

    def describe(self) -> str:
        return f"kernel '{self.kernel_name}' in {self.cwd}"


class Kernel:
    """A kernel process, its manager and (once ready) its client.

    Its own output (stdout and stderr of the process, not the notebook's cell output) goes
    to `sink` line by line while a run holds it, and is dropped while it waits.
    """

    def __init__(self, recipe: KernelRecipe, manager: AsyncKernelManager) -> None:
        loop = asyncio.get_running_loop()
        self.recipe = recipe
        self.manager = manager
        self.client: Any = None
        self.pid: int | None = None
        self.ready: asyncio.Future[None] = loop.create_future()  # set by spawn
        self.ready_at: float | None = None  # time.monotonic() when it became ready
        self.exited: asyncio.Future[int | None] = loop.create_future()  # its exit code
        self.sink: Callable[[str], None] | None = None
        self.last_output: deque[str] = deque(maxlen=LAST_OUTPUT_LINES)
        self.is_python = False
        self._pipe: Any = None
        self._partial = b""
        self._pidfd: int | None = None
        self._closed = False

    def describe(self) -> str:
        return f"kernel '{self.recipe.kernel_name}' (pid {self.pid})"

    # ---- starting ------------------------------------------------------------------------

    @classmethod
    async def spawn(
        cls,
        recipe: KernelRecipe,
        host: KernelHost,
        *,
        run_env: Mapping[str, str] | None = None,
    ) -> Kernel:
        """Launch the kernel process (returns once it runs; `ready` resolves when it
        answers, or fails with `KernelDied`). `run_env` is added to the recipe's
        environment (a run's own values)."""
        manager = AsyncKernelManager(
            kernel_name=recipe.kernel_name,
            context=host.context,
            transport="ipc",
            ip=ipc_address(host.sockets_dir),
        )
        kernel = cls(recipe, manager)
        spec = manager.kernel_spec
        kernel.is_python = bool(spec and spec.language.lower() == "python")
        env = {**os.environ, **dict(recipe.env), **(run_env or {})}
        await manager.start_kernel(
            cwd=recipe.cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            extra_arguments=[IPYTHON_HISTORY] if manager.ipykernel else [],
        )
        provisioner: Any = manager.provisioner
        kernel.pid = provisioner.pid
        kernel._follow_output(provisioner.process)
        kernel._watch_exit(provisioner.process)
        kernel.ready = asyncio.ensure_future(kernel._become_ready())
        return kernel

    async def _become_ready(self) -> None:
        # No heartbeat channel: the manager knows from the process whether the kernel
        # lives, and the heartbeat's thread could block on a socket when it is stopped.
        client = self.manager.client(context=self.manager.context)
        client.start_channels(hb=False)
        try:
            await self.unless_it_dies(client.wait_for_ready(timeout=STARTUP_TIMEOUT), "starting")
            self.client = client
            if self.is_python:
                # The kernel's own first-execution set-up, done now rather than in the
                # run's first cell: an empty statement, silent (no count, no history).
                await self.unless_it_dies(self.run_silently("pass"), "starting")
        except BaseException:
            self.client = None
            client.stop_channels()
            raise
        self.ready_at = time.monotonic()

    # ---- dying -----------------------------------------------------------------------------

    async def unless_it_dies(self, work: Awaitable[T], doing: str) -> T:
        """`work`'s result; or, should the kernel process end first, `work` cancelled and
        `KernelDied` saying what the kernel last printed. Cancelled, it cancels `work` and
        returns once `work` has ended."""
        task = asyncio.ensure_future(work)
        watched: set[asyncio.Future[Any]] = {task, self.exited}
        try:
            await asyncio.wait(watched, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:  # `work` ends too: none of it goes on (e.g. saving)
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            raise
        if task.done():
            return task.result()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        raise KernelDied(self.death(doing))

    def death(self, doing: str) -> str:
        """'The kernel died while starting: kernel 'python3' (pid 12), killed by SIGKILL.
        Its last output: ...'"""
        code = self.exited.result() if self.exited.done() else None
        how = describe_exit(code) if code is not None else "it is gone"
        said = " | ".join(line.strip() for line in self.last_output if line.strip())
        return f"The kernel died while {doing}: {self.describe()}, {how}." + (
            f" Its last output: {said}" if said else " It printed nothing."
        )

    def _watch_exit(self, process: subprocess.Popen[bytes] | None) -> None:
        """Resolve `exited` the moment the process ends: its pidfd turns readable."""
        if process is None:
            return
        try:
            self._pidfd = os.pidfd_open(process.pid)
        except (AttributeError, OSError):  # no pidfd (not Linux 5.3+): look twice a second
            asyncio.ensure_future(self._poll_exit(process))
            return
        asyncio.get_running_loop().add_reader(self._pidfd, self._on_exit, process)

    def _on_exit(self, process: subprocess.Popen[bytes]) -> None:
        self._unwatch_exit()
        self._stop_following()  # read what it printed last, before saying it died
        if not self.exited.done():
            self.exited.set_result(process.poll())

    async def _poll_exit(self, process: subprocess.Popen[bytes]) -> None:
        while process.poll() is None and not self._closed:
            await asyncio.sleep(0.5)
        self._on_exit(process)

    def _unwatch_exit(self) -> None:
        if self._pidfd is not None:
            asyncio.get_running_loop().remove_reader(self._pidfd)
            os.close(self._pidfd)
            self._pidfd = None

    def _follow_output(self, process: subprocess.Popen[bytes] | None) -> None:
        if process is None or process.stdout is None:
            return
        self._pipe = process.stdout
        os.set_blocking(self._pipe.fileno(), False)
        asyncio.get_running_loop().add_reader(self._pipe.fileno(), self._read_output)

    def _read_output(self) -> None:
        if self._pipe is None:
            return
        try:
            chunk = os.read(self._pipe.fileno(), 65536)
        except BlockingIOError:
            return
        except OSError:
            chunk = b""
        if not chunk:
            self._stop_following()
            return
        self._take(chunk)

    def _take(self, chunk: bytes) -> None:
        *lines, self._partial = (self._partial + chunk).split(b"\n")
        for line in lines:
            self._emit(line.decode("utf-8", "replace"))

    def _emit(self, line: str) -> None:
        self.last_output.append(line)
        if self.sink is not None:
            self.sink(line)

    def _stop_following(self) -> None:
        if self._pipe is None:
            return
        asyncio.get_running_loop().remove_reader(self._pipe.fileno())
        pipe, self._pipe = self._pipe, None
        while True:  # what is left in the pipe
            try:
                chunk = os.read(pipe.fileno(), 65536)
            except OSError:
                break
            if not chunk:
                break
            self._take(chunk)
        if self._partial:
            self._emit(self._partial.decode("utf-8", "replace"))
            self._partial = b""
        pipe.close()

    # ---- handing over --------------------------------------------------------------------

    @property
    def is_ready(self) -> bool:
        return self.ready.done() and not self.ready.cancelled() and self.ready.exception() is None

    async def is_alive(self) -> bool:
        return bool(await self.manager.is_alive())

    async def set_env(self, values: Mapping[str, str], timeout: float = 30) -> None:
        """Set environment variables inside a (Python) kernel that is already running: a
        run's own values, for a kernel started before the run was known."""
        if values:
            await self.run_silently(
                f"__import__('os').environ.update({json.dumps(dict(values))})", timeout
            )

    async def run_silently(self, code: str, timeout: float = 30) -> None:
        """Execute `code` silently (no output, no execution count, no history)."""
        msg_id = self.client.execute(code, silent=True, store_history=False)
        deadline = time.monotonic() + timeout
        while True:
            reply = await self.client.get_shell_msg(timeout=max(0.0, deadline - time.monotonic()))
            if reply.get("parent_header", {}).get("msg_id") == msg_id:
                break
        if reply["content"].get("status") != "ok":
            content = reply["content"]
            raise RuntimeError(
                f"the kernel refused {code!r}: {content.get('ename')}: {content.get('evalue')}"
            )

    # ---- ending --------------------------------------------------------------------------

    async def shutdown(self, *, now: bool = False) -> None:
        """Shut the kernel down (politely unless `now`) and free what it held."""
        if self._closed:
            return
        self._closed = True
        if not self.ready.done():
            self.ready.cancel()
        if self.client is not None:
            self.client.stop_channels()
        try:
            if self.manager.has_kernel:
                await self.manager.shutdown_kernel(now=now)
            else:
                await self.manager.cleanup_resources()
        except Exception:  # already gone: kill whatever is left, free the files
            try:
                await self.manager.shutdown_kernel(now=True)
            except Exception:
                pass
        finally:
            self._unwatch_exit()
            self._stop_following()

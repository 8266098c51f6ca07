"""Kernels a worker starts itself, to execute notebooks from its own process: each serves
exactly one run, then is shut down.

A `KernelRecipe` says what makes two kernels interchangeable for a run: the kernel's name,
its working directory and the environment it gets on top of the worker's. A kernel started
ahead for one recipe is only ever handed to a run with the same recipe.

Everything here runs on the worker's `KernelLoop`.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import zmq.asyncio
from jupyter_client import AsyncKernelManager

STARTUP_TIMEOUT = 60.0
# As nbclient starts IPython kernels for papermill: a history of their own, in memory, not
# the user's history file (which kernels running at once would lock each other out of).
IPYTHON_HISTORY = "--HistoryManager.hist_file=:memory:"


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
        self.recipe = recipe
        self.manager = manager
        self.client: Any = None
        self.pid: int | None = None
        self.ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()  # spawn
        self.ready_at: float | None = None  # time.monotonic() when it became ready
        self.sink: Callable[[str], None] | None = None
        self.is_python = False
        self._pipe: Any = None
        self._partial = b""
        self._closed = False

    # ---- starting ------------------------------------------------------------------------

    @classmethod
    async def spawn(
        cls,
        recipe: KernelRecipe,
        context: zmq.asyncio.Context,
        *,
        run_env: Mapping[str, str] | None = None,
    ) -> Kernel:
        """Launch the kernel process (returns once it runs; `ready` resolves when it
        answers). `run_env` is added to the recipe's environment (a run's own values)."""
        manager = AsyncKernelManager(kernel_name=recipe.kernel_name, context=context)
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
        kernel.ready = asyncio.ensure_future(kernel._become_ready())
        return kernel

    async def _become_ready(self) -> None:
        client = self.manager.client()
        client.start_channels()
        try:
            await client.wait_for_ready(timeout=STARTUP_TIMEOUT)
            self.client = client
            if self.is_python:
                # The kernel's own first-execution set-up, done now rather than in the
                # run's first cell: an empty statement, silent (no count, no history).
                await self.run_silently("pass")
        except BaseException:
            self.client = None
            client.stop_channels()
            raise
        self.ready_at = time.monotonic()

    def _follow_output(self, process: subprocess.Popen[bytes] | None) -> None:
        if process is None or process.stdout is None:
            return
        self._pipe = process.stdout
        os.set_blocking(self._pipe.fileno(), False)
        asyncio.get_running_loop().add_reader(self._pipe.fileno(), self._read_output)

    def _read_output(self) -> None:
        try:
            chunk = os.read(self._pipe.fileno(), 65536)
        except BlockingIOError:
            return
        except OSError:
            chunk = b""
        if not chunk:
            self._stop_following()
            return
        *lines, self._partial = (self._partial + chunk).split(b"\n")
        for line in lines:
            self._emit(line.decode("utf-8", "replace"))

    def _emit(self, line: str) -> None:
        if self.sink is not None:
            self.sink(line)

    def _stop_following(self) -> None:
        if self._pipe is None:
            return
        asyncio.get_running_loop().remove_reader(self._pipe.fileno())
        if self._partial:
            self._emit(self._partial.decode("utf-8", "replace"))
            self._partial = b""
        self._pipe.close()
        self._pipe = None

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
            self._stop_following()

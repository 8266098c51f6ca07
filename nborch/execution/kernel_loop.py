"""One asyncio event loop on a thread of its own, where a worker keeps its kernels: every
kernel manager, kernel client and notebook execution of the worker lives on it, so no
jupyter_client object is ever used from two loops. Other threads hand it coroutines."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Coroutine
from concurrent.futures import Future
from typing import Any, TypeVar

T = TypeVar("T")


class KernelLoop:
    def __init__(self, name: str = "kernels") -> None:
        self.loop = asyncio.new_event_loop()
        self._pinged_at: float | None = None  # see unanswered_for
        self._answered_at = 0.0
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def submit(self, coroutine: Coroutine[Any, Any, T]) -> Future[T]:
        """Run `coroutine` on the loop; its result (or error) comes in the future."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop)

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run `coroutine` on the loop and wait for its result (from another thread)."""
        return self.submit(coroutine).result(timeout)

    def unanswered_for(self) -> float:
        """Seconds the loop has left a callback waiting (0 while it keeps up): asks it
        again when it has answered, never waits."""
        now = time.monotonic()
        if self._pinged_at is not None and self._answered_at < self._pinged_at:
            return now - self._pinged_at
        self._pinged_at = now
        self.loop.call_soon_threadsafe(self._answer)
        return 0.0

    def _answer(self) -> None:
        self._answered_at = time.monotonic()

    def responds(self, timeout: float) -> bool:
        """Does the loop run a callback within `timeout` seconds (is it not stuck)?"""
        if self.loop.is_closed():
            return False
        answered = threading.Event()
        self.loop.call_soon_threadsafe(answered.set)
        return answered.wait(timeout)

    def call(self, callback: Any, *args: Any) -> None:
        """Call `callback(*args)` on the loop, soon; from any thread."""
        self.loop.call_soon_threadsafe(callback, *args)

    def close(self, timeout: float = 30) -> None:
        """Stop the loop once its tasks are cancelled (after the caller has shut its
        kernels down)."""
        if self.loop.is_closed():
            return

        async def _cancel_all() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        if self._thread.is_alive():
            try:
                self.run(_cancel_all(), timeout)
            finally:
                self.loop.call_soon_threadsafe(self.loop.stop)
                self._thread.join(timeout)
        if not self._thread.is_alive():
            self.loop.close()

"""Long-polling claims: `POST /work-pools/{pool}/claims` with `wait` answers as soon as the
pool has runs to hand out (or when the wait is over), so an idle worker of a server starts a
new run at once instead of at its next poll.

The waiting happens on the server's event loop, not on a thread of its pool: each claim
attempt is a short call off the loop, and between attempts the request waits for the
pool's wake-up (`nborch.store.wakeups`: the store tells the server when a run is created or
released, whichever process made it) or for the next run coming due.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from nborch.client.local import LocalClient
from nborch.models import FlowRun, Watch
from nborch.timeutil import utcnow


class _PoolSignal:
    """Bumped (on the event loop) each time the pool is woken."""

    def __init__(self) -> None:
        self.version = 0
        self._changed = asyncio.Event()

    def bump(self) -> None:
        self.version += 1
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait_after(self, version: int, timeout: float) -> None:
        """Until the signal moves past `version`, or `timeout` seconds."""
        if self.version != version or timeout <= 0:
            return
        try:
            await asyncio.wait_for(self._changed.wait(), timeout)
        except asyncio.TimeoutError:
            pass


class ClaimLongPoll:
    def __init__(self, client: LocalClient, off_loop: Callable[..., Awaitable[Any]]) -> None:
        self.client = client
        self.off_loop = off_loop
        self._signals: dict[str, _PoolSignal] = {}
        self._watches: dict[str, Watch] = {}

    async def _signal(self, pool_name: str) -> _PoolSignal:
        signal = self._signals.get(pool_name)
        if signal is None:
            loop = asyncio.get_running_loop()
            signal = _PoolSignal()
            watch = await self.off_loop(
                self.client.watch_pool, pool_name, lambda: loop.call_soon_threadsafe(signal.bump)
            )
            if pool_name in self._signals:  # another request was first
                watch.close()
                return self._signals[pool_name]
            self._signals[pool_name] = signal
            self._watches[pool_name] = watch
        return signal

    async def claim_runs(
        self,
        pool_name: str,
        worker_id: uuid.UUID,
        limit: int,
        lookahead: float = 0.0,
        wait: float = 0.0,
    ) -> list[FlowRun]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        signal = await self._signal(pool_name)  # watching before the first claim
        while True:
            version = signal.version
            runs: list[FlowRun] = await self.off_loop(
                self.client.claim_runs, pool_name, worker_id, limit, lookahead=lookahead
            )
            remaining = deadline - loop.time()
            if runs or remaining <= 0:
                return runs
            due = await self.off_loop(self.client.next_run_time, pool_name, lookahead=lookahead)
            if due is not None:  # a run comes due before the wait is over: claim it then
                until_due = (due - utcnow()).total_seconds() - lookahead
                remaining = min(remaining, max(until_due, 0.0))
            await signal.wait_after(version, remaining)

    def close(self) -> None:
        for watch in self._watches.values():
            watch.close()
        self._watches.clear()
        self._signals.clear()

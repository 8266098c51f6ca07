"""Standby kernels: fresh kernels a worker starts ahead of need, so that a run begins on a
kernel that is already up instead of waiting for one to start.

- Each kernel serves exactly one run and is then shut down: a run takes a kernel out of
  standby for good, and nothing of another run's state can be in it.
- A kernel is only handed to a run whose `KernelRecipe` (kernel name, working directory,
  environment) is the one it was started with; otherwise the run starts a kernel of its own.
- Which recipes: those of the worker's most recent runs (and what it learns at start-up),
  newest first, the kernels shared round-robin among them.
- How many: `wanted()`, asked each time (the worker's free slots, capped by the pool's
  setting). A run that takes a kernel triggers a replacement; kernels beyond the number
  wanted are not shut down (the next runs take them), only not replaced.
- Idle kernels are recycled (shut down and started afresh) after `recycle_after` seconds;
  one that dies while waiting (or starting) is dropped and replaced the moment it dies; a
  recipe whose kernels fail to start three times in a row is kept ready no more until a run
  needs it again.

All state lives on the `KernelLoop`; the public methods may be called from any thread.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from nborch.execution.kernel_loop import KernelLoop
from nborch.execution.kernels import Kernel, KernelHost, KernelRecipe

MAX_RECIPES = 4
# Standby kernels of a recipe that failed to start this many times in a row are started no
# more (until a run of the recipe comes).
MAX_FAILED_STARTS = 3
MAINTENANCE_INTERVAL = 2.0
# A kernel taken while others of its recipe still stand by is replaced this much later, so
# that starting its replacement does not slow the run that took it (or the next one).
REPLACE_AFTER = 1.0


class StandbyKernels:
    def __init__(
        self,
        loop: KernelLoop,
        host: KernelHost,
        wanted: Callable[[], int],
        *,
        recycle_after: float,
        on_error: Callable[[str], None] = lambda _message: None,
    ) -> None:
        self.loop = loop
        self.host = host
        self.wanted = wanted
        self.recycle_after = recycle_after
        self.on_error = on_error
        self.kernels: list[Kernel] = []  # starting or ready, none handed out
        self.recipes: list[KernelRecipe] = []  # newest first
        self._spawning: list[KernelRecipe] = []  # kernels being launched (not in `kernels` yet)
        self._failed_starts: dict[KernelRecipe, int] = {}  # in a row, per recipe
        self._closed = False
        self._maintenance: asyncio.Task[None] | None = None
        self._shutdowns: set[asyncio.Task[None]] = set()
        loop.call(self._start_maintenance)

    # ---- from any thread ---------------------------------------------------------------

    def learn(self, recipe: KernelRecipe) -> None:
        """A recipe the next runs are likely to need: kernels for it are started."""
        self.loop.call(self._learn, recipe)

    def rebalance(self, delay: float = 0.0) -> None:
        """Start kernels up to the number wanted now, or in `delay` seconds (e.g. after a
        run freed its slot)."""
        if delay > 0:
            self.loop.call(self.loop.loop.call_later, delay, self._rebalance)
        else:
            self.loop.call(self._rebalance)

    def close(self, timeout: float = 60) -> None:
        """Shut every standby kernel down (blocks until they are)."""
        if self._closed:
            return
        self.loop.run(self._close(), timeout)

    # ---- on the loop ----------------------------------------------------------------------

    def _start_maintenance(self) -> None:
        self._maintenance = asyncio.ensure_future(self._maintain())

    async def _maintain(self) -> None:
        while not self._closed:
            await asyncio.sleep(MAINTENANCE_INTERVAL)
            try:
                await self._drop_dead_and_old()
                self._rebalance()
            except Exception as err:  # never let maintenance die
                self.on_error(f"standby kernels: {type(err).__name__}: {err}")

    def _learn(self, recipe: KernelRecipe) -> None:
        if recipe in self.recipes:
            self.recipes.remove(recipe)
        self.recipes.insert(0, recipe)
        for old in self.recipes[MAX_RECIPES:]:
            for kernel in [k for k in self.kernels if k.recipe == old]:
                self._discard(kernel)
        del self.recipes[MAX_RECIPES:]
        self._rebalance()

    async def take_on_loop(self, recipe: KernelRecipe) -> Kernel | None:
        """A kernel for `recipe` out of standby (it may still be starting), or None; called
        by a run's coroutine on the loop."""
        matching = [k for k in self.kernels if k.recipe == recipe and not k.ready.done()]
        ready = [k for k in self.kernels if k.recipe == recipe and k.is_ready]
        # A ready kernel first (the one that waited longest), else one still starting.
        candidates = ready or matching
        chosen: Kernel | None = candidates[0] if candidates else None
        if chosen is not None:
            self.kernels.remove(chosen)
            if chosen.exited.done():  # died a moment ago; its replacement is on the way
                await chosen.shutdown(now=True)
                chosen = None
        if any(k.recipe == recipe for k in self.kernels) or recipe in self._spawning:
            self.rebalance(REPLACE_AFTER)
        else:
            self._rebalance()  # the next run of this recipe needs one as soon as may be
        return chosen

    def _plan(self) -> dict[KernelRecipe, int]:
        """How many kernels each recipe should have: round-robin from the newest."""
        plan = {recipe: 0 for recipe in self.recipes}
        if not self.recipes:
            return plan
        for index in range(max(0, self.wanted())):
            plan[self.recipes[index % len(self.recipes)]] += 1
        return plan

    def _rebalance(self) -> None:
        if self._closed:
            return
        plan = self._plan()
        standing = [k.recipe for k in self.kernels] + self._spawning
        have = {recipe: standing.count(recipe) for recipe in plan}
        room = sum(plan.values()) - len(standing)
        for recipe in self.recipes:  # newest first
            while have[recipe] < plan[recipe]:
                if room <= 0:
                    if not self._swap_out(plan, have, recipe):
                        break
                    room += 1
                have[recipe] += 1
                room -= 1
                self._spawning.append(recipe)
                asyncio.ensure_future(self._start(recipe))

    def _swap_out(
        self, plan: dict[KernelRecipe, int], have: dict[KernelRecipe, int], needed: KernelRecipe
    ) -> bool:
        """Full: make room for `needed` by shutting down a ready kernel of a recipe that has
        more than its share (the oldest recipe's first)."""
        for recipe in reversed(self.recipes):
            if recipe == needed or have[recipe] <= plan[recipe]:
                continue
            surplus = [k for k in self.kernels if k.recipe == recipe and k.is_ready]
            if surplus:
                have[recipe] -= 1
                self._discard(surplus[0])
                return True
        return False

    async def _start(self, recipe: KernelRecipe) -> None:
        try:
            kernel = await Kernel.spawn(recipe, self.host)
        except Exception as err:
            self.on_error(f"could not start a standby {recipe.describe()}: {err}")
            return
        finally:
            self._spawning.remove(recipe)
        if self._closed or recipe not in self.recipes:
            await kernel.shutdown(now=True)
            return
        self.kernels.append(kernel)
        kernel.exited.add_done_callback(lambda _: self._replace_dead(kernel, if_ready=True))
        try:
            await kernel.ready
        except asyncio.CancelledError:
            return
        except Exception as err:
            self.on_error(f"standby {recipe.describe()} did not become ready: {err}")
            failures = self._failed_starts[recipe] = self._failed_starts.get(recipe, 0) + 1
            # A kernel that cannot start is not started again and again: after a few
            # failures in a row its recipe is kept ready no more, until a run needs it.
            if failures >= MAX_FAILED_STARTS and recipe in self.recipes and kernel in self.kernels:
                self.recipes.remove(recipe)
                self._failed_starts.pop(recipe)
            self._replace_dead(kernel)
            return
        self._failed_starts.pop(recipe, None)

    def _replace_dead(self, kernel: Kernel, *, if_ready: bool = False) -> None:
        """A standby kernel died (or never became ready) before any run took it: it costs
        no run; a fresh one is started at once. (One that dies while starting is handled
        when its start fails: `if_ready` leaves it to that.)"""
        if if_ready and not kernel.is_ready:
            return
        if kernel in self.kernels:
            self._discard(kernel)
            self._rebalance()

    async def _drop_dead_and_old(self) -> None:
        now = time.monotonic()
        for kernel in list(self.kernels):
            if not kernel.is_ready:
                continue
            too_old = kernel.ready_at is not None and now - kernel.ready_at > self.recycle_after
            if too_old or not await kernel.is_alive():
                self._discard(kernel)  # the rebalance that follows starts a fresh one

    def _discard(self, kernel: Kernel) -> None:
        if kernel in self.kernels:
            self.kernels.remove(kernel)
        shutdown = asyncio.ensure_future(kernel.shutdown(now=True))  # it never ran anything
        self._shutdowns.add(shutdown)
        shutdown.add_done_callback(self._shutdowns.discard)

    async def _close(self) -> None:
        self._closed = True
        if self._maintenance is not None:
            self._maintenance.cancel()
        kernels, self.kernels = self.kernels, []
        await asyncio.gather(
            *(k.shutdown(now=True) for k in kernels), *self._shutdowns, return_exceptions=True
        )

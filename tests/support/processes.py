"""Worker processes for end-to-end tests: the real `nborch worker start` in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class WorkerProcess:
    """`nborch worker start ...` in a subprocess, its output collected as it comes."""

    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "nborch.cli.main", "worker", "start", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            env={**os.environ, **(env or {})},
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_started(self, timeout: float = 30) -> str:
        return wait_for(
            lambda: next((line for line in self.lines if "started!" in line), None),
            timeout,
            lambda: f"worker did not start:\n{self.output}",
        )

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=30)


def wait_for(
    check: Callable[[], T | None], timeout: float = 30, explain: Callable[[], str] = lambda: ""
) -> T:
    """Poll `check` until it returns something truthy; fail with `explain()` on time-out."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s. {explain()}")
        time.sleep(0.1)

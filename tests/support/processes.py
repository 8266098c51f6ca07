"""Processes for end-to-end tests: any command with its output collected as it comes (and
stopped with everything it started), the real `nborch worker start` among them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TypeVar

import psutil

T = TypeVar("T")


class OutputProcess:
    """A command in a subprocess (a session of its own), its output collected line by line."""

    def __init__(self, argv: Sequence[str], env: Mapping[str, str]) -> None:
        self.argv = list(argv)
        self.process = subprocess.Popen(
            self.argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            env=dict(env),
            start_new_session=True,
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

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def wait_for_line(self, text: str, timeout: float = 60) -> str:
        """The first output line containing `text`, once there is one."""
        return wait_for(
            lambda: next((line for line in self.lines if text in line), None),
            timeout,
            lambda: (
                f"no line with {text!r} from {self.argv[2:5]} "
                f"(exit code {self.process.poll()}):\n{self.output}"
            ),
        )

    def kill(self) -> None:
        """SIGKILL for the process alone, as when its machine goes away."""
        if self.alive:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        """SIGKILL for the process and everything it started (papermill, kernels)."""
        try:
            tree = psutil.Process(self.process.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            tree = []
        self.kill()
        for child in tree:
            try:
                child.kill()
            except psutil.NoSuchProcess:
                pass
        psutil.wait_procs(tree, timeout=10)
        self._reader.join(timeout=10)


class WorkerProcess(OutputProcess):
    """`nborch worker start ...` in a subprocess, its output collected as it comes."""

    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        super().__init__(
            [sys.executable, "-m", "nborch.cli.main", "worker", "start", *args],
            {**os.environ, **(env or {})},
        )

    def wait_started(self, timeout: float = 30) -> str:
        return self.wait_for_line("started!", timeout)


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

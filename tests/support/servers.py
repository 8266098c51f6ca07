"""Servers in subprocesses for end-to-end tests: `nborch server start`, and any command whose
output is collected as it comes (a worker with an environment of its own, `jupyter server`).
Each is stopped with its whole process tree (papermill and kernels included)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence

import httpx
import psutil

from nborch.client.routes import API_PREFIX
from support.processes import wait_for


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def nborch_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "nborch.cli.main", *args]


def environment(**variables: str) -> dict[str, str]:
    """This process's environment without any NBORCH_ setting, plus `variables`: a process
    started with it knows only what it is told here."""
    clean = {key: value for key, value in os.environ.items() if not key.startswith("NBORCH_")}
    return {**clean, **variables}


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


class NborchServer:
    """`nborch server start --port PORT` with the given environment (its store included);
    started again on the same port after a kill, as a restarted host would be."""

    def __init__(self, env: Mapping[str, str], port: int | None = None) -> None:
        self.env = dict(env)
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.processes: list[OutputProcess] = []  # one per start, the newest last

    def start(self, timeout: float = 60) -> NborchServer:
        process = OutputProcess(nborch_argv("server", "start", "--port", str(self.port)), self.env)
        self.processes.append(process)
        wait_for(
            lambda: self.healthy() or not process.alive,
            timeout,
            lambda: f"the server did not answer /health:\n{process.output}",
        )
        assert process.alive, f"the server exited ({process.process.poll()}):\n{process.output}"
        return self

    def healthy(self) -> bool:
        try:
            return httpx.get(f"{self.url}{API_PREFIX}/health", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    def kill(self) -> None:
        """SIGKILL, as when its host goes away."""
        if self.processes:
            self.processes[-1].kill()

    def stop(self) -> None:
        for process in self.processes:
            process.stop()

    @property
    def output(self) -> str:
        return "\n--- (restarted)\n".join(process.output for process in self.processes)


def create_api_key(env: Mapping[str, str], name: str, role: str, *pools: str) -> str:
    """`nborch api-key create NAME --role ROLE [--pool P ...] --json` on the store `env`
    names; returns the key, which the command shows this once."""
    argv = nborch_argv("api-key", "create", name, "--role", role, "--json")
    for pool in pools:
        argv += ["--pool", pool]
    done = subprocess.run(argv, env=dict(env), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    key = json.loads(done.stdout)["key"]
    assert isinstance(key, str)
    return key

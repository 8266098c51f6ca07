"""Servers in subprocesses for end-to-end tests: `nborch server start`, and any command whose
output is collected as it comes (a worker with an environment of its own, `jupyter server`).
Each is stopped with its whole process tree (papermill and kernels included)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Mapping

import httpx

from nborch.client.routes import API_PREFIX
from support.processes import OutputProcess, wait_for


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

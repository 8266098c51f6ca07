"""A real Dask cluster on loopback for the tests: `dask scheduler` and `dask worker`
processes (no nanny: a worker killed stays dead), stopped at the end."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path


def _dask_command(*args: str) -> list[str]:
    dask = Path(sys.executable).with_name("dask")
    return [str(dask), *args]


class DaskCluster:
    def __init__(self, folder: Path, workers: int = 2, threads: int = 1) -> None:
        self.threads = threads
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.scheduler_file = folder / "scheduler.json"
        self.processes: list[subprocess.Popen[bytes]] = []
        self.workers: dict[str, subprocess.Popen[bytes]] = {}  # name -> process
        env = {**os.environ, "DASK_DISTRIBUTED__WORKER__DAEMON": "False"}
        self.env = env
        self._start(
            "scheduler",
            "scheduler",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--no-dashboard",
            "--scheduler-file",
            str(self.scheduler_file),
        )
        deadline = time.monotonic() + 60
        while not self.scheduler_file.exists():
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the Dask scheduler did not start: " + self.log("scheduler"))
            time.sleep(0.1)
        for index in range(workers):
            self.add_worker(f"w{index + 1}")

    @property
    def address(self) -> str:
        return str(json.loads(self.scheduler_file.read_text())["address"])

    def _start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        with (self.folder / f"{name}.log").open("wb") as log:
            process = subprocess.Popen(
                _dask_command(*args), stdout=log, stderr=subprocess.STDOUT, env=self.env
            )
        self.processes.append(process)
        return process

    def add_worker(self, name: str) -> None:
        self.workers[name] = self._start(
            name,
            "worker",
            "--scheduler-file",
            str(self.scheduler_file),
            "--name",
            name,
            "--nthreads",
            str(self.threads),
            "--no-nanny",
            "--no-dashboard",
            "--host",
            "127.0.0.1",
        )

    def wait_for_workers(self, count: int, timeout: float = 60) -> None:
        from distributed import Client

        with Client(self.address, timeout=30) as client:
            client.wait_for_workers(count, timeout=timeout)

    def kill_worker_at(self, address: str) -> str:
        """SIGKILL the worker process listening at `address`; returns its name."""
        from distributed import Client

        with Client(self.address, timeout=30) as client:
            pids = client.run(os.getpid, workers=[address])
        pid = pids[address]
        os.kill(pid, signal.SIGKILL)
        for name, process in self.workers.items():
            if process.pid == pid:
                return name
        return "?"

    def log(self, name: str) -> str:
        path = self.folder / f"{name}.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def stop(self) -> None:
        for process in reversed(self.processes):
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

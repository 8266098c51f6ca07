"""The real Docker engine for the tests: reaching it (or the reason it cannot be reached),
containers by label, and a relay to the engine that a test can cut (the engine "goes away"
for a worker while it keeps running for everyone else)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import docker
from docker.models.containers import Container

from nborch.containers.runtime_image import RECIPE_LABEL
from nborch.containers.spec import LABEL_RUN_ID


def engine_or_reason() -> docker.DockerClient | str:
    try:
        engine = docker.from_env(timeout=30)
        engine.ping()
        return engine
    except Exception as err:
        where = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
        return (
            f"no Docker engine answers at {where} ({type(err).__name__}); as root, "
            "`make services` (scripts/install-docker.sh) installs and starts one"
        )


def containers_of_run(engine: docker.DockerClient, run_id: object) -> list[Container]:
    return list(engine.containers.list(all=True, filters={"label": f"{LABEL_RUN_ID}={run_id}"}))


def remove_containers(engine: docker.DockerClient, label: str) -> None:
    # By id (a worker may remove some meanwhile: its standby containers).
    for row in engine.api.containers(all=True, filters={"label": label}):
        try:
            engine.api.remove_container(row["Id"], force=True)
        except docker.errors.NotFound:
            pass


def remove_test_images(engine: docker.DockerClient) -> None:
    """Images the tests tagged `nborch-test/...` (on any registry), and the untagged ones
    they left built on the runtime image (a rebuilt tag leaves its previous image so)."""
    for image in engine.images.list():
        for tag in image.tags:
            if tag.startswith("nborch-test/") or "/nborch-test/" in tag:
                try:
                    engine.images.remove(tag, force=True)
                except docker.errors.APIError:
                    pass
    try:
        engine.images.prune(filters={"dangling": True, "label": RECIPE_LABEL})
    except docker.errors.APIError:
        pass  # another prune is running


class EngineRelay:
    """A Unix socket that forwards every connection to the engine's socket, until `cut()`
    closes them all and stops listening: to a client of the relay, the engine is gone."""

    def __init__(self, path: Path, target: str = "/var/run/docker.sock") -> None:
        self.path = path
        self.target = target
        self._server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._server.bind(str(path))
        self._server.listen(64)
        self._open: list[socket.socket] = []
        self._lock = threading.Lock()
        self._cut = False
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"unix://{self.path}"

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            upstream.connect(self.target)
            with self._lock:
                if self._cut:
                    client.close()
                    upstream.close()
                    return
                self._open += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pump, args=(source, sink), daemon=True).start()

    def cut(self) -> None:
        with self._lock:
            self._cut = True
            sockets, self._open = self._open, []
        self._server.close()
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()
        self.path.unlink(missing_ok=True)


def _pump(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        try:
            sink.shutdown(socket.SHUT_WR)
        except OSError:
            pass


class Registry:
    """A throw-away image registry (Debian's docker-registry) on a free loopback port, which
    the engine trusts without TLS (127.0.0.0/8 is an insecure registry by default)."""

    def __init__(self, folder: Path) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        config = folder / "registry.yml"
        config.write_text(
            "version: 0.1\n"
            f"storage: {{filesystem: {{rootdirectory: {folder / 'storage'}}}}}\n"
            f"http: {{addr: '127.0.0.1:{self.port}'}}\n"
        )
        self.log = folder / "registry.log"
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                ["docker-registry", "serve", str(config)], stdout=out, stderr=subprocess.STDOUT
            )

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(f"http://{self.address}{path}", timeout=5) as answer:
            return json.load(answer)

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.get("/v2/")
                return
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"no registry: {self.log.read_text()}") from None
                time.sleep(0.1)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)

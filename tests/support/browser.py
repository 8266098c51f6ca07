"""Browser tests: `jupyter lab` in a subprocess, and Chromium (Debian's, at /usr/bin/chromium)
driven by Python playwright. Playwright's own browser download is never used: there is no
route to its CDN here."""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

from support.ci import unavailable
from support.deployments import HELLO
from support.labextension import built_or_skip
from support.processes import wait_for
from support.servers import free_port

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS_ROOT = REPO / "test-artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
UI_TIMEOUT_MS = 120_000


def playwright_or_skip() -> ModuleType:
    """Python playwright's sync API, driving the machine's Chromium; the test is skipped
    (failed under CI) when either is missing."""
    reason = None
    if not CHROMIUM.exists():
        reason = f"no Chromium at {CHROMIUM}: as root, `make services` (scripts/install-chromium.sh) installs it"
    elif importlib.util.find_spec("playwright") is None:
        reason = "Python playwright is not installed: pip install -e '.[test]'"
    if reason:
        unavailable("a browser", reason)
    return importlib.import_module("playwright.sync_api")


class JupyterLab:
    """`jupyter lab` on a free loopback port, no token, serving `root`; its settings,
    runtime files and log in `state` (so the machine's own settings play no part). It gets
    this process's environment (NBORCH_HOME included) plus `env`."""

    def __init__(self, root: Path, state: Path, env: dict[str, str] | None = None) -> None:
        self.root = root
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        settings = state / "settings" / "@jupyterlab" / "apputils-extension"
        settings.mkdir(parents=True)
        # No news toast over the page.
        (settings / "notification.jupyterlab-settings").write_text('{"fetchNews": "false"}')
        environment = {
            **os.environ,
            "JUPYTERLAB_SETTINGS_DIR": str(state / "settings"),
            "JUPYTERLAB_WORKSPACES_DIR": str(state / "workspaces"),
            "JUPYTER_RUNTIME_DIR": str(state / "runtime"),
            **(env or {}),
        }
        argv = [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            "--ip=127.0.0.1",
            f"--port={self.port}",
            "--IdentityProvider.token=",
            f"--ServerApp.root_dir={root}",
        ]
        if os.geteuid() == 0:
            argv.append("--allow-root")
        self.log = state / "jupyter-lab.log"
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                argv,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=environment,
            )

    def get(self, path: str) -> object:
        with urllib.request.urlopen(f"{self.url}{path}", timeout=10) as answer:
            return json.load(answer)

    def wait_ready(self, timeout: float = 120) -> None:
        def answers() -> bool:
            if self.process.poll() is not None:
                raise AssertionError(f"jupyter lab exited:\n{self.log.read_text()[-3000:]}")
            try:
                self.get("/api/status")
                return True
            except (urllib.error.URLError, OSError):
                return False

        wait_for(answers, timeout, lambda: self.log.read_text()[-3000:])

    def stop(self) -> None:
        """Shut its kernels down (they run in sessions of their own), then the server."""
        if self.process.poll() is None:
            try:
                kernels = self.get("/api/kernels")
                assert isinstance(kernels, list)
                for kernel in kernels:
                    request = urllib.request.Request(
                        f"{self.url}/api/kernels/{kernel['id']}", method="DELETE"
                    )
                    urllib.request.urlopen(request, timeout=30).close()
            except (urllib.error.URLError, OSError):
                pass
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)


@contextmanager
def running_lab(root: Path, state: Path) -> Iterator[JupyterLab]:
    """A `JupyterLab` serving `root` (settings and log in `state`), ready, for the block."""
    state.mkdir(parents=True, exist_ok=True)
    server = JupyterLab(root, state)
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


@contextmanager
def lab_with_hello(tmp_path: Path) -> Iterator[JupyterLab]:
    """JupyterLab serving a folder with hello.ipynb; nborch's server extension in it uses
    this test's NBORCH_HOME (and short intervals) from its environment."""
    built_or_skip()
    root = tmp_path / "lab-root"
    root.mkdir()
    shutil.copy(HELLO, root / "hello.ipynb")
    with running_lab(root, tmp_path / "lab-state") as lab:
        yield lab


@contextmanager
def chromium_page(
    playwright_api: ModuleType, failure_shot: Path, log: Path | None = None, height: int = 1000
) -> Iterator[Any]:
    """A page of headless Chromium for the block. When the block fails, a screenshot goes
    to `failure_shot` and its path (and the tail of `log`) is printed before the error."""
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1600, "height": height})
        page.set_default_timeout(UI_TIMEOUT_MS)
        try:
            yield page
        except Exception:
            failure_shot.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(failure_shot))
            tail = f"\n{log.read_text()[-3000:]}" if log else ""
            print(f"\nscreenshot of the failure: {failure_shot}{tail}")
            raise
        finally:
            browser.close()

"""`pip install nborch` is all a user does: the wheel carries the prebuilt JupyterLab
extension and the Jupyter server extension's config, and in an environment where only the
wheel was installed, `jupyter labextension list` shows the extension enabled and
`jupyter server extension list` shows nborch's server extension enabled. The wheel is built
from a source tree that has no built extension: building it builds the extension
(hatch-jupyter-builder runs npm, as `pip install .` and `pip install git+...` do)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest
from support.labextension import NAME, REPO, SOURCES, npm_or_skip

pytestmark = pytest.mark.slow

DATA = "nborch-0.1.0.data/data"
LABEXTENSION = f"{DATA}/share/jupyter/labextensions/{NAME}"
SERVER_CONFIG = f"{DATA}/etc/jupyter/jupyter_server_config.d/nborch.json"
# What a copy of the repository for building needs not (and what may be huge).
NOT_COPIED = shutil.ignore_patterns(
    ".git", ".venv", "node_modules", "build", "dist", "*.egg-info", "test-artifacts", ".demo",
    "__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache", "lib",
)  # fmt: skip


def clean_copy(source: Path) -> Path:
    """The repository's files, without anything built."""
    shutil.copytree(REPO, source, ignore=NOT_COPIED)
    assert not (source / "labextension" / "dist").exists()
    return source


def fresh_environment(env: Path) -> Path:
    """A virtualenv without nborch whose dependencies come from this one, through a .pth
    file (the point is where nborch's files go, not pip's resolver); its python."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env)], check=True)
    python = env / "bin" / "python"
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    Path(site, "outer-environment.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return python


def pip_install(python: Path, *args: str, env: dict[str, str] | None = None) -> str:
    """`pip install --no-deps ARGS` into the environment of `python`; pip's output."""
    done = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", *args],
        capture_output=True, text=True, timeout=300, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel `pip wheel .` builds from a clean copy of the repository: no
    labextension/dist (nor lib/, build/, ...), so the build hook has to build the extension.
    Its node_modules are hard links to this checkout's, to spare the machine a download: the
    hook's own `npm install` finds them up to date."""
    npm_or_skip()
    work = tmp_path_factory.mktemp("wheel")
    source = clean_copy(work / "source")
    modules = (SOURCES / "node_modules").resolve()
    subprocess.run(["cp", "-al", str(modules), str(source / "labextension")], check=True)
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-v", "-w", str(work), str(source)],
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-5000:] + done.stderr
    assert "Building the JupyterLab extension" not in done.stdout  # not the Makefile's...
    assert "npm run build" in done.stdout + done.stderr, done.stdout[-5000:]  # ...the hook's
    [built] = work.glob("nborch-*.whl")
    return built


def test_the_wheel_carries_the_prebuilt_extension_and_the_server_config(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        package = json.loads(archive.read(f"{LABEXTENSION}/package.json"))
        install = json.loads(archive.read(f"{LABEXTENSION}/install.json"))
        config = json.loads(archive.read(SERVER_CONFIG))
    assert package["name"] == NAME
    remote = package["jupyterlab"]["_build"]["load"]  # e.g. static/remoteEntry.<hash>.js
    assert f"{LABEXTENSION}/{remote}" in names
    assert f"{LABEXTENSION}/static/style.js" in names
    assert install["packageName"] == "nborch"
    assert config["ServerApp"]["jpserver_extensions"]["nborch"] is True
    # The prebuilt extension is data, not a part of the Python package; no sources, no tests.
    assert not [n for n in names if n.startswith("nborch/") and "labextension" in n]
    assert not [n for n in names if n.endswith((".ts", ".map")) or "node_modules" in n]


def test_a_plain_install_of_the_wheel_enables_both_extensions(wheel: Path, tmp_path: Path) -> None:
    """The wheel alone in a fresh environment."""
    env = tmp_path / "env"
    python = fresh_environment(env)
    pip_install(python, "-q", str(wheel))
    assert (env / "share" / "jupyter" / "labextensions" / NAME / "package.json").exists()

    # Jupyter's own paths in this environment only (no user-level settings).
    clean = {k: v for k, v in os.environ.items() if not k.startswith("JUPYTER")}
    isolated = {
        **clean,
        "JUPYTER_CONFIG_DIR": str(tmp_path / "config"),
        "JUPYTER_DATA_DIR": str(tmp_path / "data"),
        "JUPYTER_PLATFORM_DIRS": "1",
    }

    def listed(module: str) -> str:
        done = subprocess.run(
            [python, "-m", module, "list"], capture_output=True, text=True, env=isolated,
            timeout=120,
        )  # fmt: skip
        output = re.sub(r"\x1b\[[0-9;]*m", "", done.stdout + done.stderr)  # no colours
        assert done.returncode == 0, output
        return output

    labextensions = listed("jupyterlab.labextensions")
    line = next((row for row in labextensions.splitlines() if NAME in row), "")
    assert f"{NAME} v0.1.0 enabled OK (python, nborch)" in line, labextensions
    assert str(env / "share" / "jupyter" / "labextensions") in labextensions
    server_extensions = listed("jupyter_server.extension.serverextension")
    # The environment's config folder enables nborch (and nborch validates).
    block = server_extensions.split(f"Config dir: {env / 'etc' / 'jupyter'}")[-1]
    block = block.split("Config dir:")[0]
    assert "nborch enabled" in block, server_extensions
    assert "nborch 0.1.0" in block and "OK" in block, server_extensions


def test_an_editable_install_needs_no_node(tmp_path: Path) -> None:
    """`pip install -e .` (what `make install` runs) from a tree with no built extension,
    where there is no Node.js: it installs nborch, editable, with the server extension's
    config and without the JupyterLab extension, which `make labextension` builds later."""
    source = clean_copy(tmp_path / "source")
    python = fresh_environment(tmp_path / "env")
    no_node = {**os.environ, "PATH": str(Path(sys.executable).parent)}
    assert shutil.which("npm", path=no_node["PATH"]) is None
    pip_install(python, "-e", str(source), env=no_node)
    env = tmp_path / "env"
    assert (env / "etc" / "jupyter" / "jupyter_server_config.d" / "nborch.json").exists()
    assert not (env / "share" / "jupyter" / "labextensions" / NAME).exists()
    imported = subprocess.run(
        [python, "-c", "import nborch; print(nborch.__file__)"],
        capture_output=True, text=True, check=True, cwd=tmp_path,
    )  # fmt: skip
    assert imported.stdout.strip() == str(source / "nborch" / "__init__.py")

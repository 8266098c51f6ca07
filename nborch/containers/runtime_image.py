"""`nborch image build-runtime`: an image with papermill and a kernel, built from nothing but
Debian's and PyPI's packages, so that a machine with no registry can run docker pools.

1. `debootstrap` a minimal Debian root file system with python3 and python3-venv; the tarball
   is cached under ~/.cache/nborch/ (about a minute the first time);
2. `docker import` it as `nborch/debian:<suite>-<hash>` (once per tarball);
3. download the wheels of papermill and ipykernel for the image's Python on the host;
4. `docker build` (with no network) a venv from those wheels and a non-root user.

The image is labelled with the hash of this recipe, and a build whose recipe has not changed
does nothing.
"""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import docker
from docker.errors import ImageNotFound
from docker.models.images import Image

from nborch.containers.docker_engine import (
    ENGINE_ERRORS,
    connect_engine,
    explain,
    image_labels,
    image_reference,
)
from nborch.errors import InfrastructureError
from nborch.jobs.templates import DEFAULT_RUNTIME_IMAGE

RECIPE_LABEL = "io.nborch.recipe"
STAGE_LABEL = "io.nborch.build-stage"  # on the build stage's image, pruned after the build
RUNTIME_USER = "nborch"
RUNTIME_UID = 1000
VENV = "/opt/nborch"
DEFAULT_MIRROR = "http://deb.debian.org/debian"

# Wheel platforms pip may pick for each machine, newest first.
_WHEEL_PLATFORMS = {
    "x86_64": ["manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64"],
    "aarch64": ["manylinux_2_28_aarch64", "manylinux_2_17_aarch64", "manylinux2014_aarch64"],
}

_DOCKERFILE = """\
# Written by nborch image build-runtime; every input is in the build context.
FROM {base} AS build
LABEL {stage_label}=runtime
COPY wheels /tmp/wheels
RUN python3 -m venv {venv} \\
 && {venv}/bin/pip install --no-cache-dir --no-index --find-links /tmp/wheels {packages}

FROM {base}
COPY --from=build {venv} {venv}
ENV PATH={venv}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \\
    PYTHONUNBUFFERED=1 \\
    LANG=C.UTF-8
RUN useradd --create-home --uid {uid} --user-group --shell /bin/bash {user} \\
 && papermill --version \\
 && python -c "import ipykernel"
USER {user}
WORKDIR /home/{user}
"""


@dataclass(frozen=True)
class RuntimeRecipe:
    """Everything the runtime image is made of; its digest decides whether to rebuild."""

    suite: str = "bookworm"
    python_version: str = "3.11"  # the suite's python3
    debian_packages: tuple[str, ...] = ("python3", "python3-venv")
    python_packages: tuple[str, ...] = ("papermill", "ipykernel")
    machine: str = platform.machine()

    @property
    def rootfs_key(self) -> str:
        text = f"{self.suite} minbase {','.join(self.debian_packages)} {self.machine} trim-1"
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    @property
    def base_image(self) -> str:
        return f"nborch/debian:{self.suite}-{self.rootfs_key}"

    def dockerfile(self) -> str:
        return _DOCKERFILE.format(
            base=self.base_image,
            stage_label=STAGE_LABEL,
            venv=VENV,
            packages=" ".join(self.python_packages),
            uid=RUNTIME_UID,
            user=RUNTIME_USER,
        )

    @property
    def digest(self) -> str:
        text = "\n".join([self.rootfs_key, self.python_version, self.machine, self.dockerfile()])
        return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class RuntimeImage:
    tag: str
    digest: str
    built: bool  # False: it was up to date


def cache_dir() -> Path:
    """~/.cache/nborch (or $XDG_CACHE_HOME/nborch)."""
    root = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(root) / "nborch"


def build_runtime_image(
    tag: str = DEFAULT_RUNTIME_IMAGE,
    *,
    force: bool = False,
    mirror: str = DEFAULT_MIRROR,
    recipe: RuntimeRecipe | None = None,
    echo: Callable[[str], None] = print,
) -> RuntimeImage:
    """Build the runtime image as `tag`, unless an image of the same recipe has that tag."""
    recipe = recipe or RuntimeRecipe()
    engine = connect_engine(timeout=None)
    previous = _image_or_none(engine, tag)
    if (
        previous is not None
        and image_labels(previous).get(RECIPE_LABEL) == recipe.digest
        and not force
    ):
        echo(f"Image '{tag}' is up to date (recipe {recipe.digest}).")
        return RuntimeImage(tag, recipe.digest, built=False)
    _ensure_base_image(engine, recipe, mirror, echo)
    with tempfile.TemporaryDirectory(prefix="nborch-runtime-") as context:
        _download_wheels(recipe, Path(context) / "wheels", echo)
        (Path(context) / "Dockerfile").write_text(recipe.dockerfile())
        echo(f"Building '{tag}' (papermill and ipykernel from local wheels, no network)...")
        build_image(
            engine,
            context,
            tag,
            labels={RECIPE_LABEL: recipe.digest},
            network_mode="none",
        )
    _remove_leftovers(engine, previous, tag)
    echo(f"Image '{tag}' is ready (recipe {recipe.digest}).")
    return RuntimeImage(tag, recipe.digest, built=True)


def _image_or_none(engine: docker.DockerClient, tag: str) -> Image | None:
    try:
        return engine.images.get(tag)
    except ImageNotFound:
        return None


def _remove_leftovers(engine: docker.DockerClient, previous: Image | None, tag: str) -> None:
    """The build stage's image (only its venv was kept) and the image the tag named before."""
    try:
        engine.images.prune(filters={"dangling": True, "label": STAGE_LABEL})
        if previous is not None and previous.id != engine.images.get(tag).id:
            engine.images.remove(previous.id)
    except ENGINE_ERRORS:
        pass  # still used by a container: it goes when that container does


def _ensure_base_image(
    engine: docker.DockerClient, recipe: RuntimeRecipe, mirror: str, echo: Callable[[str], None]
) -> None:
    try:
        engine.images.get(recipe.base_image)
        return
    except ImageNotFound:
        pass
    tarball = _rootfs_tarball(recipe, mirror, echo)
    echo(f"Importing {tarball.name} as '{recipe.base_image}'...")
    repository, tag = image_reference(recipe.base_image)
    try:
        engine.api.import_image_from_file(str(tarball), repository=repository, tag=tag)
    except ENGINE_ERRORS as err:
        raise InfrastructureError(
            f"Docker could not import the root file system {tarball}: {explain(err)}. "
            f"Delete it to bootstrap it again, then rerun nborch image build-runtime."
        ) from None


def _rootfs_tarball(recipe: RuntimeRecipe, mirror: str, echo: Callable[[str], None]) -> Path:
    cache = cache_dir()
    tarball = cache / f"rootfs-{recipe.suite}-{recipe.rootfs_key}.tar"
    if tarball.exists():
        return tarball
    _require_debootstrap()
    cache.mkdir(parents=True, exist_ok=True)
    echo(
        f"Bootstrapping a minimal Debian {recipe.suite} with {', '.join(recipe.debian_packages)} "
        f"from {mirror} (about a minute; cached as {tarball})..."
    )
    with tempfile.TemporaryDirectory(prefix="rootfs-", dir=cache) as work:
        rootfs = Path(work) / "rootfs"
        log = Path(work) / "debootstrap.log"
        argv = [
            "debootstrap",
            "--variant=minbase",
            f"--include={','.join(recipe.debian_packages)}",
            recipe.suite,
            str(rootfs),
            mirror,
        ]
        _run(argv, log, f"debootstrap of Debian {recipe.suite}")
        _trim(rootfs)
        partial = Path(work) / "rootfs.tar"
        _run(["tar", "-C", str(rootfs), "-cf", str(partial), "."], log, "tar of the rootfs")
        os.replace(partial, tarball)
    return tarball


def _require_debootstrap() -> None:
    """debootstrap needs root; as root, it is installed from Debian's packages when missing."""
    if os.geteuid() != 0:
        raise InfrastructureError(
            "Building the runtime image needs root, for debootstrap (it makes a Debian root file "
            "system): run `sudo nborch image build-runtime`, or set the job variable image to "
            "any image that has papermill and a kernel."
        )
    if shutil.which("debootstrap"):
        return
    subprocess.run(["apt-get", "update", "-qq"], check=False, capture_output=True)
    done = subprocess.run(
        ["apt-get", "install", "-y", "-qq", "debootstrap"],
        capture_output=True,
        text=True,
        env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
    )
    if done.returncode or not shutil.which("debootstrap"):
        raise InfrastructureError(
            f"Could not install debootstrap with apt-get: {done.stderr.strip()[-300:]}. "
            "Install it (apt-get install debootstrap), then rerun nborch image build-runtime."
        )


def _trim(rootfs: Path) -> None:
    """Drop what a container never reads: package caches, indexes, documentation."""
    for pattern in (
        "var/cache/apt/archives/*.deb",
        "var/lib/apt/lists/*",
        "usr/share/doc/*",
        "usr/share/man/*",
        "usr/share/info/*",
    ):
        for path in rootfs.glob(pattern):
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()


def _download_wheels(recipe: RuntimeRecipe, folder: Path, echo: Callable[[str], None]) -> None:
    platforms = _WHEEL_PLATFORMS.get(recipe.machine)
    if platforms is None:
        raise InfrastructureError(
            f"No wheel platform known for machine '{recipe.machine}': the runtime image is "
            f"built for {', '.join(_WHEEL_PLATFORMS)}. Use an image with papermill instead."
        )
    version = recipe.python_version.replace(".", "")
    echo(f"Downloading wheels of {', '.join(recipe.python_packages)} for Python "
         f"{recipe.python_version}...")  # fmt: skip
    argv = [
        sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
        "--dest", str(folder), "--only-binary=:all:",
        "--python-version", recipe.python_version, "--implementation", "cp",
        "--abi", f"cp{version}", "--abi", "abi3", "--abi", "none",
        *(arg for name in platforms for arg in ("--platform", name)),
        *recipe.python_packages,
    ]  # fmt: skip
    folder.mkdir(parents=True, exist_ok=True)
    _run(argv, folder.parent / "pip.log", "pip download of the runtime's wheels")


def _run(argv: Sequence[str], log: Path, what: str) -> None:
    with log.open("w") as out:
        done = subprocess.run(list(argv), stdout=out, stderr=subprocess.STDOUT, check=False)
    if done.returncode:
        tail = " | ".join(log.read_text(errors="replace").strip().splitlines()[-5:])
        raise InfrastructureError(
            f"The {what} failed (exit code {done.returncode}): {tail}. Check the network to "
            "Debian's mirror and PyPI, then rerun nborch image build-runtime."
        )


def build_image(
    engine: docker.DockerClient,
    context: str | Path,
    tag: str,
    *,
    labels: dict[str, str] | None = None,
    dockerfile: str | None = None,
    network_mode: str | None = None,
) -> str:
    """`docker build` of `context` as `tag`; returns the image id. A failing step is raised
    with the end of the build's output."""
    output: list[str] = []
    try:
        for chunk in engine.api.build(
            path=str(context),
            tag=tag,
            dockerfile=dockerfile,
            labels=labels,
            network_mode=network_mode,
            rm=True,
            forcerm=True,
            pull=False,
            decode=True,
        ):
            if "stream" in chunk:
                output.extend(line for line in chunk["stream"].splitlines() if line.strip())
            if "error" in chunk:
                tail = " | ".join(output[-4:])
                raise InfrastructureError(
                    f"Building image '{tag}' failed: {chunk['error'].strip()} (after: {tail}). "
                    "Fix the Dockerfile or its base image, then build again."
                )
    except ENGINE_ERRORS as err:
        raise InfrastructureError(
            f"Building image '{tag}' failed: {explain(err)}. Fix the Dockerfile or its base "
            "image (it must be on this engine: nborch image build-runtime), then build again."
        ) from None
    return str(engine.images.get(tag).id)

"""`nborch image ...`, and the image options of `nborch deploy`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from nborch.display import console
from nborch.jobs.templates import DEFAULT_RUNTIME_IMAGE

F = TypeVar("F", bound=Callable[..., Any])


def image_options(f: F) -> F:
    """--image NAME:TAG [--no-build] [--push] [--dockerfile FILE] (docker pools)."""
    options = [
        click.option(
            "--image",
            default=None,
            metavar="NAME:TAG",
            help="Docker pools: run the deployment in this image, built from the notebook's "
            "folder on the pool's default image (see --no-build, --dockerfile).",
        ),
        click.option(
            "--build/--no-build",
            "build",
            default=True,
            help="Build --image first (default), or use it as it is.",
        ),
        click.option("--push", is_flag=True, help="Push --image to the registry in its name."),
        click.option(
            "--dockerfile",
            type=click.Path(dir_okay=False),
            default=None,
            help="Build --image from this Dockerfile (context: the notebook's folder).",
        ),
    ]
    for option in reversed(options):
        f = option(f)
    return f


@click.group("image")
def image() -> None:
    """Images for docker pools."""


@image.command("build-runtime")
@click.option(
    "--tag",
    default=DEFAULT_RUNTIME_IMAGE,
    show_default=True,
    help="Name:tag of the image to build.",
)
@click.option("--force", is_flag=True, help="Rebuild even when the recipe has not changed.")
@click.option(
    "--mirror",
    default=None,
    metavar="URL",
    help="Debian mirror for debootstrap (default: http://deb.debian.org/debian).",
)
def build_runtime(tag: str, force: bool, mirror: str | None) -> None:
    """Build a runtime image (Debian, papermill, ipykernel, a non-root user) from Debian's
    and PyPI's packages alone: no registry needed. Rebuilt only when its recipe changes."""
    from nborch.containers.runtime_image import DEFAULT_MIRROR, build_runtime_image

    build_runtime_image(
        tag,
        force=force,
        mirror=mirror or DEFAULT_MIRROR,
        echo=lambda line: console.print(line, markup=False),
    )

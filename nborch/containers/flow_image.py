"""A deployment's image (`deploy(image=...)`): the flow's folder copied into a base image
that has papermill and a kernel, tagged, and pushed only when asked.

nborch's Dockerfile is `FROM <base>`, `COPY . /opt/nborch/flow`, `WORKDIR` the notebook's
folder there, labelled `io.nborch.workdir` so that the worker runs the notebook in that
folder (its data files beside it). With a Dockerfile of your own, nborch builds that,
with the flow's folder as the build context.
"""

from __future__ import annotations

import tempfile
from pathlib import Path, PurePosixPath
from typing import Any

import docker

from nborch.client.base import NborchClient
from nborch.containers.docker_engine import (
    ENGINE_ERRORS,
    connect_engine,
    ensure_image,
    explain,
    image_reference,
)
from nborch.containers.runtime_image import build_image
from nborch.containers.spec import LABEL_WORKDIR
from nborch.errors import InfrastructureError, ValidationError
from nborch.jobs import validate_job_variables
from nborch.jobs.variables import DockerJob
from nborch.models import PoolType

FLOW_DIR = "/opt/nborch/flow"


def deployment_image(
    client: NborchClient,
    pool_name: str,
    source: str | Path,
    entrypoint: str,
    image: str,
    job_variables: dict[str, Any],
    *,
    build: bool = True,
    push: bool = False,
    dockerfile: str | Path | None = None,
) -> dict[str, Any]:
    """`deploy(image=...)`: builds (and pushes) the image when asked; returns the
    deployment's job variables with `image` set. Nothing is built for a deployment that
    would be refused."""
    pool = client.get_pool(pool_name)
    if pool.type is not PoolType.DOCKER:
        raise ValidationError(
            f"Work pool '{pool.name}' is of type '{pool.type.value}': an image is for docker "
            "pools. Deploy to a docker pool (nborch work-pool create NAME --type docker), or "
            "without an image."
        )
    variables = {**job_variables, "image": image}
    validate_job_variables(pool.base_job_template, variables, owner=f"work pool '{pool.name}'")
    if dockerfile is not None and not build:
        raise ValidationError(
            "A Dockerfile is for building the image: drop --no-build (build=False), or the "
            "Dockerfile."
        )
    if build or push:
        engine = connect_engine(timeout=None)
        if build:
            defaults = DockerJob.from_template(
                pool.base_job_template, owner=f"work pool '{pool.name}'"
            )
            base = defaults.image
            build_flow_image(
                engine, source, entrypoint, image, base_image=base, dockerfile=dockerfile
            )
        if push:
            push_image(engine, image)
    return variables


def flow_dockerfile(base_image: str, workdir: str) -> str:
    return (
        "# Written by nborch deploy --image: the flow's folder in an image with papermill.\n"
        f"FROM {base_image}\n"
        f"COPY . {FLOW_DIR}\n"
        f"WORKDIR {workdir}\n"
        f'LABEL {LABEL_WORKDIR}="{workdir}"\n'
    )


def build_flow_image(
    engine: docker.DockerClient,
    source: str | Path,
    entrypoint: str,
    image: str,
    *,
    base_image: str,
    dockerfile: str | Path | None = None,
) -> str:
    """Build `image` from the flow's folder `source`; returns the image id."""
    context = Path(source)
    if dockerfile is not None:
        path = Path(dockerfile).expanduser()
        if not path.is_file():
            raise ValidationError(
                f"Dockerfile '{dockerfile}' not found. Give the path of an existing file, or "
                "leave --dockerfile out to let nborch write one."
            )
        return build_image(engine, context, image, dockerfile=str(path.resolve()))
    ensure_image(engine, base_image, "IfNotPresent")
    workdir = str(PurePosixPath(FLOW_DIR) / PurePosixPath(entrypoint).parent)
    with tempfile.TemporaryDirectory(prefix="nborch-image-") as folder:
        generated = Path(folder) / "Dockerfile"
        generated.write_text(flow_dockerfile(base_image, workdir))
        return build_image(engine, context, image, dockerfile=str(generated))


def push_image(engine: docker.DockerClient, image: str) -> None:
    """Push `image` to the registry its name names (Docker Hub when it names none)."""
    repository, tag = image_reference(image)
    try:
        for status in engine.images.push(repository, tag=tag, stream=True, decode=True):
            if "error" in status:
                raise InfrastructureError(
                    f"Pushing image '{image}' failed: {status['error'].strip()}. Log in to its "
                    "registry (docker login) or check its name, or deploy with push=False."
                )
    except ENGINE_ERRORS as err:
        raise InfrastructureError(
            f"Pushing image '{image}' failed: {explain(err)}. Check that its registry is "
            "reachable, or deploy with push=False."
        ) from None

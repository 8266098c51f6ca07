"""Reaching the Docker engine (from the environment: DOCKER_HOST or the local socket) and
making sure an image is there, as a run's pull policy says."""

from __future__ import annotations

import os
from typing import Any

import docker
import requests
from docker.errors import APIError, DockerException, ImageNotFound
from docker.models.images import Image
from docker.utils import parse_repository_tag

from nborch.errors import InfrastructureError

# Errors that mean "the engine did not answer" rather than "the engine said no".
ENGINE_ERRORS: tuple[type[Exception], ...] = (DockerException, requests.exceptions.RequestException)

PULL_POLICIES = ("Always", "IfNotPresent", "Never")


def engine_address() -> str:
    return os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"


def connect_engine(timeout: float | None = 60, max_pool_size: int = 10) -> docker.DockerClient:
    """A client of the engine that answered a ping. `timeout=None` is for calls that block
    as long as a container runs (wait, follow logs); each such call holds a connection."""
    try:
        engine = docker.from_env(timeout=timeout, max_pool_size=max_pool_size)  # type: ignore[arg-type]
        engine.ping()
    except ENGINE_ERRORS as err:
        raise InfrastructureError(
            f"Cannot reach the Docker engine at {engine_address()}: {explain(err)}. Start it "
            "(e.g. sudo dockerd &; in nborch's repository, make services does it as root) or "
            "point DOCKER_HOST at one, then try again."
        ) from None
    return engine


def explain(err: Exception) -> str:
    """The engine's own words for an error, on one line."""
    if isinstance(err, APIError) and err.explanation:
        text = str(err.explanation)
    else:
        text = str(err) or type(err).__name__
    return " ".join(text.split())


def image_reference(image: str) -> tuple[str, str]:
    """`name[:tag]` → (repository, tag); no tag means `latest`."""
    repository, tag = parse_repository_tag(image)
    return repository, tag or "latest"


def ensure_image(engine: docker.DockerClient, image: str, pull_policy: str) -> Image:
    """The image, pulled first when the policy says so (Always) or when missing (IfNotPresent)."""
    if pull_policy == "Always":
        pull_image(engine, image, pull_policy)
    try:
        return engine.images.get(image)
    except ImageNotFound:
        if pull_policy == "Never":
            raise InfrastructureError(
                f"Image '{image}' is not on this Docker engine and its pull policy is Never: "
                f"build it with `nborch image build-runtime --tag {image}` (papermill and a "
                f"kernel) or `nborch deploy NOTEBOOK --image {image}` (with your flow), or set "
                "the job variable image_pull_policy to IfNotPresent to pull it."
            ) from None
    pull_image(engine, image, pull_policy)
    return engine.images.get(image)


def pull_image(engine: docker.DockerClient, image: str, pull_policy: str) -> None:
    repository, tag = image_reference(image)
    try:
        engine.images.pull(repository, tag=tag)
    except ENGINE_ERRORS as err:
        raise InfrastructureError(
            f"Could not pull image '{image}' (pull policy {pull_policy}): {explain(err)}. "
            f"Build it on this engine (`nborch image build-runtime --tag {image}`, or "
            f"`nborch deploy NOTEBOOK --image {image}`) and set the job variable "
            "image_pull_policy to Never, or make its registry reachable."
        ) from None


def image_labels(image: Image) -> dict[str, Any]:
    return dict((image.attrs.get("Config") or {}).get("Labels") or {})

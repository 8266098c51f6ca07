"""A one-node Docker Swarm on the test machine's engine, left again at the end (even when
the tests fail); plain containers of other tests are not affected by it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import docker


def swarm_state(engine: docker.DockerClient) -> str:
    return str((engine.info().get("Swarm") or {}).get("LocalNodeState") or "inactive")


@contextmanager
def one_node_swarm(engine: docker.DockerClient) -> Iterator[None]:
    """`docker swarm init --advertise-addr 127.0.0.1` unless a swarm is active already, and
    `docker swarm leave --force` after, if it was made here."""
    made = swarm_state(engine) != "active"
    if made:
        engine.swarm.init(advertise_addr="127.0.0.1", listen_addr="127.0.0.1:2377")
    try:
        yield
    finally:
        if made:
            engine.swarm.leave(force=True)

"""Reading what a run's container did: its output lines, and, once it has ended, its exit
code and whether it was killed for memory. Shared by the docker worker and reconciliation."""

from __future__ import annotations

import codecs
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

import docker

from nborch.containers.run_folder import reclaim_run_folder
from nborch.execution.outcome import out_of_memory_line


def iter_lines(chunks: Iterable[bytes]) -> Iterator[str]:
    """Text lines from a container's output, which comes in chunks cut anywhere."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    pending = ""
    for chunk in chunks:
        pending += decoder.decode(chunk)
        *lines, pending = pending.split("\n")
        for line in lines:
            yield line.rstrip("\r")
    pending += decoder.decode(b"", final=True)
    if pending:
        yield pending.rstrip("\r")


def missing_log_lines(stored: Sequence[str], produced: Sequence[str]) -> list[str]:
    """The lines of `produced` (a container's whole output) not yet in `stored` (the run's
    logs, which hold a prefix of them, in order, between lines of nborch's own)."""
    matched = 0
    for line in stored:
        if matched < len(produced) and line == produced[matched]:
            matched += 1
    return list(produced[matched:])


def settle_container(
    engine: docker.DockerClient,
    container_id: str,
    *,
    run_dir: Path,
    auto_remove: bool,
    write: Callable[[str], None],
) -> int:
    """After the container has ended: its exit code, an out-of-memory line written when it
    was OOM-killed, the run's folder handed back to the worker, the container removed when
    `auto_remove`."""
    attrs = engine.api.inspect_container(container_id)
    state = attrs.get("State") or {}
    if state.get("OOMKilled"):
        limit = (attrs.get("HostConfig") or {}).get("Memory") or 0
        shown = f"mem_limit {limit // 2**20} MiB" if limit else "no mem_limit"
        write(
            out_of_memory_line(
                f"container {container_id[:12]} was OOM-killed ({shown}): raise the job "
                "variable mem_limit, or make the notebook use less memory"
            )
        )
    reclaim_run_folder(run_dir)
    if auto_remove:
        engine.api.remove_container(container_id, force=True)
    return int(state.get("ExitCode", -1))

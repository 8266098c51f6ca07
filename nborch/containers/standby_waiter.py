"""The main program of a standby container (`python3 /nborch/standby/waiter.py`): it gets
ready for a run before there is one, waits to be handed exactly one, runs it as papermill's
command line would, and exits with papermill's exit code; the container then ends.

Getting ready: papermill and nbclient imported, the kernel started (in the container's
working directory) and warmed up. Waiting: on the FIFO `handover` in the control folder
(/nborch/standby), opened for reading once ready, so that a worker's non-blocking open for
writing succeeds only when a ready waiter is there. The worker writes one JSON line:
`{"argv": [...papermill's arguments...], "env": {...}, "start_at": seconds or null}`.

Then it is papermill's own command line, with nborch's papermill engine (see
nborch.execution.papermill_engine): papermill's nbclient engine on the kernel started ahead
(when the run's kernel and working directory are the ones it was started with, else on a
kernel started now), whose first cell waits for `start_at` when the run came early. So the
container's output, the output notebook and the exit code are those of `papermill ARGS` on
the plain path.

This file runs in the run's image, with only the image's Python, papermill and its
dependencies: what the container runs is the program `waiter_program` (in
standby_handover.py) makes of the engine's module and this one, which import nothing else
of nborch.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

from nborch.execution.papermill_engine import ENGINE_NAME, KernelAhead, RunEngine

# As nbclient starts IPython kernels for papermill: a history of its own, in memory.
IPYTHON_HISTORY = "--HistoryManager.hist_file=:memory:"
STARTUP_TIMEOUT = 60


def _start_kernel(kernel_name: str) -> KernelAhead | None:
    """Start `kernel_name` now, in the working directory, connect to it and warm it up; a
    kernel that is not Python's is left to start with the run (its variables are set with
    Python)."""
    from jupyter_client import AsyncKernelManager
    from jupyter_core.utils import run_sync

    manager = AsyncKernelManager(kernel_name=kernel_name)
    spec = manager.kernel_spec
    if spec is None or spec.language.lower() != "python":
        return None
    run_sync(manager.start_kernel)(
        cwd=os.getcwd(), extra_arguments=[IPYTHON_HISTORY] if manager.ipykernel else []
    )
    # The client nbclient would connect when the run starts (its first connection waits
    # for the kernel's output channel), connected now, on the loop nbclient will use.
    client = manager.client()
    client.start_channels()
    run_sync(client.wait_for_ready)(timeout=STARTUP_TIMEOUT)
    # The kernel's own first-execution set-up, now rather than in the run's first cell.
    msg_id = client.execute("pass", silent=True, store_history=False)
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        reply = run_sync(client.get_shell_msg)(timeout=max(0.0, deadline - time.monotonic()))
        if reply.get("parent_header", {}).get("msg_id") == msg_id:
            break
    _drain(client)
    client.allow_stdin = False
    return KernelAhead(manager, client, kernel_name, os.getcwd())


def _drain(client: Any) -> None:
    """Drop the kernel's messages about the warm-up (nbclient would skip them anyway)."""
    from queue import Empty

    from jupyter_core.utils import run_sync

    while True:
        try:
            run_sync(client.get_iopub_msg)(timeout=0.05)
        except Empty:
            return


def _wait_for_run(handover: str) -> dict[str, Any]:
    """Block until a worker writes the run's line to the FIFO. Opened read-write, the FIFO
    never reads end-of-file: a worker that opens it and goes away changes nothing."""
    fd = os.open(handover, os.O_RDWR)
    received = b""
    while not received.endswith(b"\n"):
        received += os.read(fd, 65536)
    os.close(fd)
    return dict(json.loads(received))


def main() -> None:
    parser = argparse.ArgumentParser(description="nborch's standby waiter")
    parser.add_argument("--kernel", default="", help="the kernel to start ahead ('': none)")
    parser.add_argument("--handover", required=True, help="the FIFO the run comes through")
    args = parser.parse_args()
    from papermill.cli import papermill  # imported ahead: not the run's time

    ahead = None
    if args.kernel:
        try:
            ahead = _start_kernel(args.kernel)
        except Exception as err:  # the run starts a kernel of its own
            print(f"nborch standby: could not start kernel {args.kernel!r}: {err}", flush=True)
    handover = _wait_for_run(args.handover)
    run_env = {str(k): str(v) for k, v in (handover.get("env") or {}).items()}
    os.environ.update(run_env)
    RunEngine.register(start_at=handover.get("start_at"), kernel_ahead=ahead, run_env=run_env)
    sys.argv = ["papermill", *handover["argv"], "--engine", ENGINE_NAME]
    try:
        papermill()
    finally:
        if ahead is not None and ahead.manager.has_kernel:
            try:
                from jupyter_core.utils import run_sync

                run_sync(ahead.manager.shutdown_kernel)(now=True)
            except Exception:
                pass


if __name__ == "__main__":
    main()

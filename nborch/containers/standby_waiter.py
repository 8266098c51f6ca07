"""The main program of a standby container (`python3 /nborch/standby/waiter.py`): it gets
ready for a run before there is one, waits to be handed exactly one, runs it as papermill's
command line would, and exits with papermill's exit code; the container then ends.

Getting ready: papermill and nbclient imported, the kernel started (in the container's
working directory) and warmed up. Waiting: on the FIFO `handover` in the control folder
(/nborch/standby), opened for reading once ready, so that a worker's non-blocking open for
writing succeeds only when a ready waiter is there. The worker writes one JSON line:
`{"argv": [...papermill's arguments...], "env": {...}, "start_at": seconds or null}`.

Then it is papermill's own command line, with the engine `nborch-standby`: papermill's
nbclient engine on the kernel started ahead (when the run's kernel and working directory
are the ones it was started with, else on a kernel started now), whose first cell waits
for `start_at` when the run came early. So the container's output, the output notebook and
the exit code are those of `papermill ARGS` on the plain path.

This file runs in the run's image, with only the image's Python, papermill and its
dependencies: it imports nothing of nborch.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

ENGINE = "nborch-standby"
HANDOVER = "handover"
# As nbclient starts IPython kernels for papermill: a history of its own, in memory.
IPYTHON_HISTORY = "--HistoryManager.hist_file=:memory:"
STARTUP_TIMEOUT = 60


class _Ahead:
    """The kernel started ahead (manager None: none): its manager, a client connected to
    it, its name and working directory."""

    manager: Any = None
    client: Any = None
    kernel_name = ""
    cwd = ""


def _start_kernel(kernel_name: str) -> None:
    """Start `kernel_name` now, in the working directory, connect to it and warm it up; a
    kernel that is not Python's is left to start with the run (its variables are set with
    Python)."""
    from jupyter_client import AsyncKernelManager
    from jupyter_core.utils import run_sync

    manager = AsyncKernelManager(kernel_name=kernel_name)
    spec = manager.kernel_spec
    if spec is None or spec.language.lower() != "python":
        return
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
    _Ahead.manager, _Ahead.client = manager, client
    _Ahead.kernel_name, _Ahead.cwd = kernel_name, os.getcwd()


def _drain(client: Any) -> None:
    """Drop the kernel's messages about the warm-up (nbclient would skip them anyway)."""
    from queue import Empty

    from jupyter_core.utils import run_sync

    while True:
        try:
            run_sync(client.get_iopub_msg)(timeout=0.05)
        except Empty:
            return


def _wait_for_run(control: str) -> dict[str, Any]:
    """Block until a worker writes the run's line to the FIFO. Opened read-write, the FIFO
    never reads end-of-file: a worker that opens it and goes away changes nothing."""
    fd = os.open(os.path.join(control, HANDOVER), os.O_RDWR)
    received = b""
    while not received.endswith(b"\n"):
        received += os.read(fd, 65536)
    os.close(fd)
    return dict(json.loads(received))


def _register_engine(start_at: float | None, run_env: dict[str, str]) -> None:
    from papermill.clientwrap import PapermillNotebookClient
    from papermill.engines import NBClientEngine, papermill_engines
    from papermill.log import logger
    from papermill.utils import merge_kwargs, remove_args

    class _Client(PapermillNotebookClient):  # type: ignore[misc]
        def execute(self, **kwargs: Any) -> Any:
            # The kernel is the run's alone: shut down at the end, as papermill's own.
            return super().execute(cleanup_kc=True, **kwargs)

        def papermill_execute_cells(self) -> None:
            if self.km is _Ahead.manager and run_env:
                # The run's own variables, in the kernel started before the run was known.
                code = f"__import__('os').environ.update({json.dumps(run_env)})"
                self.wait_for_reply(self.kc.execute(code, silent=True, store_history=False))
            delay = start_at - time.time() if start_at else 0.0
            if delay > 0:
                self.log.info(f"Kernel ready; the first cell starts in {delay:.2f} s, on schedule")
                time.sleep(delay)
            super().papermill_execute_cells()

    class _Engine(NBClientEngine):  # type: ignore[misc]
        @classmethod
        def execute_managed_notebook(
            cls,
            nb_man: Any,
            kernel_name: str,
            log_output: bool = False,
            stdout_file: Any = None,
            stderr_file: Any = None,
            start_timeout: int = 60,
            execution_timeout: int | None = None,
            **kwargs: Any,
        ) -> Any:
            kwargs = remove_args(["input_path"], **kwargs)
            safe_kwargs = remove_args(["timeout", "startup_timeout"], **kwargs)
            final_kwargs = merge_kwargs(
                safe_kwargs,
                timeout=execution_timeout if execution_timeout else kwargs.get("timeout"),
                startup_timeout=start_timeout,
                kernel_name=kernel_name,
                log=logger,
                log_output=log_output,
                stdout_file=stdout_file,
                stderr_file=stderr_file,
            )
            ahead = _Ahead.manager
            fits = (
                ahead is not None
                and kernel_name == _Ahead.kernel_name
                and os.getcwd() == _Ahead.cwd  # papermill is in the run's --cwd now
                and ahead.has_kernel
                and ahead.provisioner is not None
                and ahead.provisioner.process is not None
                and ahead.provisioner.process.poll() is None
            )
            client = _Client(nb_man, km=ahead if fits else None, **final_kwargs)
            if fits:
                client.kc = _Ahead.client
            return client.execute()

    papermill_engines.register(ENGINE, _Engine)


def main() -> None:
    parser = argparse.ArgumentParser(description="nborch's standby waiter")
    parser.add_argument("--kernel", default="", help="the kernel to start ahead ('': none)")
    parser.add_argument("--control", default="/nborch/standby", help="the FIFO's folder")
    args = parser.parse_args()
    from papermill.cli import papermill  # imported ahead: not the run's time

    if args.kernel:
        try:
            _start_kernel(args.kernel)
        except Exception as err:  # the run starts a kernel of its own
            print(f"nborch standby: could not start kernel {args.kernel!r}: {err}", flush=True)
    handover = _wait_for_run(args.control)
    run_env = {str(k): str(v) for k, v in (handover.get("env") or {}).items()}
    os.environ.update(run_env)
    _register_engine(handover.get("start_at"), run_env)
    sys.argv = ["papermill", *handover["argv"], "--engine", ENGINE]
    try:
        papermill()
    finally:
        if _Ahead.manager is not None and _Ahead.manager.has_kernel:
            try:
                from jupyter_core.utils import run_sync

                run_sync(_Ahead.manager.shutdown_kernel)(now=True)
            except Exception:
                pass


if __name__ == "__main__":
    main()

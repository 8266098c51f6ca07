"""`python -m nborch.execution.timed_papermill ARGS --engine nborch`: papermill's own
command line with nborch's papermill engine (see papermill_engine), the way a process
pool's run in a subprocess (`in_process: false`) executes. Its kernel talks over IPC rather
than TCP, in a folder of sockets of its own: no port is chosen by papermill and bound later
by the kernel, the race in which kernels started at once take each other's ports. A run
launched ahead of its time holds its first cell until NBORCH_START_AT (seconds since the
epoch). The engine is registered here, for these runs only, rather than as an entry point
that every papermill process would load.
"""

from __future__ import annotations

import os
import shutil

from papermill.cli import papermill
from traitlets.config import Config

from nborch.execution.kernels import ipc_address, sockets_folder
from nborch.execution.papermill_command import START_AT
from nborch.execution.papermill_engine import RunEngine


def main() -> None:
    start_at = os.environ.get(START_AT)
    sockets = sockets_folder()
    ipc = Config({"KernelManager": {"transport": "ipc", "ip": ipc_address(sockets)}})
    RunEngine.register(start_at=float(start_at) if start_at else None, config=ipc)
    try:
        papermill()
    finally:
        shutil.rmtree(sockets, ignore_errors=True)


if __name__ == "__main__":
    main()

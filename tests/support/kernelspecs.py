"""Kernel specifications the tests install for themselves (under JUPYTER_PATH): real
kernels that fail the ways kernels fail."""

from __future__ import annotations

import json
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# Starts ipykernel with its shell socket moved to TCP port argv[2], held by someone else.
_BUSY_PORT_LAUNCHER = """\
import json, sys
path, port = sys.argv[1], int(sys.argv[2])
info = json.load(open(path))
info.update(transport="tcp", ip="127.0.0.1", shell_port=port)
json.dump(info, open(path, "w"))
from ipykernel import kernelapp
kernelapp.launch_new_instance(argv=["-f", path])
"""


def install_kernelspec(jupyter_path: Path, name: str, argv: list[str]) -> None:
    spec = jupyter_path / "kernels" / name / "kernel.json"
    spec.parent.mkdir(parents=True, exist_ok=True)
    spec.write_text(json.dumps({"argv": argv, "display_name": name, "language": "python"}))


@contextmanager
def busy_port_kernel(jupyter_path: Path, name: str = "busy-port") -> Iterator[str]:
    """A kernel `name` that cannot bind its port (another socket holds it): it dies at
    start with ZMQError 'Address already in use'. Yields the kernel's name."""
    launcher = jupyter_path / "busy_port_launcher.py"
    launcher.parent.mkdir(parents=True, exist_ok=True)
    launcher.write_text(_BUSY_PORT_LAUNCHER)
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        install_kernelspec(
            jupyter_path, name, [sys.executable, str(launcher), "{connection_file}", str(port)]
        )
        yield name


def never_ready_kernel(jupyter_path: Path, name: str = "never-ready") -> str:
    """A kernel `name` whose process runs but never answers (a start that hangs)."""
    install_kernelspec(
        jupyter_path,
        name,
        [sys.executable, "-c", "import time; time.sleep(600)", "{connection_file}"],
    )
    return name

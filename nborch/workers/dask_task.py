"""What runs on a Dask worker for one flow run: papermill in a process of its own.

This module is sent to the Dask workers by value (cloudpickle), so they need papermill and a
kernel, not nborch: everything it uses is imported inside the function, from the standard
library and `distributed`. The task sends its output lines back as Dask events (topic
`TOPIC`), stops papermill when the run's cancel event is set, and returns the exit code and
the output notebook's bytes.
"""

from __future__ import annotations

from typing import Any

TOPIC = "nborch-runs"


def run_notebook(spec: dict[str, Any]) -> dict[str, Any]:
    """Run one flow run's notebook here, on a Dask worker. `spec` holds the input notebook
    and parameters (as file contents), papermill's arguments, the environment, the key of
    the run's attempt and the name of its cancel event."""
    import contextlib
    import ctypes
    import os
    import shutil
    import signal
    import subprocess
    import sys
    import tempfile
    import threading
    import time

    from distributed import Event, get_worker

    worker = get_worker()
    key = spec["key"]

    def send(kind: str, **fields: Any) -> None:
        worker.log_event(TOPIC, {"key": key, "kind": kind, **fields})

    send("started", worker=worker.address)
    cancel = Event(spec["cancel_event"])
    if cancel.is_set():
        return {"exit_code": 143, "output": None, "worker": worker.address}
    folder = tempfile.mkdtemp(prefix="nborch-run-")
    try:
        with open(os.path.join(folder, "input.ipynb"), "wb") as notebook:
            notebook.write(spec["notebook"])
        with open(os.path.join(folder, "parameters.yaml"), "w", encoding="utf-8") as params:
            params.write(spec["parameters"])
        program = spec["command"] or [sys.executable, "-m", "papermill"]
        argv = [*program, *(folder if a == "{run_folder}" else a for a in spec["arguments"])]

        def die_with_worker() -> None:  # papermill goes when this worker's process does
            with contextlib.suppress(Exception):
                ctypes.CDLL("libc.so.6").prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG

        process = subprocess.Popen(
            argv,
            cwd=folder,
            env={**os.environ, **spec["env"]},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            errors="replace",
            bufsize=1,
            start_new_session=True,
            preexec_fn=die_with_worker if sys.platform == "linux" else None,
        )
        pending: list[str] = []
        lock = threading.Lock()

        def read() -> None:
            assert process.stdout is not None
            for line in process.stdout:
                with lock:
                    pending.append(line.rstrip("\n"))

        def ship() -> None:
            with lock:
                lines = pending[:]
                pending.clear()
            if lines:
                send("lines", lines=lines)

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        stopping_since: float | None = None
        while process.poll() is None:
            time.sleep(0.25)
            ship()
            if stopping_since is None and cancel.is_set():
                stopping_since = time.monotonic()
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
            elif stopping_since and time.monotonic() - stopping_since > spec["grace_period"]:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
        reader.join(timeout=5)
        ship()
        output_path = os.path.join(folder, "output.ipynb")
        output = None
        if os.path.exists(output_path):
            with open(output_path, "rb") as written:
                output = written.read()
        return {"exit_code": process.returncode, "output": output, "worker": worker.address}
    finally:
        shutil.rmtree(folder, ignore_errors=True)

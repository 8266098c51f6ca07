"""A worker's kernels share one event loop: nothing on it may block, and a kernel's death is
seen from its process at once. Real kernels, real zmq sockets."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import zmq
from support.kernelspecs import busy_port_kernel
from support.notebooks import make_notebook

from nborch.execution.in_process import execute_on_kernel, line_logger, prepare_notebook
from nborch.execution.kernel_loop import KernelLoop
from nborch.execution.kernels import Kernel, KernelDied, KernelHost, KernelRecipe

pytestmark = pytest.mark.slow


@pytest.fixture
def loop() -> Iterator[KernelLoop]:
    running = KernelLoop()
    yield running
    running.close()


@pytest.fixture
def host() -> Iterator[KernelHost]:
    kernels = KernelHost.create()
    yield kernels
    kernels.close()


def test_a_send_to_a_socket_of_the_wrong_kind_fails_instead_of_blocking_the_loop(
    loop: KernelLoop, host: KernelHost
) -> None:
    """What froze a worker: a kernel client whose shell socket (DEALER) reached a port another
    kernel had taken for its PUB socket; the handshake fails, the DEALER has no peer, and a
    blocking send (jupyter_client's Session.send) waited for ever on the loop."""
    publisher = host.context.socket(zmq.PUB)
    port = publisher.bind_to_random_port("tcp://127.0.0.1")
    dealer = host.context.socket(zmq.DEALER)
    dealer.connect(f"tcp://127.0.0.1:{port}")
    blocking = zmq.Socket.shadow(dealer.underlying)  # as jupyter_client's Session sends

    async def send_until_refused() -> int:
        for attempt in range(100):
            try:
                blocking.send_multipart([b"kernel_info_request"])
            except zmq.Again:
                return attempt
            await asyncio.sleep(0.1)  # the failed handshake drops the peer in a moment
        raise AssertionError("every send was queued: the peer never went away")

    answered = threading.Event()
    try:
        sent = loop.submit(send_until_refused())
        loop.call(answered.set)
        assert answered.wait(30), "the loop is blocked"
        sent.result(timeout=30)  # refused (zmq.Again), not blocked
    finally:
        dealer.close(linger=0)
        publisher.close(linger=0)


def start_error(
    loop: KernelLoop, host: KernelHost, kernel_name: str, cwd: Path, *, kill: bool = False
) -> BaseException | None:
    """What starting the kernel (SIGKILLed at once with `kill`) raised, if anything."""

    async def start() -> BaseException | None:
        kernel = await Kernel.spawn(KernelRecipe.of(kernel_name, str(cwd), {}), host)
        assert kernel.pid is not None
        if kill:
            os.kill(kernel.pid, signal.SIGKILL)
        try:
            await kernel.ready
        except Exception as err:
            return err
        finally:
            await kernel.shutdown(now=True)
        return None

    return loop.run(start(), timeout=60)


def test_a_kernel_killed_while_starting_is_seen_dead_from_its_process(
    loop: KernelLoop, host: KernelHost, tmp_path: Path
) -> None:
    error = start_error(loop, host, "python3", tmp_path, kill=True)
    assert isinstance(error, KernelDied), error
    assert "died while starting" in str(error) and "SIGKILL" in str(error)


def test_a_kernel_that_cannot_bind_its_port_dies_saying_why(
    loop: KernelLoop, host: KernelHost, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    jupyter = tmp_path / "jupyter"
    monkeypatch.setenv("JUPYTER_PATH", str(jupyter))
    with busy_port_kernel(jupyter) as name:
        error = start_error(loop, host, name, tmp_path)
    assert isinstance(error, KernelDied), error
    assert "Address already in use" in str(error), str(error)


def test_a_kernel_killed_mid_cell_ends_the_execution_at_once(
    loop: KernelLoop, host: KernelHost, tmp_path: Path
) -> None:
    notebook = make_notebook(
        tmp_path / "sleeps.ipynb", None, "import time\nprint('asleep', flush=True)\ntime.sleep(600)"
    )
    lines: list[str] = []
    log = line_logger("test", lines.append)
    nb, _ = prepare_notebook(
        str(notebook), str(tmp_path / "out.ipynb"), {}, kernel_name=None, cwd=str(tmp_path), log=log
    )

    async def execute_and_kill() -> BaseException | None:
        kernel = await Kernel.spawn(KernelRecipe.of("python3", str(tmp_path), {}), host)
        await kernel.ready
        execution = kernel.unless_it_dies(
            execute_on_kernel(nb, kernel, str(tmp_path / "out.ipynb"), log=log),
            "running the notebook",
        )
        running = asyncio.ensure_future(execution)
        while not any("asleep" in line for line in lines):  # the cell is in its sleep
            await asyncio.sleep(0.05)
        assert kernel.pid is not None
        os.kill(kernel.pid, signal.SIGKILL)
        try:
            await running
        except Exception as err:
            return err
        finally:
            await kernel.shutdown(now=True)
        return None

    # Bounded well below the cell's 600 s: the death ended the run, not the cell.
    error = loop.run(execute_and_kill(), timeout=60)
    assert isinstance(error, KernelDied), error
    assert "died while running the notebook" in str(error) and "SIGKILL" in str(error)

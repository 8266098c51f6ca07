"""Stopping a process and everything it started (papermill and its kernel), politely:
SIGTERM, a grace period, then SIGKILL."""

from __future__ import annotations

import psutil


def terminate_process_tree(pid: int, grace_period: float) -> None:
    try:
        parent = psutil.Process(pid)
        # The kernel runs in a session of its own, so signalling the group would miss it.
        family = [parent, *parent.children(recursive=True)]
    except psutil.NoSuchProcess:
        return
    for process in family:
        try:
            process.terminate()
        except psutil.NoSuchProcess:
            pass
    _gone, alive = psutil.wait_procs(family, timeout=grace_period)
    for process in alive:
        try:
            process.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(alive, timeout=grace_period)


def process_is_alive(pid: int) -> bool:
    """Is the process there and not a zombie (ended, its exit code not yet collected)?"""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False

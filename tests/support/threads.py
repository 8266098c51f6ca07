"""Where a thread of the test process is: for tests that must act once another thread is
blocked at a known place (a claim waiting for a wake-up, a launch waiting for a loop),
rather than after a sleep that assumes it got there."""

from __future__ import annotations

import sys
import threading


def thread_named(name: str) -> threading.Thread | None:
    return next((t for t in threading.enumerate() if t.name == name), None)


def blocked_in(thread: threading.Thread | None, function: str, module_file: str) -> bool:
    """Whether `thread` waits (in `threading`: an Event, a Condition, a lock) somewhere
    below `function` of the module whose file name is `module_file`."""
    if thread is None or thread.ident is None:
        return False
    frame = sys._current_frames().get(thread.ident)
    waiting = frame is not None and frame.f_code.co_filename.endswith("threading.py")
    while frame is not None:
        code = frame.f_code
        if code.co_name == function and code.co_filename.endswith(module_file):
            return waiting
        frame = frame.f_back
    return False

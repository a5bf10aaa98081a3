"""Ctrl-C during the few steps that an interrupt would leave broken."""

from __future__ import annotations

import contextlib
import signal
import threading


@contextlib.contextmanager
def interrupts_deferred():
    """Hold Ctrl-C back until the block ends, then raise it.

    The first optimizer a process builds makes torch import its compiler stack (some 800
    modules, seconds); a KeyboardInterrupt in the middle of that import leaves modules
    half-initialised, and every later training in the process fails. Outside the main
    thread signals cannot be handled, and nothing changes.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received = []
    previous = signal.signal(signal.SIGINT, lambda number, frame: received.append(frame))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if received and callable(previous):
            previous(signal.SIGINT, received[0])

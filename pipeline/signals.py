"""Graceful stop on SIGINT/SIGTERM for the long-running commands (produce, consume, serve).

The first signal sets a flag the loop checks between units of work, so the work in hand
finishes and is committed; a second one raises KeyboardInterrupt to stop at once.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def stop_on_signals(stop: threading.Event, enabled: bool = True) -> Iterator[None]:
    """Within the block, SIGINT/SIGTERM set `stop` (only possible in the main thread)."""
    if not enabled or threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}

    def handler(_signum: int, _frame: object) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()

    for sig in previous:
        signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)

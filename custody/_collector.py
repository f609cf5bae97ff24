"""Pausing Python's cycle collector around work that makes many objects and no cycles.

A full collection walks every object the process holds. In the service that is the live
checker's whole snapshot, so a collection that fires in the middle of a ledger append costs
the append more than its own work. Pauses are process-wide and shared by threads: the
collector resumes when the last one ends, and only if it was running when the first began.
"""

from __future__ import annotations

import gc
import threading
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["cycle_collection_paused"]


class _Pauses:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.open = 0
        self.resume = False


_PAUSES = _Pauses()


@contextmanager
def cycle_collection_paused() -> Iterator[None]:
    """No cycle collection inside the block (reference counting frees objects as usual)."""
    with _PAUSES.lock:
        if _PAUSES.open == 0:
            _PAUSES.resume = gc.isenabled()
            gc.disable()
        _PAUSES.open += 1
    try:
        yield
    finally:
        with _PAUSES.lock:
            _PAUSES.open -= 1
            if _PAUSES.open == 0 and _PAUSES.resume:
                gc.enable()

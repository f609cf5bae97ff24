"""Rate limits on writes: a token bucket per account, in the service's memory.

A bucket holds ``burst`` writes and refills at ``per_minute``; a write finding it empty is
refused with how long to wait. One process keeps its own buckets, which is what a single
service needs; behind several workers each enforces its share (say so when sizing). Written
here rather than taken from a library: the algorithm is twenty lines, and the libraries that
offer it bring storage back ends we do not use.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["WriteLimiter"]

#: Buckets idle this long are full again and can be forgotten.
_FORGET_S = 3600.0


class WriteLimiter:
    """Token buckets keyed by account name."""

    def __init__(
        self, per_minute: float, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._rate = per_minute / 60.0
        self._burst = float(burst)
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)

    def take(self, key: str) -> float | None:
        """Spend one write for ``key``: None when allowed, else the seconds to wait."""
        now = self._clock()
        with self._lock:
            tokens, at = self._buckets.get(key, (self._burst, now))
            tokens = min(self._burst, tokens + (now - at) * self._rate)
            if tokens < 1:
                self._buckets[key] = (tokens, now)
                return (1 - tokens) / self._rate if self._rate > 0 else float("inf")
            self._buckets[key] = (tokens - 1, now)
            if len(self._buckets) > 10_000:
                self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < _FORGET_S}
            return None

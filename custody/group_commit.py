"""Group commit: appends from many threads share one transaction and one durable commit.

A scanner's single-event request is small; what it costs is the commit (a lock, a signed
checkpoint, an fsync). Requests that arrive while a commit is under way wait and then go in
the next one together, the way databases group their log flushes: throughput grows with the
number waiting, and nobody waits for more than one commit ahead of their own.

If a group fails as a whole (one request reuses a counter that another request of the same
group holds), each of its requests is appended on its own, so one bad request never fails
another. Events of one group share the earliest receive time among them.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from custody.errors import CustodyError, StorageError

if TYPE_CHECKING:
    from datetime import datetime

    from custody.events import SignedEvent
    from custody.ledger import Ledger, Receipt

__all__ = ["GroupCommit"]


@dataclass(slots=True)
class _Request:
    events: list[SignedEvent]
    received_at: datetime
    done: threading.Event = field(default_factory=threading.Event)
    lead: bool = False
    committed: bool = False
    receipts: list[Receipt] = field(default_factory=list)
    error: CustodyError | None = None


class GroupCommit:
    """Appends to ``ledger`` from any number of threads, grouped into shared commits."""

    def __init__(self, ledger: Ledger, max_events: int = 5000) -> None:
        self.ledger = ledger
        self._max = max_events
        self._lock = threading.Lock()
        self._queue: list[_Request] = []
        self._leading = False

    def append(self, events: list[SignedEvent], received_at: datetime) -> list[Receipt]:
        """Append ``events`` (in order) in the next group commit; return their receipts."""
        request = _Request(events, received_at)
        with self._lock:
            self._queue.append(request)
            request.lead = not self._leading
            self._leading = True
        if not request.lead:
            request.done.wait()  # until committed by a leader, or handed the lead
        if not request.committed:
            self._lead()
        if request.error is not None:
            raise request.error
        return request.receipts

    def _lead(self) -> None:
        """Commit one group (this thread's request among it), then hand the lead on."""
        with self._lock:
            group: list[_Request] = []
            size = 0
            while self._queue and (not group or size + len(self._queue[0].events) <= self._max):
                size += len(self._queue[0].events)
                group.append(self._queue.pop(0))
        try:
            self._commit(group)
        except Exception:  # a fault, not a refusal: nobody may be left waiting for an answer
            for request in group:
                request.error = request.error or StorageError(
                    "the append failed unexpectedly; nothing of this request was confirmed",
                    zh="追加意外失败，本次请求未入账",
                )
            raise
        finally:
            with self._lock:
                if self._queue:  # the next waiter leads the next group
                    self._queue[0].lead = True
                    self._queue[0].done.set()
                else:
                    self._leading = False
            for request in group:
                request.done.set()

    def _commit(self, group: list[_Request]) -> None:
        for request in group:
            request.committed = True
        events = [e for request in group for e in request.events]
        when = min(request.received_at for request in group)
        try:
            receipts = self.ledger.append(events, when)
        except CustodyError:
            if len(group) == 1:
                group[0].error = _alone(self.ledger, group[0])
                return
            for request in group:  # one bad request must not fail the others
                request.error = _alone(self.ledger, request)
            return
        start = 0
        for request in group:
            request.receipts = receipts[start : start + len(request.events)]
            start += len(request.events)


def _alone(ledger: Ledger, request: _Request) -> CustodyError | None:
    """Append a request on its own; keep its receipts or return its error."""
    try:
        request.receipts = ledger.append(list(request.events), request.received_at)
    except CustodyError as exc:
        return exc
    return None

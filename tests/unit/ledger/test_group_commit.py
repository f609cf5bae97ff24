"""Group commit: many threads' appends share commits, and nobody's events are lost or mixed."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import NoReturn

from custody.errors import ConflictError, StorageError
from custody.events import Step
from custody.group_commit import GroupCommit
from custody.ledger import Ledger
from tests.conftest import DISPOSER_CODE, GENERATOR_CODE, TRANSPORTER_CODE
from tests.fakes.ledger_store import InMemoryLedgerStore
from tests.ledger_fixtures import LOG_KEY, ORIGIN, T0, Scanner, drum


class _CountingLedger(Ledger):
    """A ledger that counts its commits and is slow enough for requests to pile up."""

    def __init__(self) -> None:
        super().__init__(InMemoryLedgerStore(), LOG_KEY, ORIGIN)
        self.commits = 0
        self.gate = threading.Event()

    def append(self, events, received_at=None):  # type: ignore[no-untyped-def]  # test double
        self.gate.wait(5)
        self.commits += 1
        return super().append(events, received_at)


def test_concurrent_requests_share_commits_and_each_gets_its_own_receipts() -> None:
    ledger = _CountingLedger()
    group = GroupCommit(ledger)
    scanners = [Scanner(code) for code in (GENERATOR_CODE, TRANSPORTER_CODE, DISPOSER_CODE)]
    requests = [[s.scan(Step.COMMISSIONING, drum(10 * i + n + 1), seed=n) for n in range(3)]
                for i, s in enumerate(scanners)]  # fmt: skip
    results: dict[int, list[str]] = {}

    def send(i: int) -> None:
        receipts = group.append(requests[i], T0 + timedelta(minutes=i))
        results[i] = [r.event_id for r in receipts]

    threads = [threading.Thread(target=send, args=(i,)) for i in range(3)]
    for thread in threads:
        thread.start()
    ledger.gate.set()  # the first commit was held: the others queued behind it
    for thread in threads:
        thread.join(5)
    assert results == {i: [e.event.event_id for e in requests[i]] for i in range(3)}
    assert ledger.store.state().size == 9
    assert ledger.commits < 3  # at least two requests went in one commit


def test_a_bad_request_in_a_group_fails_alone() -> None:
    ledger = _CountingLedger()
    group = GroupCommit(ledger)
    phone, clone = Scanner(GENERATOR_CODE), Scanner(GENERATOR_CODE)  # one key, two devices
    good = [Scanner(TRANSPORTER_CODE).scan(Step.LOADING, drum(5))]
    first, copy = (
        [phone.scan(Step.COMMISSIONING, drum(1))],
        [clone.scan(Step.PACKING, drum(2), seed=9)],
    )
    errors: list[BaseException] = []
    done: dict[str, int] = {}

    def send(name: str, events: list) -> None:  # type: ignore[type-arg]
        try:
            done[name] = len(group.append(events, T0))
        except ConflictError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=send, args=a)
               for a in (("first", first), ("copy", copy), ("good", good))]  # fmt: skip
    for thread in threads:
        thread.start()
    ledger.gate.set()
    for thread in threads:
        thread.join(5)
    assert done.get("good") == 1  # never failed by its neighbour's clash
    assert len(errors) == 1  # of the two claims on one counter, exactly one stands
    assert ledger.store.state().size == 2


def test_a_fault_in_the_leader_never_leaves_the_others_waiting() -> None:
    class _Broken(_CountingLedger):
        def append(self, *_: object) -> NoReturn:  # type: ignore[override]  # test double
            self.gate.wait(5)
            raise RuntimeError("disk on fire")

    ledger = _Broken()
    group = GroupCommit(ledger)
    outcomes: list[str] = []

    def send(n: int) -> None:
        try:
            group.append([Scanner(GENERATOR_CODE).scan(Step.COMMISSIONING, drum(n))], T0)
        except RuntimeError:
            outcomes.append("fault")  # the leader sees the fault itself
        except StorageError:
            outcomes.append("refused")  # the others get a clear error, not a hang

    threads = [threading.Thread(target=send, args=(n,)) for n in (1, 2, 3)]
    for thread in threads:
        thread.start()
    ledger.gate.set()
    for thread in threads:
        thread.join(5)
    assert not any(thread.is_alive() for thread in threads)
    assert len(outcomes) == 3
    assert "fault" in outcomes

"""A scanner's check that each new checkpoint extends the last one it saw."""

from __future__ import annotations

import pytest

from custody.errors import ProofInvalid
from custody.events import Step
from custody.ledger import Ledger, verify_extension
from tests.conftest import GENERATOR_CODE
from tests.fakes.ledger_store import InMemoryLedgerStore
from tests.ledger_fixtures import LOG_KEY, ORIGIN, Scanner, drum


def _grown(sizes: list[int]) -> tuple[Ledger, list[bytes]]:
    ledger, scanner, notes = (
        Ledger(InMemoryLedgerStore(), LOG_KEY, ORIGIN),
        Scanner(GENERATOR_CODE),
        [],
    )
    for n in sizes:
        ledger.append([scanner.scan(Step.COMMISSIONING, drum(i + 1), seed=i) for i in range(n)])
        notes.append(ledger.latest_checkpoint())
    return ledger, notes


def test_a_grown_log_extends_what_was_seen() -> None:
    ledger, (first, second) = _grown([3, 4])
    old, new = verify_extension(
        first, second, ledger.consistency(3, 7), LOG_KEY.record.verifier_key
    )
    assert (old.size, new.size) == (3, 7)


def test_another_history_of_the_same_log_is_caught() -> None:
    _, (seen, _) = _grown([3, 4])
    forked, (_, other) = _grown([2, 5])  # same key and origin, different first entries
    with pytest.raises(ProofInvalid, match="does not extend"):
        verify_extension(seen, other, forked.consistency(3, 7), LOG_KEY.record.verifier_key)

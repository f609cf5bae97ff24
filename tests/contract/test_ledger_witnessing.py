"""The log gets its checkpoints cosigned; a witness never cosigns a history that forks."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from custody.audit import audit
from custody.checkpoint import open_cosignatures, open_note
from custody.errors import ConflictError, ProofInvalid
from custody.events import Step
from custody.keys import KeyRole
from custody.ledger import Ledger
from custody.witness import InMemoryWitnessStore, Witness
from custody.witnessing import cosign_latest
from tests.conftest import GENERATOR_CODE
from tests.fakes.ledger_store import InMemoryLedgerStore
from tests.ledger_fixtures import BUNDLE, LOG_KEY, ORIGIN, Scanner, drum, key

if TYPE_CHECKING:
    from custody.ports import LedgerStore

WITNESS_KEY = key(30, "police.sc.example/witness", "police", KeyRole.WITNESS)


def _witness() -> Witness:
    return Witness(WITNESS_KEY, {ORIGIN: LOG_KEY.record.verifier_key}, InMemoryWitnessStore(),
                   clock=lambda: 1_780_000_000)  # fmt: skip


def test_checkpoints_get_cosigned_and_stay_valid(ledger_store: LedgerStore) -> None:
    ledger, witness, gen = (
        Ledger(ledger_store, LOG_KEY, ORIGIN),
        _witness(),
        Scanner(GENERATOR_CODE),
    )
    ledger.append([gen.scan(Step.COMMISSIONING, drum(1))])
    first = cosign_latest(ledger, witness.add_checkpoint)
    ledger.append([gen.scan(Step.PACKING, drum(1)), gen.scan(Step.COMMISSIONING, drum(2))])
    second = cosign_latest(ledger, witness.add_checkpoint, witnessed_size=1)
    for note in (first, second):
        _, cosignatures = open_cosignatures(note, [witness.verifier])
        assert len(cosignatures) == 1
        assert open_note(note, [ledger.verifier])  # the log's own signature still verifies
    assert ledger.latest_checkpoint() == second
    assert audit(ledger_store, ledger.verifier, BUNDLE, workers=1).ok


def test_stale_size_is_corrected_from_the_witness_answer(ledger_store: LedgerStore) -> None:
    ledger, witness, gen = (
        Ledger(ledger_store, LOG_KEY, ORIGIN),
        _witness(),
        Scanner(GENERATOR_CODE),
    )
    ledger.append([gen.scan(Step.COMMISSIONING, drum(1))])
    cosign_latest(ledger, witness.add_checkpoint)
    ledger.append([gen.scan(Step.PACKING, drum(1))])
    note = cosign_latest(ledger, witness.add_checkpoint, witnessed_size=0)  # we forgot: it says 1
    assert open_cosignatures(note, [witness.verifier])[1]


def test_witness_refuses_a_split_view(ledger_store: LedgerStore) -> None:
    witness = _witness()
    honest = Ledger(ledger_store, LOG_KEY, ORIGIN)
    honest.append([Scanner(GENERATOR_CODE).scan(Step.COMMISSIONING, drum(1))])
    cosign_latest(honest, witness.add_checkpoint)
    # The same log key shows someone else another history of the same origin.
    other, scanner = Ledger(InMemoryLedgerStore(), LOG_KEY, ORIGIN), Scanner(GENERATOR_CODE)
    other.append([scanner.scan(Step.COMMISSIONING, drum(7), seed=99)])
    other.append([scanner.scan(Step.COMMISSIONING, drum(8), seed=98)])
    with pytest.raises((ProofInvalid, ConflictError)):
        cosign_latest(other, witness.add_checkpoint, witnessed_size=1)

"""The custody ledger on every store: the in-memory fake, SQLite and PostgreSQL."""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import text

from custody import _merkle
from custody.checkpoint import Checkpoint, open_note
from custody.errors import ConflictError, LedgerTampered
from custody.events import NO_PREVIOUS, Step
from custody.ledger import Ledger
from tests.conftest import DISPOSER_CODE, GENERATOR_CODE, TRANSPORTER_CODE
from tests.fakes.ledger_store import InMemoryLedgerStore
from tests.ledger_fixtures import LOG_KEY, ORIGIN, Mass, MassSource, Scanner, drum

if TYPE_CHECKING:
    from custody.ports import LedgerStore


def _journey() -> tuple[Scanner, Scanner, Scanner]:
    return Scanner(GENERATOR_CODE), Scanner(TRANSPORTER_CODE), Scanner(DISPOSER_CODE)


def test_receipts_prove_inclusion_under_a_signed_checkpoint(ledger_store: LedgerStore) -> None:
    ledger = Ledger(ledger_store, LOG_KEY, ORIGIN)
    gen, truck, plant = _journey()
    first = ledger.append(
        [gen.scan(Step.COMMISSIONING, drum(1)), gen.scan(Step.COMMISSIONING, drum(2))]
    )
    truck.follow(gen)
    second = ledger.append(
        [truck.scan(Step.LOADING, drum(1), drum(2), minutes=30, vehicle="川A12345")]
    )
    plant.follow(truck)
    third = ledger.append(
        [
            plant.scan(
                Step.RECEIVING, drum(1), minutes=300, mass=Mass(182_000, MassSource.WEIGHBRIDGE)
            )
        ]
    )
    assert [r.index for r in first + second + third] == [0, 1, 2, 3]
    for receipt in first + second + third:
        receipt.verify(ledger.verifier)
    assert third[0].size == 4
    assert ledger_store.flags() == []


def test_checkpoints_are_consistent_with_each_other(ledger_store: LedgerStore) -> None:
    ledger = Ledger(ledger_store, LOG_KEY, ORIGIN)
    gen = Scanner(GENERATOR_CODE)
    for n in range(1, 8):
        ledger.append([gen.scan(Step.COMMISSIONING, drum(n)) for _ in range(1)])
        ledger.append([gen.scan(Step.PACKING, drum(n))])
    points = [
        Checkpoint.parse_body(open_note(note, [ledger.verifier])[0])
        for _, _, note in ledger_store.checkpoints()
    ]
    assert [p.size for p in points] == list(range(1, 15))
    for old, new in itertools.pairwise(points):
        proof = ledger.consistency(old.size, new.size)
        _merkle.verify_consistency(old.size, new.size, old.root, new.root, proof)
    assert points[-1].root == _merkle.root_from_leaf_hashes(
        [e.leaf_hash for e in ledger_store.entries(0, 14)]
    )


def test_a_consolidation_is_in_the_history_of_the_container_it_made(
    ledger_store: LedgerStore,
) -> None:
    ledger = Ledger(ledger_store, LOG_KEY, ORIGIN)
    gen = Scanner(GENERATOR_CODE)
    ledger.append([gen.scan(Step.COMMISSIONING, drum(n)) for n in (1, 2)])
    (made,) = ledger.append([gen.scan(Step.CONSOLIDATING, drum(1), drum(2), parent=drum(3),
                                      minutes=10)])  # fmt: skip
    ledger.append([gen.scan(Step.PACKING, drum(3), minutes=20)])
    assert [e.index for e in ledger_store.container_entries(drum(3))] == [made.index, 3]
    assert [e.index for e in ledger_store.container_entries(drum(1))] == [0, made.index]


def test_leaf_data_is_each_entry_and_its_leaf_in_order_in_chunks(
    ledger_store: LedgerStore,
) -> None:
    ledger = Ledger(ledger_store, LOG_KEY, ORIGIN)
    gen = Scanner(GENERATOR_CODE)
    ledger.append([gen.scan(Step.COMMISSIONING, drum(n)) for n in range(1, 6)])
    chunks = list(ledger_store.leaf_data(4, 3))
    assert [[i for i, _, _ in rows] for rows in chunks] == [[0, 1, 2], [3]]
    assert chunks[1] == [(e.index, e.entry, e.leaf_hash) for e in ledger_store.entries(3, 4)]
    assert [i for rows in ledger_store.leaf_data(9, 2) for i, _, _ in rows] == [0, 1, 2, 3, 4]
    assert all(
        _merkle.leaf_hash(entry) == leaf
        for rows in ledger_store.leaf_data(5, 5)
        for _, entry, leaf in rows
    )


def test_replayed_event_gets_its_original_receipt_not_a_second_entry(
    ledger_store: LedgerStore,
) -> None:
    ledger = Ledger(ledger_store, LOG_KEY, ORIGIN)
    gen = Scanner(GENERATOR_CODE)
    event = gen.scan(Step.COMMISSIONING, drum(1))
    (original,) = ledger.append([event])
    again = ledger.append([event, event])
    assert [r.index for r in again] == [original.index, original.index]
    assert all(r.duplicate for r in again)
    assert ledger_store.state().size == 1


def test_event_id_reused_with_other_content_is_refused(ledger_store: LedgerStore) -> None:
    ledger = Ledger(ledger_store, LOG_KEY, ORIGIN)
    gen = Scanner(GENERATOR_CODE)
    ledger.append([gen.scan(Step.COMMISSIONING, drum(1), seed=42)])
    clone = Scanner(GENERATOR_CODE)
    with pytest.raises(ConflictError):
        ledger.append([clone.scan(Step.COMMISSIONING, drum(2), seed=42)])
    assert ledger_store.state().size == 1


def test_forked_chain_detected(ledger_store: LedgerStore) -> None:
    ledger = Ledger(ledger_store, LOG_KEY, ORIGIN)
    gen, truck, plant = _journey()
    ledger.append([gen.scan(Step.COMMISSIONING, drum(1))])
    truck.follow(gen)
    plant.follow(gen)  # both know the same predecessor
    ledger.append([truck.scan(Step.LOADING, drum(1), minutes=10)])
    ledger.append([plant.scan(Step.RECEIVING, drum(1), minutes=11)])
    (flag,) = ledger_store.flags()
    assert (flag.kind, flag.container, flag.index) == ("fork", drum(1), 2)
    assert flag.claimed == gen.last[drum(1)]


def test_unknown_predecessor_is_kept_and_flagged(ledger_store: LedgerStore) -> None:
    ledger = Ledger(ledger_store, LOG_KEY, ORIGIN)
    truck = Scanner(TRANSPORTER_CODE)
    (receipt,) = ledger.append([truck.scan(Step.LOADING, drum(3), prev={drum(3): b"\x07" * 32})])
    assert receipt.index == 0
    (flag,) = ledger_store.flags()
    assert flag.kind == "unknown-predecessor"


def test_a_scan_that_did_not_know_the_history_is_unlinked_not_a_fork(
    ledger_store: LedgerStore,
) -> None:
    ledger = Ledger(ledger_store, LOG_KEY, ORIGIN)
    gen, truck, _ = _journey()
    ledger.append([gen.scan(Step.COMMISSIONING, drum(1))])
    ledger.append([truck.scan(Step.LOADING, drum(1), minutes=10)])  # offline: never learned it
    (flag,) = ledger_store.flags()
    assert (flag.kind, flag.index, flag.claimed) == ("unlinked", 1, NO_PREVIOUS)


def test_an_offline_device_chains_its_own_scans(ledger_store: LedgerStore) -> None:
    ledger = Ledger(ledger_store, LOG_KEY, ORIGIN)
    gen, truck, _ = _journey()
    ledger.append([gen.scan(Step.COMMISSIONING, drum(1))])
    truck.follow(gen)
    queued = [
        truck.scan(step, drum(1), minutes=m)
        for m, step in [
            (10, Step.LOADING),
            (20, Step.DEPARTING),
            (90, Step.PASSING),
            (200, Step.ARRIVING),
        ]
    ]
    ledger.append(queued)
    assert ledger_store.flags() == []
    assert [e.index for e in ledger_store.container_entries(drum(1))] == [0, 1, 2, 3, 4]


def test_tampered_state_stops_appends(
    ledger_store: LedgerStore, request: pytest.FixtureRequest
) -> None:
    ledger = Ledger(ledger_store, LOG_KEY, ORIGIN)
    gen = Scanner(GENERATOR_CODE)
    ledger.append([gen.scan(Step.COMMISSIONING, drum(1)), gen.scan(Step.COMMISSIONING, drum(2))])
    if isinstance(ledger_store, InMemoryLedgerStore):
        state = ledger_store.state()
        ledger_store._state = state._replace(peaks=[b"\x00" * 32])
    else:
        with ledger_store._engine.begin() as conn:  # type: ignore[attr-defined]
            conn.execute(text("UPDATE ledger_state SET peaks = :p"), {"p": b"\x00" * 32})
    with pytest.raises(LedgerTampered):
        ledger.append([gen.scan(Step.PACKING, drum(1))])
    assert request.node

"""An insider edits the database: the audit and the evidence bundle catch every kind of edit."""

from __future__ import annotations

import dataclasses
import os
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import text

from custody import audit as audit_module
from custody.audit import audit
from custody.errors import AuditInterrupted, BundleInvalid, StorageError
from custody.events import Step
from custody.evidence import EvidenceBundle, export_container, verify_bundle
from custody.ledger import Ledger
from custody.trust import TrustBundle
from tests.conftest import DISPOSER_CODE, GENERATOR_CODE, TRANSPORTER_CODE
from tests.ledger_fixtures import BUNDLE, DEVICES, LOG_KEY, ORIGIN, T0, Scanner, drum, key

if TYPE_CHECKING:
    from storage.ledger_store import SqlLedgerStore

ROOT = key(9, "custody/root", "custody", __import__("custody.keys").keys.KeyRole.ROOT)
SIGNED_BUNDLE = TrustBundle.issue(1, [*BUNDLE.keys, ROOT.record], T0).sign(ROOT)
TRUST = TrustBundle.from_signed(SIGNED_BUNDLE, ROOT.record.verifier_key)


def _history(store: SqlLedgerStore | object) -> Ledger:
    """Three drums from generator to disposer, in six appends (6 checkpoints, 12 entries)."""
    ledger = Ledger(store, LOG_KEY, ORIGIN)  # type: ignore[arg-type]
    gen, truck, plant = Scanner(GENERATOR_CODE), Scanner(TRANSPORTER_CODE), Scanner(DISPOSER_CODE)
    drums = [drum(n) for n in (1, 2, 3)]
    ledger.append([gen.scan(Step.COMMISSIONING, d) for d in drums])
    ledger.append([gen.scan(Step.PACKING, d, minutes=5) for d in drums])
    truck.follow(gen)
    ledger.append([truck.scan(Step.LOADING, *drums, minutes=30, vehicle="川A12345")])
    ledger.append([truck.scan(Step.PASSING, *drums, minutes=90, read_point="CD-G5-K1234")])
    plant.follow(truck)
    ledger.append([plant.scan(Step.RECEIVING, d, minutes=300) for d in drums])
    ledger.append([plant.scan(Step.DESTROYING, drums[0], minutes=900)])
    return ledger


def _sql(store: SqlLedgerStore, statement: str, **params: object) -> None:
    with store._engine.begin() as conn:
        conn.execute(text(statement), params)


def test_untouched_ledger_audits_clean(sql_ledger_store: SqlLedgerStore) -> None:
    _history(sql_ledger_store)
    report = audit(sql_ledger_store, LOG_KEY.record.verifier_key, TRUST, workers=2)
    assert report.ok, report.problems
    assert (report.entries, report.checkpoints, report.signatures, report.containers) == (
        12,
        6,
        12,
        3,
    )
    assert report.forks == []


def test_one_changed_byte_is_found_at_its_index(sql_ledger_store: SqlLedgerStore) -> None:
    _history(sql_ledger_store)
    entry = sql_ledger_store.entry(7)
    assert entry is not None
    changed = entry.entry[:-5] + bytes([entry.entry[-5] ^ 1]) + entry.entry[-4:]
    _sql(sql_ledger_store, "UPDATE ledger_entry SET entry = :e WHERE idx = 7", e=changed)
    report = audit(sql_ledger_store, LOG_KEY.record.verifier_key, TRUST, workers=1)
    assert not report.ok
    assert report.first_bad_index in {6, 7}
    assert {p.kind for p in report.problems} >= {
        "leaf-mismatch",
        "root-mismatch",
        "event-signature",
    }


def test_rehashed_suffix_still_fails_against_signed_roots(sql_ledger_store: SqlLedgerStore) -> None:
    # The insider also rewrites the derived leaf hash, so only the signed roots can tell.
    from custody._merkle import leaf_hash  # noqa: PLC0415

    _history(sql_ledger_store)
    entry = sql_ledger_store.entry(10)
    assert entry is not None
    forged = entry.entry.replace(b"\x01", b"\x02", 1)
    _sql(sql_ledger_store, "UPDATE ledger_entry SET entry = :e, leaf_hash = :h WHERE idx = 10",
         e=forged, h=leaf_hash(forged))  # fmt: skip
    report = audit(sql_ledger_store, LOG_KEY.record.verifier_key, TRUST, workers=1)
    assert "root-mismatch" in {p.kind for p in report.problems}
    assert report.first_bad_index is not None
    assert report.first_bad_index <= 10


def test_deleted_row_is_reported_missing(sql_ledger_store: SqlLedgerStore) -> None:
    _history(sql_ledger_store)
    _sql(sql_ledger_store, "DELETE FROM ledger_entry WHERE idx = 4")
    report = audit(sql_ledger_store, LOG_KEY.record.verifier_key, TRUST, workers=1)
    assert any(p.kind == "entry-missing" and p.index == 4 for p in report.problems)


@pytest.mark.parametrize("workers", [1, 2])
def test_forks_are_named_as_the_ledger_flagged_them_when_appended(
    sql_ledger_store: SqlLedgerStore, monkeypatch: pytest.MonkeyPatch, workers: int
) -> None:
    ledger = Ledger(sql_ledger_store, LOG_KEY, ORIGIN)
    gen, truck = Scanner(GENERATOR_CODE), Scanner(TRANSPORTER_CODE)
    plant = Scanner(DISPOSER_CODE)
    ledger.append([gen.scan(Step.COMMISSIONING, drum(n)) for n in (1, 2, 3)])
    truck.follow(gen)
    plant.follow(gen)  # both claim the commissioning of drum 1: a fork
    ledger.append([truck.scan(Step.LOADING, drum(1), drum(2), minutes=10)])
    ledger.append([plant.scan(Step.RECEIVING, drum(1), minutes=11)])
    ledger.append([plant.scan(Step.RECEIVING, drum(3), minutes=12, prev={drum(3): b"\7" * 32})])
    offline = Scanner(DISPOSER_CODE)
    offline.counter = 100  # the plant's second reader, past the first one's counters
    ledger.append([offline.scan(Step.RECEIVING, drum(2), minutes=13)])  # never learned it
    monkeypatch.setattr(audit_module, "_CHUNK", 2)
    report = audit(sql_ledger_store, LOG_KEY.record.verifier_key, TRUST, workers=workers)
    assert report.ok, report.problems
    flagged = {(f.index, f.kind, f.container) for f in sql_ledger_store.flags()}
    assert (
        {(p.index, p.kind, p.detail) for p in report.forks}
        == flagged
        == {
            (4, "fork", drum(1)),
            (5, "unknown-predecessor", drum(3)),
            (6, "unlinked", drum(2)),
        }
    )


@pytest.mark.parametrize("workers", [2, 3])
def test_chunks_shared_with_helpers_report_what_one_process_reports(
    sql_ledger_store: SqlLedgerStore, monkeypatch: pytest.MonkeyPatch, workers: int
) -> None:
    _history(sql_ledger_store)
    _sql(sql_ledger_store, "DELETE FROM ledger_entry WHERE idx = 4")
    entry = sql_ledger_store.entry(9)
    assert entry is not None
    _sql(sql_ledger_store, "UPDATE ledger_entry SET entry = :e WHERE idx = 9",
         e=entry.entry[:-1] + bytes([entry.entry[-1] ^ 1]))  # fmt: skip
    alone = audit(sql_ledger_store, LOG_KEY.record.verifier_key, TRUST, workers=1)
    monkeypatch.setattr(audit_module, "_CHUNK", 2)  # six chunks: one waits for each helper,
    monkeypatch.setattr(audit_module, "_QUEUED", 1)  # this process checks those it can't take
    pooled = audit(sql_ledger_store, LOG_KEY.record.verifier_key, TRUST, workers=workers)
    assert pooled == alone
    assert {(p.index, p.kind) for p in pooled.problems} >= {(4, "entry-missing"),
                                                            (9, "leaf-mismatch")}  # fmt: skip


@pytest.mark.skipif(
    audit_module._START.get_start_method() != "fork", reason="the helper must inherit the patch"
)
def test_a_helper_that_dies_interrupts_the_audit_instead_of_hanging_it(
    sql_ledger_store: SqlLedgerStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    _history(sql_ledger_store)
    auditor = os.getpid()
    check = audit_module._check_chunk

    def dies_in_a_helper(rows: list[tuple[int, bytes, bytes]], bundle: TrustBundle) -> object:
        if os.getpid() != auditor:
            os._exit(9)  # as if the kernel killed it for memory
        return check(rows, bundle)

    monkeypatch.setattr(audit_module, "_check_chunk", dies_in_a_helper)
    monkeypatch.setattr(audit_module, "_CHUNK", 2)
    with pytest.raises(AuditInterrupted, match="exit code 9"):
        audit(sql_ledger_store, LOG_KEY.record.verifier_key, TRUST, workers=2)


def test_a_ledger_that_cannot_be_read_is_a_storage_error_not_a_verdict(
    sql_ledger_store: SqlLedgerStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    _history(sql_ledger_store)
    monkeypatch.setattr(audit_module, "_CHUNK", 2)  # helpers started, then stopped part way
    _sql(sql_ledger_store, "ALTER TABLE ledger_entry RENAME COLUMN entry TO gone")
    try:
        with pytest.raises(StorageError, match="reading the ledger failed"):
            audit(sql_ledger_store, LOG_KEY.record.verifier_key, TRUST, workers=2)
    finally:  # the PostgreSQL suite shares one schema between tests
        _sql(sql_ledger_store, "ALTER TABLE ledger_entry RENAME COLUMN gone TO entry")


def test_an_append_during_the_audit_is_not_a_problem(sql_ledger_store: SqlLedgerStore) -> None:
    ledger = _history(sql_ledger_store)
    late = Scanner(GENERATOR_CODE)
    late.counter = 1000  # past the history's own scans

    class AppendedMeanwhile:  # another writer appends just as the audit starts reading
        def __getattr__(self, name: str) -> object:
            return getattr(sql_ledger_store, name)

        def checkpoints(self) -> list[tuple[int, bytes, bytes]]:
            ledger.append([late.scan(Step.COMMISSIONING, drum(7), minutes=2000)])
            return sql_ledger_store.checkpoints()

    report = audit(AppendedMeanwhile(), LOG_KEY.record.verifier_key, TRUST, workers=1)  # type: ignore[arg-type]
    assert report.ok, report.problems
    assert (report.entries, report.checkpoints) == (13, 7)


def test_reordered_rows_are_caught(sql_ledger_store: SqlLedgerStore) -> None:
    _history(sql_ledger_store)
    a, b = sql_ledger_store.entry(2), sql_ledger_store.entry(3)
    assert a is not None
    assert b is not None
    _sql(
        sql_ledger_store,
        "UPDATE ledger_entry SET entry = :e, leaf_hash = :h WHERE idx = 2",
        e=b.entry,
        h=b.leaf_hash,
    )
    _sql(
        sql_ledger_store,
        "UPDATE ledger_entry SET entry = :e, leaf_hash = :h WHERE idx = 3",
        e=a.entry,
        h=a.leaf_hash,
    )
    report = audit(sql_ledger_store, LOG_KEY.record.verifier_key, TRUST, workers=1)
    assert any(p.kind == "root-mismatch" for p in report.problems)


def test_swapped_checkpoint_is_caught(sql_ledger_store: SqlLedgerStore) -> None:
    _history(sql_ledger_store)
    notes = {size: note for size, _, note in sql_ledger_store.checkpoints()}
    assert sorted(notes) == [3, 6, 7, 8, 11, 12]
    _sql(sql_ledger_store, "UPDATE ledger_checkpoint SET note = :n WHERE size = 6", n=notes[7])
    report = audit(sql_ledger_store, LOG_KEY.record.verifier_key, TRUST, workers=1)
    assert any(p.kind == "checkpoint-size" for p in report.problems)


def test_forged_checkpoint_signature_is_caught(sql_ledger_store: SqlLedgerStore) -> None:
    _history(sql_ledger_store)
    forger = key(13, "custody/log/1", "custody", __import__("custody.keys").keys.KeyRole.LOG)
    from custody.checkpoint import Checkpoint, sign_note  # noqa: PLC0415

    body = Checkpoint(ORIGIN, 3, b"\0" * 32).body()
    _sql(
        sql_ledger_store,
        "UPDATE ledger_checkpoint SET note = :n WHERE size = 3",
        n=sign_note(body, forger),
    )
    report = audit(sql_ledger_store, LOG_KEY.record.verifier_key, TRUST, workers=1)
    assert any(p.kind == "checkpoint-signature" for p in report.problems)


# -- evidence bundles ---------------------------------------------------------------------------


def _bundle(store: SqlLedgerStore, ledger: Ledger, container: str) -> EvidenceBundle:
    return export_container(store, ledger, container, SIGNED_BUNDLE, ROOT.record.verifier_key)


def test_bundle_verifies_offline_from_its_json(sql_ledger_store: SqlLedgerStore) -> None:
    ledger = _history(sql_ledger_store)
    text = _bundle(sql_ledger_store, ledger, drum(1)).to_json()
    report = verify_bundle(
        EvidenceBundle.from_json(text),
        trust_root=ROOT.record.verifier_key,
        log_key=LOG_KEY.record.verifier_key,
    )
    assert [e.step for e in report.events] == [
        Step.COMMISSIONING,
        Step.PACKING,
        Step.LOADING,
        Step.PASSING,
        Step.RECEIVING,
        Step.DESTROYING,
    ]
    assert report.pinned
    assert report.size == 12


def test_a_consolidated_containers_bundle_starts_with_the_consolidation(
    sql_ledger_store: SqlLedgerStore,
) -> None:
    ledger = _history(sql_ledger_store)
    plant = Scanner(DISPOSER_CODE)
    plant.counter = 100  # past the history's own scans
    drums = [drum(2), drum(3)]
    plant.last.update({d: e.event_hash for d in drums
                       for e in sql_ledger_store.container_entries(d)[-1:]})  # fmt: skip
    merged = drum(8)
    ledger.append([plant.scan(Step.CONSOLIDATING, *drums, parent=merged, minutes=1000)])
    ledger.append([plant.scan(Step.DESTROYING, merged, minutes=1100)])
    report = verify_bundle(
        EvidenceBundle.from_json(_bundle(sql_ledger_store, ledger, merged).to_json()),
        trust_root=ROOT.record.verifier_key,
        log_key=LOG_KEY.record.verifier_key,
    )
    assert [e.step for e in report.events] == [Step.CONSOLIDATING, Step.DESTROYING]
    assert report.indices == (12, 13)


def _swap_bytes(b: EvidenceBundle) -> EvidenceBundle:
    first, second = b.entries[0], b.entries[1]
    swapped = (
        dataclasses.replace(first, entry=second.entry),
        dataclasses.replace(second, entry=first.entry),
    )
    return dataclasses.replace(b, entries=(*swapped, *b.entries[2:]))


@pytest.mark.parametrize(
    ("mutate", "step"),
    [
        (_swap_bytes, "inclusion"),
        (lambda b: dataclasses.replace(b, entries=b.entries[:2] + b.entries[3:]), "chain"),
        (
            lambda b: dataclasses.replace(b, entries=(b.entries[1], b.entries[0], *b.entries[2:])),
            "chain",
        ),
        (lambda b: dataclasses.replace(b, container=drum(2)), "container"),
        (
            lambda b: dataclasses.replace(b, checkpoint=b.checkpoint.replace(b"\n12\n", b"\n13\n")),
            "checkpoint",
        ),
        (
            lambda b: dataclasses.replace(b, trust_bundle=b.trust_bundle[:-1] + b"\0"),
            "trust-bundle",
        ),
        (
            lambda b: dataclasses.replace(
                b,
                entries=(
                    dataclasses.replace(b.entries[0], entry=b.entries[0].entry[:-1] + b"\0"),
                    *b.entries[1:],
                ),
            ),
            "inclusion",
        ),
    ],
)
def test_tampered_bundle_says_which_step_failed(
    sql_ledger_store: SqlLedgerStore, mutate, step: str
) -> None:
    ledger = _history(sql_ledger_store)
    bundle = mutate(_bundle(sql_ledger_store, ledger, drum(1)))
    with pytest.raises(BundleInvalid) as caught:
        verify_bundle(
            bundle, trust_root=ROOT.record.verifier_key, log_key=LOG_KEY.record.verifier_key
        )
    assert caught.value.context["step"] == step


def test_bundle_from_another_root_is_refused(sql_ledger_store: SqlLedgerStore) -> None:
    ledger = _history(sql_ledger_store)
    stranger = key(21, "custody/root", "custody", __import__("custody.keys").keys.KeyRole.ROOT)
    with pytest.raises(BundleInvalid) as caught:
        verify_bundle(
            _bundle(sql_ledger_store, ledger, drum(1)), trust_root=stranger.record.verifier_key
        )
    assert caught.value.context["step"] == "trust-bundle"
    assert DEVICES

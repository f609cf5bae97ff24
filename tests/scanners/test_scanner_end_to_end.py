"""The scanner against the real service on loopback (``custody serve`` in a subprocess).

Issue 5: a driver in the mountains scans drums with no signal; the scans must be kept, signed,
and delivered when the truck reaches coverage, and it must not be possible to replay them,
forge them, or make them vanish on the way. Each test starts its own service on its own
SQLite database; a small TCP relay (tests/support/live_service.py) stands for the mobile link
and can be cut.
"""

from __future__ import annotations

import base64
import contextlib
import json
import sqlite3
from datetime import date
from typing import TYPE_CHECKING

import pytest

from custody.digital_id import DigitalId
from custody.errors import CustodyError
from custody.events import Step
from custody.ledger import verify_extension
from scanners.bundles import log_keys
from scanners.device import ScannerState, enroll
from scanners.errors import ServerUnreachable, SplitViewDetected
from scanners.http import RetryPolicy, ServerClient
from scanners.outbox import EventState
from scanners.scanning import EventDetails, ScanKind, Scanner, read_scan
from scanners.sync import SyncConfig, Syncer, parse_receipt
from tests.conftest import GENERATOR_CODE, TRANSPORTER_CODE
from tests.support.live_service import (
    TOKEN,
    Link,
    Service,
    free_port,
    get,
    ledger_event_ids,
    registry,
)

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from scanners.outbox import Outbox
    from scanners.sync import SyncReport

PASSPHRASE = b"tests-only scanner passphrase"
LOADING = EventDetails(Step.LOADING, vehicle="川A12345")


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Service]:
    running = Service(tmp_path / "service.sqlite3").start()
    try:
        yield running
    finally:
        running.stop()


def _enrolled_truck(url: str, directory: Path) -> ScannerState:
    state = ScannerState(directory)
    client = ServerClient(url, retry=RetryPolicy(attempts=1, timeout=10), token=TOKEN)
    enroll(state, client, owner=TRANSPORTER_CODE, kind="handheld", passphrase=PASSPHRASE,
           description="川A12345 驾驶室")  # fmt: skip
    return state


@contextlib.contextmanager
def _scanner(state: ScannerState) -> Iterator[tuple[Outbox, Scanner]]:
    with state.outbox() as outbox:
        bundle = state.bundle(outbox)
        yield outbox, Scanner(outbox, state.signing_key(PASSPHRASE, bundle))


def _sync(state: ScannerState, url: str, batch: int = 100, attempts: int = 3) -> SyncReport:
    info = state.enrolled()
    client = ServerClient(
        url, retry=RetryPolicy(attempts=attempts, base_delay=0.05, timeout=10), token=TOKEN
    )
    with state.outbox() as outbox:
        return Syncer(outbox, client, info.root, SyncConfig(batch)).run()


# -- scenarios ---------------------------------------------------------------------------------


def test_scans_made_offline_are_kept_and_delivered_with_verified_receipts(
    service: Service, tmp_path: Path
) -> None:
    ids, labels = registry(service.url, 6)
    state = _enrolled_truck(service.url, tmp_path / "truck")
    coverage = free_port()  # nothing listens here yet: the mountains
    with _scanner(state) as (outbox, scanner):
        bundle = state.bundle(outbox)
        for text in [*labels[:4], ids[4], ids[5]]:
            scan = read_scan(text, bundle)  # labels verified offline
            scanner.record([scan.digital_id], LOADING, manual=scan.kind is ScanKind.TYPED)
        queued = [e.event_id for e in outbox.events()]
    with pytest.raises(ServerUnreachable):
        _sync(state, f"http://127.0.0.1:{coverage}", attempts=2)
    with state.outbox() as outbox:
        assert outbox.counts()[EventState.PENDING] == 6

    link = Link(service.port, port=coverage)  # the truck reaches coverage
    try:
        report = _sync(state, link.url, batch=4)
    finally:
        link.close()
    assert report.delivered == 6
    assert report.pending == 0
    with state.outbox() as outbox:
        sent = outbox.events()
        log = log_keys(state.bundle(outbox))
    assert [e.state for e in sent] == [EventState.SENT] * 6
    for event in sent:  # every stored receipt proves its event against a signed checkpoint
        assert event.receipt is not None
        receipt = parse_receipt(json.loads(event.receipt))
        receipt.verify(log[0])
        assert receipt.event_hash == event.event_hash
    assert sorted(ledger_event_ids(service.url, ids)) == sorted(queued)
    latest = get(f"{service.url}/ledger/checkpoint")
    assert latest.splitlines()[1] == b"6"


def test_link_cut_mid_sync_is_resumed_without_loss_or_duplicates(
    service: Service, tmp_path: Path
) -> None:
    ids, _ = registry(service.url, 10)
    state = _enrolled_truck(service.url, tmp_path / "truck")
    with _scanner(state) as (outbox, scanner):
        for n in range(20):
            scanner.record([ids[n % 10]], LOADING, manual=True)
        queued = [e.event_id for e in outbox.events()]
    link = Link(service.port)
    link.cut_on_post = 2  # the second batch is appended, its answer lost, then no signal
    with pytest.raises(ServerUnreachable):
        _sync(state, link.url, batch=5, attempts=2)
    with state.outbox() as outbox:
        counts = outbox.counts()
    assert counts[EventState.SENT] == 5
    assert counts[EventState.PENDING] == 15
    assert len(ledger_event_ids(service.url, ids)) == 10  # the server did take batch two

    link.down = False  # back in coverage
    report = _sync(state, link.url, batch=5)
    link.close()
    assert report.delivered == 15
    assert report.duplicates == 5  # batch two again: answered with its original receipts
    in_ledger = ledger_event_ids(service.url, ids)
    assert sorted(in_ledger) == sorted(queued)  # nothing lost
    assert len(in_ledger) == len(set(in_ledger))  # nothing twice
    with state.outbox() as outbox:
        indices = [e.ledger_index for e in outbox.events()]
    assert indices == list(range(20))  # in the order the device scanned


def test_server_showing_another_history_is_caught_and_the_evidence_kept(tmp_path: Path) -> None:
    first = Service(tmp_path / "a.sqlite3").start()
    try:
        ids, _ = registry(first.url, 4)
        state = _enrolled_truck(first.url, tmp_path / "truck")
    finally:
        first.stop()
    twin = tmp_path / "b.sqlite3"  # same log key, same devices: a copy the operator could keep
    with (
        contextlib.closing(sqlite3.connect(first.database)) as src,
        contextlib.closing(sqlite3.connect(twin)) as dst,
    ):
        src.backup(dst)

    first.start()
    try:
        with _scanner(state) as (_, scanner):
            for n in range(3):
                scanner.record([ids[n]], LOADING, manual=True)
        _sync(state, first.url)
    finally:
        first.stop()
    with state.outbox() as outbox:
        seen = outbox.last_checkpoint()
    assert seen is not None
    assert seen.size == 3

    other = Service(twin, port=first.port).start()  # same address, the other history
    try:
        with _scanner(state) as (_, scanner):
            for n in range(4):
                scanner.record([ids[n]], LOADING, manual=True)
        with pytest.raises(SplitViewDetected) as caught:
            _sync(state, other.url)
        assert "账本" in caught.value.diagnostics()
        with state.outbox() as outbox:
            (view,) = outbox.split_views()
            assert outbox.counts()[EventState.PENDING] == 4  # not marked delivered
            assert outbox.last_checkpoint() == seen
            bundle = state.bundle(outbox)
        assert view.old_note == seen.note
        assert view.new_note.splitlines()[1] == b"4"
        with pytest.raises(CustodyError):  # the evidence convinces an offline verifier too
            verify_extension(view.old_note, view.new_note, view.proof, log_keys(bundle)[0])
        with pytest.raises(SplitViewDetected):  # and syncing stays stopped
            _sync(state, other.url)
    finally:
        other.stop()


def test_refused_event_is_kept_with_its_reason_and_the_others_are_delivered(
    service: Service, tmp_path: Path
) -> None:
    ids, _ = registry(service.url, 3)
    unregistered = DigitalId(GENERATOR_CODE, "900-249-08", date(2026, 3, 5), 999).text
    state = _enrolled_truck(service.url, tmp_path / "truck")
    with _scanner(state) as (outbox, scanner):
        scanner.record([ids[0]], LOADING, manual=True)
        bad = scanner.record([unregistered], LOADING, manual=True)
        scanner.record([ids[1]], LOADING, manual=True)
        scanner.record([ids[2]], LOADING, manual=True)
    link = Link(service.port)
    try:
        report = _sync(state, link.url)
        assert [e.event_id for e in report.refused] == [bad.event_id]
        assert report.delivered == 3
        again = _sync(state, link.url)
        assert again.delivered == 0
        posted = [json.loads(b)["events"] for b in link.posted_bodies]
    finally:
        link.close()
    assert base64.b64encode(bad.message).decode() not in posted[-1]
    with state.outbox() as outbox:
        refused = outbox.get(bad.seq)
        sent = outbox.events(EventState.SENT)
    assert refused.state is EventState.REFUSED
    assert refused.refusal is not None
    assert refused.refusal.code == "container-not-found"
    assert "未登记" in refused.refusal.detail_zh
    assert len(sent) == 3
    assert sorted(ledger_event_ids(service.url, ids)) == sorted(e.event_id for e in sent)

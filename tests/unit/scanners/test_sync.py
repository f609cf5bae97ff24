"""Sync delivers the outbox in order, once, and believes nothing the server cannot prove.

The server here is a real Ledger behind a fake transport (tests/fakes/log_server.py) that can
lose answers, fail, refuse, tamper, or show a second history signed with the same log key.
"""

from __future__ import annotations

import base64
from datetime import timedelta
from typing import TYPE_CHECKING

import pytest

from custody.errors import ConflictError, TrustBundleInvalid
from custody.events import CustodyEvent, SignedEvent, Step, read_event, sign_event
from custody.keys import KeyRole
from custody.trust import TrustBundle
from scanners.errors import (
    ReceiptInvalid,
    ServerRefused,
    ServerUnreachable,
    SplitViewDetected,
)
from scanners.http import RetryPolicy, ServerClient
from scanners.outbox import EventState, Outbox
from scanners.sync import SyncConfig, Syncer, _exclusive
from tests.conftest import GENERATOR_CODE, TRANSPORTER_CODE
from tests.fakes.log_server import OLD_BUNDLE, ROOT_KEY, LogServer
from tests.ledger_fixtures import DEVICES, LOG_KEY, T0, drum, key

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

KEY = DEVICES[TRANSPORTER_CODE]
ROOT = ROOT_KEY.record.verifier_key


@pytest.fixture
def outbox(tmp_path: Path) -> Iterator[Outbox]:
    with Outbox(tmp_path / "outbox.sqlite3") as box:
        yield box


@pytest.fixture
def server() -> LogServer:
    return LogServer()


def scan(outbox: Outbox, *containers: str, party: str = TRANSPORTER_CODE) -> None:
    device = DEVICES[party]

    def sign(counter: int, prev: tuple[bytes, ...]) -> bytes:
        event = CustodyEvent.new(
            step=Step.LOADING,
            containers=containers,
            party=party,
            device=device.record.name,
            counter=counter,
            event_time=T0 + timedelta(minutes=counter),
            prev=prev,
        )
        return sign_event(event, device)

    outbox.record(device.record.name, containers, sign)


def syncer(outbox: Outbox, server: LogServer, batch: int = 100, attempts: int = 3,
           sleeps: list[float] | None = None) -> Syncer:  # fmt: skip
    pauses = sleeps if sleeps is not None else []
    client = ServerClient(
        "http://scanner.test",
        server,
        RetryPolicy(attempts=attempts, base_delay=1.0, max_delay=4.0),
        sleep=pauses.append,
        jitter=lambda: 0.5,
    )
    return Syncer(outbox, client, ROOT, SyncConfig(batch))


def queued_ids(outbox: Outbox) -> list[str]:
    return [e.event_id for e in outbox.events()]


def test_delivers_in_order_in_batches_and_stores_verified_receipts(
    outbox: Outbox, server: LogServer
) -> None:
    for n in range(7):
        scan(outbox, drum(1 + n % 3))
    report = syncer(outbox, server, batch=3).run()
    assert [len(b) for b in server.posted] == [3, 3, 1]
    assert server.event_ids() == queued_ids(outbox)
    assert report.delivered == 7
    assert report.pending == 0
    assert outbox.counts()[EventState.SENT] == 7
    assert [e.ledger_index for e in outbox.events()] == list(range(7))
    assert report.checkpoint is not None
    assert report.checkpoint.size == 7


def test_answer_lost_after_append_is_resumed_without_duplicates(
    outbox: Outbox, server: LogServer
) -> None:
    for n in range(6):
        scan(outbox, drum(1 + n))
    server.lose_answers = 1  # the first batch is appended, its answer never arrives
    with pytest.raises(ServerUnreachable):
        syncer(outbox, server, batch=4, attempts=1).run()
    assert outbox.counts()[EventState.PENDING] == 6
    assert [e.attempts for e in outbox.events()] == [1, 1, 1, 1, 0, 0]
    report = syncer(outbox, server, batch=4).run()
    assert report.duplicates == 4
    assert report.delivered == 6
    assert server.event_ids() == queued_ids(outbox)  # each once, in queue order


def test_retries_with_exponential_back_off_and_jitter_then_gives_up(
    outbox: Outbox, server: LogServer
) -> None:
    scan(outbox, drum(1))
    server.fail_with = [503, 409, 502]
    pauses: list[float] = []
    report = syncer(outbox, server, attempts=4, sleeps=pauses).run()
    assert report.delivered == 1
    assert pauses == [0.5, 1.0, 2.0]  # jitter 0.5 of 1, 2, 4 seconds
    scan(outbox, drum(2))
    server.down = True
    pauses.clear()
    with pytest.raises(ServerUnreachable):
        syncer(outbox, server, attempts=4, sleeps=pauses).run()
    assert pauses == [0.5, 1.0, 2.0]
    assert outbox.counts()[EventState.PENDING] == 1


def test_a_client_error_is_not_retried(outbox: Outbox, server: LogServer) -> None:
    scan(outbox, drum(1))
    server.fail_with = [404]
    pauses: list[float] = []
    with pytest.raises(ServerRefused):
        syncer(outbox, server, sleeps=pauses).run()
    assert pauses == []


def test_refused_events_are_marked_with_their_reason_and_the_rest_delivered(
    outbox: Outbox, server: LogServer
) -> None:
    for n in range(5):
        scan(outbox, drum(1 + n))
    bad = outbox.events()[1].event_id
    server.refuse[bad] = "container-not-found"
    report = syncer(outbox, server, batch=5).run()
    assert [e.event_id for e in report.refused] == [bad]
    refused = outbox.get(outbox.events()[1].seq)
    assert refused.state is EventState.REFUSED
    assert refused.refusal is not None
    assert refused.refusal.code == "container-not-found"
    assert refused.refusal.detail_zh == "测试中拒收"
    assert bad not in server.event_ids()
    assert len(server.event_ids()) == 4
    posted = len(server.posted)
    server.refuse.clear()
    syncer(outbox, server).run()
    assert len(server.posted) == posted  # never sent again


@pytest.mark.parametrize(
    "twist",
    [
        pytest.param(lambda r: {**r, "event_id": "another"}, id="names-another-event"),
        pytest.param(lambda r: {**r, "position": 7}, id="position-outside-the-batch"),
        pytest.param(lambda r: {k: v for k, v in r.items() if k != "position"}, id="no-position"),
    ],
)
def test_refusal_that_does_not_point_at_an_event_we_sent_marks_nothing(
    outbox: Outbox, server: LogServer, twist: Callable[[dict[str, object]], dict[str, object]]
) -> None:
    scan(outbox, drum(1))
    scan(outbox, drum(2))
    server.refuse[outbox.events()[0].event_id] = "container-not-found"
    server.tamper_refusal = twist
    with pytest.raises(ServerRefused):
        syncer(outbox, server).run()
    assert outbox.counts()[EventState.PENDING] == 2


@pytest.mark.parametrize(
    "forgery",
    [
        pytest.param(lambda r: {**r, "event_hash": "00" * 32}, id="event-hash-not-ours"),
        pytest.param(lambda r: {**r, "leaf_hash": "11" * 32}, id="leaf-not-in-tree"),
        pytest.param(lambda r: {**r, "index": r["index"] + 1}, id="wrong-index"),
        pytest.param(
            lambda r: {**r, "proof": [base64.b64encode(bytes(32)).decode(), *r["proof"]]},
            id="proof-too-long",
        ),
        pytest.param(lambda r: {**r, "event_id": "x"}, id="another-event"),
        pytest.param(lambda r: {k: v for k, v in r.items() if k != "proof"}, id="no-proof"),
    ],
)
def test_receipt_that_does_not_prove_our_event_leaves_it_pending(
    outbox: Outbox, server: LogServer, forgery: Callable[[dict[str, object]], dict[str, object]]
) -> None:
    scan(outbox, drum(1))
    scan(outbox, drum(2))
    server.tamper_receipt = forgery
    with pytest.raises(ReceiptInvalid):
        syncer(outbox, server).run()
    assert outbox.counts()[EventState.PENDING] == 2
    server.tamper_receipt = None
    assert syncer(outbox, server).run().delivered == 2


def test_checkpoint_signed_by_a_key_outside_the_trust_bundle_is_refused(outbox: Outbox) -> None:
    impostor = key(11, "custody/log/1", "custody", KeyRole.LOG)
    server = LogServer(log_key=impostor)
    scan(outbox, drum(1))
    with pytest.raises(ReceiptInvalid):
        syncer(outbox, server).run()
    assert outbox.counts()[EventState.PENDING] == 1
    assert outbox.last_checkpoint() is None


def test_log_key_published_after_enrolment_is_fetched_when_needed(
    outbox: Outbox, server: LogServer
) -> None:
    without_log = TrustBundle.issue(1, [KEY.record], T0).sign(ROOT_KEY)
    outbox.store_bundle(1, without_log)
    server.bundle = without_log  # the ledger makes its key on first use, then publishes it
    server.bundle_after_events = TrustBundle.issue(2, [KEY.record, LOG_KEY.record], T0).sign(
        ROOT_KEY
    )
    scan(outbox, drum(1))
    report = syncer(outbox, server).run()
    assert report.delivered == 1
    assert report.bundle_version == 2
    assert server.requests.count(("GET", "/trust-bundle")) == 2


@pytest.mark.parametrize("other_size", [9, 5, 3], ids=["longer", "same-size", "shorter"])
def test_split_view_is_kept_as_evidence_and_stops_syncing(
    outbox: Outbox, server: LogServer, other_size: int
) -> None:
    for n in range(5):
        scan(outbox, drum(1 + n))
    syncer(outbox, server).run()
    seen = outbox.last_checkpoint()
    assert seen is not None
    shown = server.fork()  # same log key, another history
    other = Outbox(outbox.path.with_name("other.sqlite3"))
    for n in range(other_size - 1):  # our next event will make it other_size
        scan(other, drum(10 + n), party=GENERATOR_CODE)
    server.ledger.append([_signed(e.message) for e in other.events()])
    other.close()
    scan(outbox, drum(1))
    with pytest.raises(SplitViewDetected) as caught:
        syncer(outbox, server).run()
    assert "账本" in caught.value.zh
    (view,) = outbox.split_views()
    assert {view.old_note, view.new_note} == {seen.note, server.ledger.latest_checkpoint()}
    assert shown.latest_checkpoint() == seen.note
    assert outbox.last_checkpoint() == seen  # the other history is not taken as true
    assert outbox.counts()[EventState.PENDING] == 1
    before = len(server.requests)
    with pytest.raises(SplitViewDetected):
        syncer(outbox, server).run()
    assert len(server.requests) == before  # nothing more is sent


def test_forged_consistency_proof_is_a_split_view(outbox: Outbox, server: LogServer) -> None:
    scan(outbox, drum(1))
    syncer(outbox, server).run()
    scan(outbox, drum(2))
    scan(outbox, drum(3))
    server.tamper_proof = lambda proof: [base64.b64encode(bytes(32)).decode()] * len(proof)
    with pytest.raises(SplitViewDetected):
        syncer(outbox, server).run()
    (view,) = outbox.split_views()
    assert view.proof == (bytes(32),) * len(view.proof)
    assert view.proof


def test_older_trust_bundle_from_the_server_is_ignored(outbox: Outbox, server: LogServer) -> None:
    syncer(outbox, server).run()
    server.bundle = OLD_BUNDLE
    report = syncer(outbox, server).run()
    assert report.bundle_rolled_back
    assert report.bundle_version == 2


def test_bundle_not_signed_by_the_pinned_root_is_refused(outbox: Outbox, server: LogServer) -> None:
    server.bundle = TrustBundle.issue(5, [LOG_KEY.record], T0).sign(
        key(12, "custody/root", "custody", KeyRole.ROOT)
    )
    with pytest.raises(TrustBundleInvalid):
        syncer(outbox, server).run()
    assert outbox.latest_bundle() is None


def test_learns_the_ledgers_latest_event_of_each_delivered_container(
    outbox: Outbox, server: LogServer, tmp_path: Path
) -> None:
    scan(outbox, drum(1))
    syncer(outbox, server).run()
    with Outbox(tmp_path / "generator.sqlite3") as other:  # another device scans drum 1 later
        scan(other, drum(1), party=GENERATOR_CODE)
        (later,) = other.events()
    server.ledger.append([_signed(later.message)])
    scan(outbox, drum(2))
    report = syncer(outbox, server).run()
    assert report.heads_learned == 1
    assert outbox.head(drum(1)) == later.event_hash


def test_only_one_sync_runs_at_a_time(outbox: Outbox, server: LogServer) -> None:
    with _exclusive(outbox), pytest.raises(ConflictError):
        syncer(outbox, server).run()


def _signed(message: bytes) -> SignedEvent:
    return read_event(message)[1]

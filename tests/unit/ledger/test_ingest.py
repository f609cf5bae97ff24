"""Ingest: what gets into the ledger, what is refused, and what is noticed on the way."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from custody.devices import AnomalyKind, Device, DeviceKind
from custody.errors import EventsRefused, ProofInvalid
from custody.events import CustodyEvent, Step, read_event, sign_event
from custody.ingest import MAX_BATCH, Ingest
from custody.keys import KeyRole
from custody.ledger import Ledger
from custody.trust import TrustBundle
from tests.conftest import GENERATOR_CODE, TRANSPORTER_CODE
from tests.fakes.device_store import InMemoryDeviceStore
from tests.fakes.ledger_store import InMemoryLedgerStore
from tests.ledger_fixtures import BUNDLE, DEVICES, LOG_KEY, ORIGIN, T0, Scanner, drum, key

NOW = T0 + timedelta(hours=1)


class _Containers:
    """Only what ingest asks of a container store: which codes are registered."""

    def __init__(self, registered: set[str]) -> None:
        self.registered = registered

    def known(self, digital_ids: list[str]) -> set[str]:
        return self.registered & set(digital_ids)


class _World:
    def __init__(self, bundle: TrustBundle = BUNDLE) -> None:
        self.devices = InMemoryDeviceStore()
        for party, device in DEVICES.items():
            self.devices.insert_device(
                Device(device.record.name, DeviceKind.HANDHELD, party, "", T0)
            )
        self.ledger = Ledger(InMemoryLedgerStore(), LOG_KEY, ORIGIN)
        self.bundle = bundle
        self.now = NOW
        self.ingest = Ingest(
            self.ledger,
            self.devices,
            _Containers({drum(n) for n in range(1, 10)}),
            lambda: self.bundle,
            clock=lambda: self.now,
        )

    def refusal(self, *messages: bytes) -> list[dict[str, object]]:
        with pytest.raises(EventsRefused) as caught:
            self.ingest.submit(list(messages))
        refusals = caught.value.context["events"]
        assert isinstance(refusals, list)
        return refusals


@pytest.fixture
def world() -> _World:
    return _World()


def test_good_events_are_appended_in_order_with_receipts(world: _World) -> None:
    gen = Scanner(GENERATOR_CODE)
    events = [gen.scan(Step.COMMISSIONING, drum(1)), gen.scan(Step.PACKING, drum(1))]
    receipts = world.ingest.submit([e.message for e in events])
    assert [r.index for r in receipts] == [0, 1]
    for receipt in receipts:
        receipt.verify(LOG_KEY.record.verifier_key)


def test_an_event_sent_again_gets_its_original_receipt_and_no_second_entry(world: _World) -> None:
    event = Scanner(GENERATOR_CODE).scan(Step.COMMISSIONING, drum(1))
    (first,) = world.ingest.submit([event.message])
    (again,) = world.ingest.submit([event.message])
    assert (again.index, again.duplicate) == (first.index, True)
    assert world.ledger.store.state().size == 1


def test_a_forged_signature_is_refused(world: _World) -> None:
    event = Scanner(GENERATOR_CODE).scan(Step.COMMISSIONING, drum(1))
    forged = event.message[:-1] + bytes([event.message[-1] ^ 1])
    (refusal,) = world.refusal(forged)
    assert refusal["code"] == "signature-invalid"
    assert world.ledger.store.state().size == 0


def test_a_device_whose_key_nobody_published_is_refused(world: _World) -> None:
    stranger = key(9, f"{GENERATOR_CODE}/device/9", GENERATOR_CODE, KeyRole.DEVICE)
    event = dataclasses.replace(
        Scanner(GENERATOR_CODE).scan(Step.COMMISSIONING, drum(1)).event, device=stranger.record.name
    )
    (refusal,) = world.refusal(sign_event(event, stranger))
    assert refusal["code"] == "key-unknown"


def test_a_published_key_without_an_enrolled_device_is_refused() -> None:
    world = _World()
    world.devices = InMemoryDeviceStore()  # keys published, no device enrolled
    world.ingest = Ingest(world.ledger, world.devices, _Containers({drum(1)}), lambda: BUNDLE)
    (refusal,) = world.refusal(Scanner(GENERATOR_CODE).scan(Step.COMMISSIONING, drum(1)).message)
    assert refusal["code"] == "device-unknown"


def test_a_key_revoked_before_we_received_the_event_is_refused_and_kept_as_evidence() -> None:
    device = DEVICES[GENERATOR_CODE].record.revoke(NOW - timedelta(minutes=1), "stolen")
    bundle = TrustBundle.issue(2, [LOG_KEY.record, device], T0)
    world = _World(bundle)
    event = Scanner(GENERATOR_CODE).scan(Step.COMMISSIONING, drum(1))  # claims T0, before
    (refusal,) = world.refusal(event.message)
    assert refusal["code"] == "key-revoked"
    (anomaly,) = world.devices.anomalies()
    assert (anomaly.kind, anomaly.evidence) == (AnomalyKind.REVOKED_KEY, event.message)


def test_events_received_before_a_revocation_stay_trusted_in_the_audit_sense() -> None:
    record = DEVICES[GENERATOR_CODE].record.revoke(NOW + timedelta(days=1), "lost later")
    record.check_usable_at(T0, received_at=NOW)  # no exception: it reached us in time
    with pytest.raises(Exception, match="revoked"):
        record.check_usable_at(T0, received_at=NOW + timedelta(days=2))
    with pytest.raises(Exception, match="revoked"):
        record.check_usable_at(T0)  # no receive time: nothing is trusted


def test_an_unregistered_container_is_refused(world: _World) -> None:
    (refusal,) = world.refusal(Scanner(GENERATOR_CODE).scan(Step.COMMISSIONING, drum(42)).message)
    assert refusal["code"] == "container-not-found"
    assert drum(42) in str(refusal["detail"])


def test_a_counter_that_goes_back_is_a_replay_refused_and_recorded(world: _World) -> None:
    gen = Scanner(GENERATOR_CODE)
    world.ingest.submit([gen.scan(Step.COMMISSIONING, drum(1)).message])  # counter 1
    world.ingest.submit([gen.scan(Step.PACKING, drum(1)).message])  # counter 2
    old = Scanner(GENERATOR_CODE)
    old.counter = -1  # its next scan carries counter 0: never used, but below what was
    replay = old.scan(Step.STORING, drum(3), seed=8)
    (refusal,) = world.refusal(replay.message)
    assert refusal["code"] == "counter-stale"
    (anomaly,) = world.devices.anomalies()
    assert (anomaly.kind, anomaly.counter) == (AnomalyKind.STALE_COUNTER, 0)


def test_one_counter_for_two_different_events_is_a_cloned_device(world: _World) -> None:
    phone, clone = Scanner(GENERATOR_CODE), Scanner(GENERATOR_CODE)  # one key in two devices
    (first,) = world.ingest.submit([phone.scan(Step.COMMISSIONING, drum(1)).message])
    copy = clone.scan(Step.COMMISSIONING, drum(2), seed=5)  # the same counter, 1
    (refusal,) = world.refusal(copy.message)
    assert refusal["code"] == "counter-reused"
    (anomaly,) = world.devices.anomalies()
    assert anomaly.kind is AnomalyKind.CLONED_DEVICE
    assert (anomaly.related_index, anomaly.evidence) == (first.index, copy.message)


def test_a_clone_inside_one_batch_is_caught_too(world: _World) -> None:
    phone, clone = Scanner(GENERATOR_CODE), Scanner(GENERATOR_CODE)
    refusals = world.refusal(
        phone.scan(Step.COMMISSIONING, drum(1)).message,
        clone.scan(Step.COMMISSIONING, drum(2), seed=5).message,
    )
    assert [(r["position"], r["code"]) for r in refusals] == [(1, "counter-reused")]


def test_every_bad_event_of_a_batch_is_named_and_none_is_appended(world: _World) -> None:
    gen = Scanner(GENERATOR_CODE)
    good = gen.scan(Step.COMMISSIONING, drum(1)).message
    refusals = world.refusal(good, b"junk", gen.scan(Step.COMMISSIONING, drum(77)).message)
    assert [(r["position"], r["code"]) for r in refusals] == [
        (1, "event-malformed"),
        (2, "container-not-found"),
    ]
    assert world.ledger.store.state().size == 0


def test_a_business_rule_breach_is_accepted_for_the_checker_to_flag(world: _World) -> None:
    # A transporter loads a drum no generator ever handed over, with no permit on file:
    # the ledger records what happened.
    truck = Scanner(TRANSPORTER_CODE)
    (receipt,) = world.ingest.submit(
        [truck.scan(Step.LOADING, drum(3), vehicle="川A12345").message]
    )
    assert receipt.index == 0


def test_a_late_event_is_accepted_with_both_times_and_noted(world: _World) -> None:
    world.now = T0 + timedelta(days=5)  # the truck was out of coverage for five days
    event = Scanner(GENERATOR_CODE).scan(Step.COMMISSIONING, drum(1))
    (receipt,) = world.ingest.submit([event.message])
    (anomaly,) = world.devices.anomalies()
    assert (anomaly.kind, anomaly.related_index) == (AnomalyKind.LATE_DELIVERY, receipt.index)


def test_a_clock_ahead_of_ours_is_accepted_and_noted(world: _World) -> None:
    world.now = T0 - timedelta(hours=1)
    world.ingest.submit([Scanner(GENERATOR_CODE).scan(Step.COMMISSIONING, drum(1)).message])
    assert [a.kind for a in world.devices.anomalies()] == [AnomalyKind.CLOCK_AHEAD]


def test_a_dry_run_checks_and_appends_nothing(world: _World) -> None:
    event = Scanner(GENERATOR_CODE).scan(Step.COMMISSIONING, drum(1))
    assert world.ingest.submit([event.message], dry_run=True) == []
    assert world.ledger.store.state().size == 0
    world.refusal(b"junk")  # and a bad one is still refused in a dry run


def test_an_event_id_reused_for_other_content_is_refused(world: _World) -> None:
    gen = Scanner(GENERATOR_CODE)
    first = gen.scan(Step.COMMISSIONING, drum(1))
    world.ingest.submit([first.message])
    other = CustodyEvent(**{
        **{f.name: getattr(first.event, f.name) for f in dataclasses.fields(first.event)
           if f.init},
        "counter": 5,
        "note": "other content",
    })  # fmt: skip
    _, signed = read_event(sign_event(other, DEVICES[GENERATOR_CODE]))
    (refusal,) = world.refusal(signed.message)
    assert refusal["code"] == "event-id-reused"


def test_a_batch_larger_than_the_limit_is_refused_whole(world: _World) -> None:
    (refusal,) = world.refusal(*([b"x"] * (MAX_BATCH + 1)))
    assert refusal["code"] == "batch-too-large"


def test_a_receipt_proves_the_leaf_of_exactly_the_bytes_sent(world: _World) -> None:
    gen = Scanner(GENERATOR_CODE)
    mine, other = gen.scan(Step.COMMISSIONING, drum(1)), gen.scan(Step.COMMISSIONING, drum(2))
    first, second = world.ingest.submit([mine.message, other.message])
    first.verify(LOG_KEY.record.verifier_key, mine.message)
    swapped = dataclasses.replace(second, event_id=first.event_id, event_hash=first.event_hash)
    swapped.verify(LOG_KEY.record.verifier_key)  # a valid proof of some leaf...
    with pytest.raises(ProofInvalid, match="not the entry of the event sent"):
        swapped.verify(LOG_KEY.record.verifier_key, mine.message)  # ...but not of ours

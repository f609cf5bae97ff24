"""Stored events read back on trust: the same event as the validating read, byte for byte.

``CustodyEvent.from_stored_cbor`` (what ``record_of`` reads the ledger with) skips the checks
and the canonical re-encoding of ``from_cbor``. It may do so only because it builds exactly
the event ``from_cbor`` builds from the same bytes: every field equal and of the same type,
and the encoding kept being the bytes that were signed.
"""

from __future__ import annotations

import uuid
from dataclasses import fields
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st

from custody import _cose
from custody.digital_id import DigitalId
from custody.errors import EventMalformed
from custody.events import CustodyEvent, Mass, MassSource, SignedEvent, Step, event_hash
from custody.history import record_of
from custody.ledger import make_entry
from custody.ports import StoredEntry
from tests.conftest import DISPOSER_CODE, GENERATOR_CODE, TRANSPORTER_CODE
from tests.facts_fixtures import trip_events

PARTIES = (GENERATOR_CODE, TRANSPORTER_CODE, DISPOSER_CODE)
PLATES = ("川A12345", "川AD12345", "京A·F0236", "粤B12345学")
WASTES = ("900-249-08", "900-041-49", "772-006-49")
# Hypothesis takes naive bounds and adds the zone itself.
EARLIEST = datetime(2001, 1, 1)  # noqa: DTZ001  # see above
LATEST = datetime(2099, 12, 31)  # noqa: DTZ001  # see above
_PRINTABLE = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x7f",
                           min_codepoint=0x20)  # fmt: skip


def _slots(event: CustodyEvent) -> list[tuple[str, object, type]]:
    """Every attribute, ``_cbor`` included, with its value's type (``==`` skips ``_cbor``)."""
    names = [f.name for f in fields(CustodyEvent)]
    return [(n, getattr(event, n), type(getattr(event, n))) for n in names]


def assert_same_read(payload: bytes) -> CustodyEvent:
    """The trusted read of ``payload`` is the validating read, down to the kept bytes."""
    validated = CustodyEvent.from_cbor(payload)
    trusted = CustodyEvent.from_stored_cbor(payload)
    assert trusted == validated
    assert _slots(trusted) == _slots(validated)
    assert trusted.to_cbor() == validated.to_cbor() == payload
    assert repr(trusted) == repr(validated)
    assert hash(trusted.event_time) == hash(validated.event_time)
    return trusted


def drums(n: int) -> st.SearchStrategy[tuple[str, ...]]:
    ids = st.builds(
        lambda waste, day, serial: DigitalId(GENERATOR_CODE, waste, date(2026, 1, 1)
                                             + timedelta(days=day), serial).text,
        st.sampled_from(WASTES), st.integers(0, 900), st.integers(1, 999),
    )  # fmt: skip
    return st.lists(ids, min_size=1, max_size=n, unique=True).map(tuple)


@st.composite
def events(draw: st.DrawFn) -> CustodyEvent:
    """Any valid event: every step, optional field and mass source, times to the millisecond."""
    containers = draw(drums(5))
    try:
        return CustodyEvent(
            event_id=str(draw(st.uuids())),
            step=draw(st.sampled_from(Step)),
            containers=containers,
            party=draw(st.sampled_from(PARTIES)),
            device=draw(st.text(_PRINTABLE, min_size=1, max_size=40)),
            counter=draw(st.integers(0, 2**63 - 1)),
            event_time=draw(st.datetimes(EARLIEST, LATEST, timezones=st.just(UTC))),
            prev=tuple(draw(st.binary(min_size=32, max_size=32)) for _ in containers),
            parent=draw(st.none() | drums(1).map(lambda d: d[0])),
            counterparty=draw(st.none() | st.sampled_from(PARTIES)),
            read_point=draw(st.none() | st.text(_PRINTABLE, max_size=30)),
            location=draw(
                st.none()
                | st.tuples(
                    st.floats(-90, 90, allow_nan=False), st.floats(-180, 180, allow_nan=False)
                )
            ),
            vehicle=draw(st.none() | st.sampled_from(PLATES)),
            manifest=draw(st.none() | st.text(_PRINTABLE, max_size=20)),
            mass=draw(
                st.none()
                | st.builds(Mass, st.integers(0, 100_000_000), st.sampled_from(MassSource))
            ),
            photos=tuple(draw(st.lists(st.binary(min_size=32, max_size=32), max_size=3))),
            note=draw(st.text(_PRINTABLE, max_size=60)),
        )
    except EventMalformed:  # e.g. the parent among the containers: not an event
        reject()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events())
def test_a_stored_event_read_on_trust_is_the_validated_event(event: CustodyEvent) -> None:
    assert assert_same_read(event.to_cbor()) == event


def real_events() -> list[SignedEvent]:
    """Signed events of whole trips: commissions, loads, departures, arrivals, weighed receipts."""
    return trip_events(6, 4)


def test_every_step_of_real_trips_reads_the_same_on_trust() -> None:
    signed = real_events()
    assert {s.event.step for s in signed} >= {Step.COMMISSIONING, Step.LOADING, Step.RECEIVING}
    for s in signed:
        payload = _cose.parse_sign1(s.message).payload
        assert assert_same_read(payload) == s.event


EDGES = [
    pytest.param({"note": "", "photos": ()}, id="empty optional fields left out"),
    pytest.param({"location": (30.657432, 104.065735)}, id="location"),
    pytest.param({"location": (-90.0, 180.0)}, id="location at the limits"),
    pytest.param({"location": (0.0, -0.0)}, id="negative zero"),
    pytest.param({"mass": Mass(0, MassSource.SCALE)}, id="zero mass"),
    pytest.param(
        {"event_time": datetime(2026, 3, 5, 1, 2, 3, 999_999, tzinfo=UTC)},
        id="microseconds cut to milliseconds",
    ),
    pytest.param({"event_time": datetime(1970, 1, 1, tzinfo=UTC)}, id="the epoch"),
    pytest.param({"vehicle": "京A·F0236"}, id="plate written with a dot"),
    pytest.param({"event_id": "01B18089-CD5A-5E5F-95C5-C7B28305793D"}, id="upper-case uuid"),
    pytest.param({"counter": 2**63 - 1}, id="largest counter"),
]


@pytest.mark.parametrize("changes", EDGES)
def test_edge_values_read_the_same_on_trust(changes: dict[str, object]) -> None:
    values: dict[str, object] = {
        "event_id": str(uuid.UUID(int=7)),
        "step": Step.PASSING,
        "containers": (DigitalId(GENERATOR_CODE, WASTES[0], date(2026, 3, 5), 1).text,),
        "party": TRANSPORTER_CODE,
        "device": f"{TRANSPORTER_CODE}/device/1",
        "counter": 7,
        "event_time": datetime(2026, 3, 5, 1, 0, tzinfo=UTC),
        "prev": (bytes(range(32)),),
        "read_point": "G5-K1830",
        "parent": DigitalId(GENERATOR_CODE, WASTES[1], date(2026, 3, 5), 9).text,
        "manifest": "20260351010000001",
        "photos": (bytes(32), bytes([1]) * 32),
        "note": "途经卡口 · passing",
    }
    values.update(changes)
    event = CustodyEvent(**values)  # type: ignore[arg-type]
    assert assert_same_read(event.to_cbor()) == event


def test_record_of_a_stored_entry_holds_the_trusted_event() -> None:
    signed = real_events()[:8]
    received = datetime(2026, 3, 5, 2, 0, 0, 123_000, tzinfo=UTC)
    for index, s in enumerate(signed):
        entry = StoredEntry(index, s.event.event_id, s.event_hash,
                            make_entry(received, s.message), b"")  # fmt: skip
        record = record_of(entry)
        assert (record.index, record.received_at) == (index, received)
        assert record.event_hash == event_hash(s.message) == s.event_hash
        assert record.event == s.event
        assert record.event.to_cbor() == _cose.parse_sign1(s.message).payload


@pytest.mark.parametrize(
    "payload",
    [b"", b"\xff", b"\xa0", b"\x80", b"\xa1\x61v\x02", b"\x18\x2a"],
    ids=["empty", "not CBOR", "empty map", "an array", "schema 2", "an integer"],
)
def test_stored_bytes_not_shaped_like_an_event_are_refused(payload: bytes) -> None:
    with pytest.raises(EventMalformed):
        CustodyEvent.from_stored_cbor(payload)


def test_an_unknown_step_in_storage_is_refused() -> None:
    event = real_events()[0].event
    payload = event.to_cbor().replace(b"commissioning", b"commissionin_")
    with pytest.raises(EventMalformed):
        CustodyEvent.from_stored_cbor(payload)

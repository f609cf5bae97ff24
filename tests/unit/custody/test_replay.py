"""Replaying EPCIS 2.0 documents: ours read back to the same events, others' read sensibly,
and a bad field named with its event."""

from __future__ import annotations

import copy
import hashlib
import json
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from custody.epcis import LedgerRef, document, to_json
from custody.errors import EventMalformed
from custody.events import NO_PREVIOUS, CustodyEvent, Mass, MassSource, Step
from custody.replay import events_from_epcis
from tests.conftest import DISPOSER_CODE, GENERATOR_CODE, TRANSPORTER_CODE

DRUM_1 = "91510100MA61R8XQ029002490820260305001"
DRUM_2 = "91510100MA61R8XQ029002490820260305002"
PALLET = "91510100MA61R8XQ029002490820260305900"
T0 = datetime(2026, 3, 5, 8, 14, 37, 120000, tzinfo=UTC)
CREATED = datetime(2026, 3, 6, tzinfo=UTC)
MANIFEST = "20260305510100000001"


def make(step: Step, *containers: str, minutes: int = 0, **fields: Any) -> CustodyEvent:
    ids = containers or (DRUM_1,)
    values: dict[str, Any] = {
        "event_id": str(uuid.uuid4()),
        "step": step,
        "containers": ids,
        "party": GENERATOR_CODE,
        "device": f"{GENERATOR_CODE}/device/1",
        "counter": 7 + minutes,
        "event_time": T0 + timedelta(minutes=minutes),
        "prev": (NO_PREVIOUS,) * len(ids),
    }
    return CustodyEvent(**(values | fields))


def chain() -> list[tuple[CustodyEvent, bytes]]:
    """A drum's life in every kind of step our export maps, each linked to the one before."""
    steps: list[tuple[Step, dict[str, Any]]] = [
        (Step.COMMISSIONING, {"location": (30.657, 104.066), "note": "桶身完好"}),
        (Step.PACKING, {"photos": (bytes(range(32)),)}),
        (Step.LOADING, {"party": TRANSPORTER_CODE, "counterparty": GENERATOR_CODE,
                        "vehicle": "川A12345", "manifest": MANIFEST,
                        "mass": Mass(201_500, MassSource.DECLARED)}),
        (Step.DEPARTING, {"party": TRANSPORTER_CODE, "vehicle": "川A12345", "manifest": MANIFEST}),
        (Step.PASSING, {"party": TRANSPORTER_CODE, "read_point": "A8 收费站/东",
                        "location": (43.745, 7.362)}),
        (Step.ARRIVING, {"party": TRANSPORTER_CODE}),
        (Step.REJECTING, {"party": DISPOSER_CODE, "counterparty": TRANSPORTER_CODE}),
        (Step.RETURNING, {"party": TRANSPORTER_CODE, "counterparty": GENERATOR_CODE}),
        (Step.RECEIVING, {"party": DISPOSER_CODE, "counterparty": TRANSPORTER_CODE,
                          "mass": Mass(199_000, MassSource.WEIGHBRIDGE), "manifest": MANIFEST}),
        (Step.STORING, {"party": DISPOSER_CODE}),
        (Step.REPACKING, {"party": DISPOSER_CODE, "parent": DRUM_2}),
        (Step.DESTROYING, {"party": DISPOSER_CODE}),
    ]  # fmt: skip
    out: list[tuple[CustodyEvent, bytes]] = []
    prev = NO_PREVIOUS
    for minutes, (step, fields) in enumerate(steps):
        event = make(step, minutes=minutes * 10, prev=(prev,), **fields)
        prev = hashlib.sha256(event.to_cbor()).digest()  # stands in for the signed bytes' hash
        out.append((event, prev))
    consolidated = make(Step.CONSOLIDATING, DRUM_1, DRUM_2, minutes=200, party=DISPOSER_CODE,
                        parent=PALLET, prev=(prev, NO_PREVIOUS))  # fmt: skip
    out.append((consolidated, hashlib.sha256(consolidated.to_cbor()).digest()))
    return out


def exported(events: list[tuple[CustodyEvent, bytes]]) -> dict[str, Any]:
    """Our export, through JSON text, as a file would carry it."""
    refs = [(e, h, LedgerRef("custody.example.cn/log", i)) for i, (e, h) in enumerate(events)]
    doc: dict[str, Any] = json.loads(to_json(document(refs, created=CREATED)))
    return doc


def test_our_export_reads_back_to_the_same_events_and_hashes() -> None:
    events = chain()
    records = events_from_epcis(exported(events))
    assert len(records) == len(events)
    for record, (event, event_hash) in zip(records, events, strict=True):
        assert record.event == event  # every field, the device's event id too
        assert record.event_hash == event_hash
        assert record.index == -1  # outside data, never a ledger entry
        assert record.received_at == event.event_time
    assert records[8].event.manifest == MANIFEST
    assert records[4].event.read_point == "A8 收费站/东"
    assert records[-1].event.step is Step.CONSOLIDATING


def test_without_an_event_id_the_rest_still_comes_back_as_it_was() -> None:
    events = chain()
    doc = exported(events)
    for raw in doc["epcisBody"]["eventList"]:
        del raw["wt:eventId"]  # another system's export
    records = events_from_epcis(doc)
    for record, (event, _) in zip(records, events, strict=True):
        assert record.event == replace(event, event_id=record.event.event_id)


def test_the_derived_event_id_is_the_same_on_every_read() -> None:
    doc = exported(chain())
    for raw in doc["epcisBody"]["eventList"]:
        del raw["wt:eventId"]
    first = [r.event.event_id for r in events_from_epcis(doc)]
    assert first == [r.event.event_id for r in events_from_epcis(copy.deepcopy(doc))]
    assert len(set(first)) == len(first)


def test_record_time_is_the_received_time() -> None:
    doc = exported(chain()[:1])
    doc["epcisBody"]["eventList"][0]["recordTime"] = "2026-03-05T09:00:00Z"
    (record,) = events_from_epcis(doc)
    assert record.received_at == datetime(2026, 3, 5, 9, 0, tzinfo=UTC)


def other_systems_event(**changes: Any) -> dict[str, Any]:
    """A loading as another system might write it: full CBV URIs, no ``wt:`` fields."""
    event: dict[str, Any] = {
        "type": "ObjectEvent",
        "eventTime": "2026-03-05T16:14:37.120",
        "eventTimeZoneOffset": "+08:00",
        "action": "OBSERVE",
        "bizStep": "https://ref.gs1.org/cbv/BizStep-loading",
        "disposition": "https://ref.gs1.org/cbv/Disp-in_transit",
        "epcList": [DRUM_1.lower(), f"https://hw.example.org/containers/{DRUM_2}"],
        "bizLocation": {"id": "geo:30.657,104.066"},
        "sourceList": [{"type": "urn:epcglobal:cbv:sdt:possessing_party",
                        "source": f"https://hw.example.org/parties/{GENERATOR_CODE}"}],
        "destinationList": [{"type": "https://ref.gs1.org/cbv/SDT-possessing_party",
                             "destination": TRANSPORTER_CODE}],
        "bizTransactionList": [{"type": "urn:epcglobal:cbv:btt:bol",
                                "bizTransaction": f"https://hw.example.org/bol/{MANIFEST}"}],
        "sensorElementList": [{"sensorReport": [{"type": "gs1:Mass", "value": 0.2, "uom": "TNE"}]}],
    }  # fmt: skip
    return event | changes


def other_systems(*events: dict[str, Any]) -> dict[str, Any]:
    return {
        "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2026-03-06T00:00:00Z",
        "epcisBody": {"eventList": list(events)},
    }


def test_another_systems_loading_is_read_with_parties_from_the_possession_lists() -> None:
    (record,) = events_from_epcis(other_systems(other_systems_event()))
    event = record.event
    assert event.step is Step.LOADING
    assert event.containers == (DRUM_1, DRUM_2)
    assert (event.party, event.counterparty) == (TRANSPORTER_CODE, GENERATOR_CODE)
    assert event.event_time == T0  # 16:14:37.120 at +08:00
    assert event.location == (30.657, 104.066)
    assert event.manifest == MANIFEST
    assert event.mass == Mass(200_000, MassSource.SCALE)
    assert (event.device, event.counter, event.prev) == ("", 0, (NO_PREVIOUS, NO_PREVIOUS))
    # No hash given: SHA-256 of the event's canonical JSON.
    canonical = to_json(other_systems_event()).encode()
    assert record.event_hash == hashlib.sha256(canonical).digest()


def test_a_cbv_event_hash_in_the_event_id_names_the_record() -> None:
    digest = "ab" * 32
    raw = other_systems_event(eventID=f"ni:///sha-256;{digest}?ver=CBV2.0")
    (record,) = events_from_epcis(other_systems(raw))
    assert record.event_hash == bytes.fromhex(digest)


@pytest.mark.parametrize(
    ("changes", "step"),
    [
        ({"bizStep": "urn:epcglobal:cbv:bizstep:receiving",
          "disposition": "urn:epcglobal:cbv:disp:non_conformant"}, Step.REJECTING),
        ({"bizStep": "receiving"}, Step.RECEIVING),
        ({"bizStep": "accepting"}, Step.RECEIVING),
        ({"bizStep": "shipping", "disposition": "returned"}, Step.RETURNING),
        ({"bizStep": "transporting"}, Step.PASSING),
    ],
)  # fmt: skip
def test_business_steps_and_dispositions_name_the_custody_step(
    changes: dict[str, Any], step: Step
) -> None:
    raw = other_systems_event(**changes) | {"wt:party": DISPOSER_CODE}
    (record,) = events_from_epcis(other_systems(raw))
    assert record.event.step is step


def test_a_transformation_repacks_its_inputs_into_its_one_output() -> None:
    raw = other_systems_event(type="TransformationEvent", bizStep="repackaging",
                              inputEPCList=[DRUM_1], outputEPCList=[DRUM_2])  # fmt: skip
    del raw["epcList"]
    (record,) = events_from_epcis(other_systems(raw | {"wt:party": DISPOSER_CODE}))
    assert (record.event.step, record.event.containers) == (Step.REPACKING, (DRUM_1,))
    assert record.event.parent == DRUM_2


@pytest.mark.parametrize(
    ("position", "field", "changes"),
    [
        (1, "wt:party", {"wt:party": "https://custody.example.cn/parties/915101"}),
        (1, "bizStep", {"bizStep": "shipping"}),
        (1, "bizStep", {"bizStep": None}),
        (1, "epcList[1]", {"epcList": [DRUM_1, "urn:epc:id:sgtin:0614141.107346.2017"]}),
        (1, "eventTime", {"eventTime": "yesterday"}),
        (1, "eventTime", {"eventTime": "2026-03-05T08:14:37", "eventTimeZoneOffset": None}),
        (1, "wt:prev", {"wt:prev": ["00" * 32]}),
        (1, "wt:prev[0]", {"wt:prev": ["zz", "00" * 32]}),
        (1, "wt:counter", {"wt:counter": "7"}),
        (1, "wt:vehicle", {"wt:vehicle": "not a plate"}),
        (1, "wt:location", {"wt:location": "geo:95,7"}),
        (1, "type", {"type": "AssociationEvent"}),
        (1, "sensorElementList[0].sensorReport[0]",
         {"sensorElementList": [{"sensorReport": [{"type": "Mass", "value": "heavy"}]}]}),
    ],
)  # fmt: skip
def test_a_bad_field_is_named_with_its_event(
    position: int, field: str, changes: dict[str, Any]
) -> None:
    good = other_systems_event()
    bad = {k: v for k, v in (good | changes).items() if v is not None}
    with pytest.raises(EventMalformed) as caught:
        events_from_epcis(other_systems(good, bad))
    assert caught.value.context["position"] == position
    assert caught.value.context["field"] == field
    assert f"eventList[{position}]" in caught.value.message
    assert field in caught.value.zh
    assert caught.value.zh.startswith("EPCIS 事件")


def test_a_document_without_an_event_list_is_refused() -> None:
    with pytest.raises(EventMalformed) as caught:
        events_from_epcis({"type": "EPCISDocument", "epcisBody": {}})
    assert caught.value.context["field"] == "epcisBody"
    with pytest.raises(EventMalformed) as caught:
        events_from_epcis(other_systems("not an event"))  # type: ignore[arg-type]
    assert caught.value.context == {"position": 0, "field": "event",
                                    "reason": "is not a JSON object"}  # fmt: skip


def test_a_query_document_is_read_too() -> None:
    query = {
        "type": "EPCISQueryDocument",
        "epcisBody": {"queryResults": {"resultsBody": {"eventList": [other_systems_event()]}}},
    }
    (record,) = events_from_epcis(query)
    assert record.event.step is Step.LOADING


def test_times_keep_their_zone_whatever_it_is() -> None:
    raw = other_systems_event(eventTime="2026-03-05T03:14:37.120-05:00")
    (record,) = events_from_epcis(other_systems(raw))
    assert record.event.event_time == T0
    assert record.event.event_time.tzinfo is UTC
    assert T0.astimezone(timezone(timedelta(hours=8))).hour == 16

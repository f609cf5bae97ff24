"""EPCIS 2.0 export: the mapping table, the party-side rule, and the shape every event must have.

``jsonschema`` is not a dependency, so ``assert_epcis_event`` below checks by hand what the
GS1 EPCIS 2.0 JSON schema requires of the event types we produce (Event, ObjectEvent,
AggregationEvent, and the nested readPoint, bizTransaction, source, destination, sensorElement).
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from custody.epcis import (
    DEFAULT_BASE_URI,
    EPCIS_CONTEXT,
    LedgerRef,
    document,
    epcis_context,
    event_to_epcis,
    to_json,
)
from custody.errors import EventMalformed, InputError
from custody.events import NO_PREVIOUS, CustodyEvent, Mass, MassSource, Step
from tests.conftest import DISPOSER_CODE, GENERATOR_CODE, TRANSPORTER_CODE

DRUM_1 = "91510100MA61R8XQ029002490820260305001"
DRUM_2 = "91510100MA61R8XQ029002490820260305002"
PALLET = "91510100MA61R8XQ029002490820260305900"
HASH = bytes(range(32))
T = datetime(2026, 3, 5, 8, 14, 37, 120456, tzinfo=UTC)
BASE = DEFAULT_BASE_URI


def make(step: Step, *containers: str, **fields: Any) -> CustodyEvent:
    ids = containers or (DRUM_1,)
    values: dict[str, Any] = {
        "event_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{step}/{ids}")),
        "step": step,
        "containers": ids,
        "party": GENERATOR_CODE,
        "device": f"{GENERATOR_CODE}/device/1",
        "counter": 7,
        "event_time": T,
        "prev": (NO_PREVIOUS,) * len(ids),
    }
    if step is Step.CONSOLIDATING:
        values["parent"] = PALLET
    return CustodyEvent(**(values | fields))


def export(event: CustodyEvent, **kwargs: Any) -> dict[str, Any]:
    out = event_to_epcis(event, event_hash=HASH, **kwargs)
    assert_epcis_event(out)
    return out


def party(code: str) -> str:
    return f"{BASE}/parties/{code}"


def drum(digital_id: str) -> str:
    return f"{BASE}/containers/{digital_id}"


# --- a hand-written structural check of the EPCIS 2.0 JSON schema ---------------------------------

CBV_BIZ_STEPS = frozenset(
    (
        "accepting",
        "arriving",
        "assembling",
        "collecting",
        "commissioning",
        "consigning",
        "creating_class_instance",
        "cycle_counting",
        "decommissioning",
        "departing",
        "destroying",
        "disassembling",
        "dispensing",
        "encoding",
        "entering_exiting",
        "holding",
        "inspecting",
        "installing",
        "killing",
        "loading",
        "other",
        "packing",
        "picking",
        "receiving",
        "removing",
        "repackaging",
        "repairing",
        "replacing",
        "reserving",
        "retail_selling",
        "shipping",
        "staging_outbound",
        "stock_taking",
        "stocking",
        "storing",
        "transporting",
        "unloading",
        "unpacking",
        "void_shipping",
        "sensor_reporting",
        "sampling",
    )
)
CBV_DISPOSITIONS = frozenset(
    (
        "active",
        "container_closed",
        "damaged",
        "destroyed",
        "dispensed",
        "disposed",
        "encoded",
        "expired",
        "in_progress",
        "in_transit",
        "inactive",
        "no_pedigree_match",
        "non_sellable_other",
        "partially_dispensed",
        "recalled",
        "reserved",
        "retail_sold",
        "returned",
        "sellable_accessible",
        "sellable_not_accessible",
        "stolen",
        "unknown",
        "available",
        "completeness_verified",
        "completeness_inferred",
        "conformant",
        "container_open",
        "mismatch_instance",
        "mismatch_class",
        "mismatch_quantity",
        "needs_replacement",
        "non_conformant",
        "unavailable",
    )
)
COMMON = {"@context", "type", "eventTime", "recordTime", "eventTimeZoneOffset", "eventID"}
COMMON |= {"errorDeclaration", "certificationInfo"}
SHARED = {"action", "bizStep", "disposition", "persistentDisposition", "readPoint", "bizLocation"}
SHARED |= {"bizTransactionList", "sourceList", "destinationList", "sensorElementList"}
PROPERTIES = {
    "ObjectEvent": COMMON | SHARED | {"epcList", "quantityList", "ilmd"},
    "AggregationEvent": COMMON | SHARED | {"parentID", "childEPCs", "childQuantityList"},
}
URI = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:[^\s]+")
OFFSET = re.compile(r"[+-]((0[0-9]|1[0-3]):[0-5][0-9]|14:00)")
TIME_MS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d")


def is_uri(value: object) -> bool:
    return isinstance(value, str) and URI.fullmatch(value) is not None


def assert_epcis_event(event: dict[str, Any]) -> None:
    kind = event["type"]
    assert kind in PROPERTIES, kind
    for name in event:  # propertyNames: a known member or a namespaced extension (a vocab URI)
        assert name in PROPERTIES[kind] or is_uri(name), name
    assert TIME_MS.fullmatch(event["eventTime"]), event["eventTime"]
    assert OFFSET.fullmatch(event["eventTimeZoneOffset"])
    assert event["eventTime"].endswith(event["eventTimeZoneOffset"])
    assert datetime.fromisoformat(event["eventTime"]).tzinfo is not None
    assert is_uri(event.get("eventID", "x:y"))
    assert event["action"] in {"OBSERVE", "ADD", "DELETE"}
    if kind == "ObjectEvent":
        epcs = event["epcList"]
        assert isinstance(epcs, list)
    else:
        assert "epcList" not in event
        epcs = event["childEPCs"]
        assert epcs or event["action"] == "DELETE"  # childEPCs minItems 1 unless DELETE
        if event["action"] != "OBSERVE":  # EPCIS 2.0 §7.4.3: parentID required for ADD/DELETE
            assert is_uri(event["parentID"])
    assert all(is_uri(e) for e in epcs)
    assert len(set(epcs)) == len(epcs)  # uniqueItems
    assert event.get("bizStep", "other") in CBV_BIZ_STEPS
    assert event.get("disposition", "active") in CBV_DISPOSITIONS
    if "readPoint" in event:
        assert is_uri(event["readPoint"]["id"])
    for tx in event.get("bizTransactionList", []):
        assert is_uri(tx["bizTransaction"])
        assert tx.keys() <= {"type", "bizTransaction"}
    for side in ("source", "destination"):
        for item in event.get(f"{side}List", []):
            assert item.keys() == {"type", side}  # both required, additionalProperties false
            assert item["type"] in {"owning_party", "possessing_party", "location"}
            assert is_uri(item[side])
    for element in event.get("sensorElementList", []):
        assert element.keys() <= {"sensorMetadata", "sensorReport"}
        assert element["sensorReport"]  # minItems 1
        for report in element["sensorReport"]:
            assert isinstance(report["type"], str)
            assert isinstance(report.get("value", 0.0), float | int)
            assert re.fullmatch(r"[A-Z0-9]{2,3}", report.get("uom", "KGM"))


# --- the mapping table ----------------------------------------------------------------------------

MAPPING = {
    Step.COMMISSIONING: ("ObjectEvent", "ADD", "commissioning", "active"),
    Step.PACKING: ("ObjectEvent", "OBSERVE", "packing", "container_closed"),
    Step.LOADING: ("ObjectEvent", "OBSERVE", "loading", "in_transit"),
    Step.DEPARTING: ("ObjectEvent", "OBSERVE", "departing", "in_transit"),
    Step.PASSING: ("ObjectEvent", "OBSERVE", "transporting", "in_transit"),
    Step.ARRIVING: ("ObjectEvent", "OBSERVE", "arriving", "in_transit"),
    Step.RECEIVING: ("ObjectEvent", "OBSERVE", "receiving", "in_progress"),
    Step.REJECTING: ("ObjectEvent", "OBSERVE", "receiving", "non_conformant"),
    Step.STORING: ("ObjectEvent", "OBSERVE", "storing", "in_progress"),
    Step.REPACKING: ("ObjectEvent", "OBSERVE", "repackaging", "active"),
    Step.CONSOLIDATING: ("AggregationEvent", "ADD", "packing", "active"),
    Step.DESTROYING: ("ObjectEvent", "DELETE", "destroying", "destroyed"),
    Step.RETURNING: ("ObjectEvent", "OBSERVE", "shipping", "returned"),
}


def test_every_step_has_a_mapping() -> None:
    assert set(MAPPING) == set(Step)


@pytest.mark.parametrize("step", list(Step))
def test_step_maps_to_type_action_biz_step_and_disposition(step: Step) -> None:
    out = export(make(step))
    assert (out["type"], out["action"], out["bizStep"], out["disposition"]) == MAPPING[step]
    assert out["disposition"] == step.disposition


def test_object_event_lists_the_containers_in_order() -> None:
    out = export(make(Step.LOADING, DRUM_2, DRUM_1, prev=(HASH, NO_PREVIOUS)))
    assert out["epcList"] == [drum(DRUM_2), drum(DRUM_1)]
    assert out["wt:prev"] == [HASH.hex(), NO_PREVIOUS.hex()]
    assert "parentID" not in out
    assert "childEPCs" not in out


def test_consolidation_is_an_aggregation_with_parent_and_children() -> None:
    out = export(make(Step.CONSOLIDATING, DRUM_1, DRUM_2))
    assert out["parentID"] == drum(PALLET)
    assert out["childEPCs"] == [drum(DRUM_1), drum(DRUM_2)]
    assert "epcList" not in out
    assert out["wt:prev"] == [NO_PREVIOUS.hex()] * 2


def test_consolidation_without_parent_is_refused() -> None:
    with pytest.raises(EventMalformed, match="no parent"):
        event_to_epcis(make(Step.CONSOLIDATING, parent=None), event_hash=HASH)


def test_repacking_target_container_is_kept_as_extension() -> None:
    out = export(make(Step.REPACKING, parent=DRUM_2))
    assert out["epcList"] == [drum(DRUM_1)]
    assert out["wt:parent"] == drum(DRUM_2)
    assert "parentID" not in out


# --- identity and time ----------------------------------------------------------------------------


def test_event_id_is_the_ledger_event_hash() -> None:
    out = export(make(Step.PACKING))
    assert out["eventID"] == f"ni:///sha-256;{HASH.hex()}"  # no ?ver=CBV2.0: not a CBV hash


@pytest.mark.parametrize("size", [0, 31, 33, 64])
def test_event_hash_of_wrong_length_rejected(size: int) -> None:
    with pytest.raises(InputError, match="32 bytes"):
        event_to_epcis(make(Step.PACKING), event_hash=bytes(size))


def test_event_time_is_china_standard_time_with_milliseconds() -> None:
    out = export(make(Step.PASSING))
    assert out["eventTime"] == "2026-03-05T16:14:37.120+08:00"
    assert out["eventTimeZoneOffset"] == "+08:00"


def test_event_time_from_another_zone_is_shown_in_china_standard_time() -> None:
    berlin = timezone(timedelta(hours=1))
    out = export(make(Step.PASSING, event_time=datetime(2026, 3, 5, 23, 30, tzinfo=berlin)))
    assert out["eventTime"] == "2026-03-06T06:30:00.000+08:00"


# --- where ----------------------------------------------------------------------------------------


def test_read_point_is_the_checkpoint() -> None:
    out = export(make(Step.PASSING, read_point="CD-G5-K1234"))
    assert out["readPoint"] == {"id": f"{BASE}/checkpoints/CD-G5-K1234"}
    assert "wt:location" not in out


def test_read_point_text_is_one_percent_encoded_path_segment() -> None:
    out = export(make(Step.PASSING, read_point="G5/成都北 站"))
    assert out["readPoint"]["id"] == (
        f"{BASE}/checkpoints/G5%2F%E6%88%90%E9%83%BD%E5%8C%97%20%E7%AB%99"
    )


def test_location_alone_becomes_a_geo_read_point() -> None:
    out = export(make(Step.ARRIVING, location=(30.7421, 104.0712)))
    assert out["readPoint"] == {"id": "geo:30.7421,104.0712"}


def test_location_beside_a_checkpoint_is_kept_as_extension() -> None:
    out = export(make(Step.ARRIVING, read_point="CD-G5-K1234", location=(30.7421, 104.0712)))
    assert out["readPoint"] == {"id": f"{BASE}/checkpoints/CD-G5-K1234"}
    assert out["wt:location"] == "geo:30.7421,104.0712"


def test_no_read_point_without_checkpoint_or_location() -> None:
    assert "readPoint" not in export(make(Step.STORING))


def test_manifest_is_a_bill_of_lading() -> None:
    out = export(make(Step.LOADING, manifest="2026-510100-000123"))
    assert out["bizTransactionList"] == [
        {"type": "bol", "bizTransaction": f"{BASE}/manifests/2026-510100-000123"}
    ]
    assert "bizTransactionList" not in export(make(Step.LOADING))


def test_base_uri_trailing_slash_is_ignored() -> None:
    out = export(make(Step.LOADING), base_uri="https://hw.example.gov.cn/")
    assert out["epcList"] == [f"https://hw.example.gov.cn/containers/{DRUM_1}"]


# --- who hands over to whom -----------------------------------------------------------------------


def test_loading_transporter_takes_containers_from_generator() -> None:
    out = export(make(Step.LOADING, party=TRANSPORTER_CODE, counterparty=GENERATOR_CODE))
    assert out["sourceList"] == [{"type": "possessing_party", "source": party(GENERATOR_CODE)}]
    assert out["destinationList"] == [
        {"type": "possessing_party", "destination": party(TRANSPORTER_CODE)}
    ]


def test_receiving_disposer_takes_containers_from_transporter() -> None:
    out = export(make(Step.RECEIVING, party=DISPOSER_CODE, counterparty=TRANSPORTER_CODE))
    assert out["sourceList"] == [{"type": "possessing_party", "source": party(TRANSPORTER_CODE)}]
    assert out["destinationList"] == [
        {"type": "possessing_party", "destination": party(DISPOSER_CODE)}
    ]


def test_returning_actor_sends_containers_back() -> None:
    out = export(make(Step.RETURNING, party=DISPOSER_CODE, counterparty=GENERATOR_CODE))
    assert out["sourceList"] == [{"type": "possessing_party", "source": party(DISPOSER_CODE)}]
    assert out["destinationList"] == [
        {"type": "possessing_party", "destination": party(GENERATOR_CODE)}
    ]


def test_unknown_side_of_a_hand_off_is_left_out_not_guessed() -> None:
    out = export(make(Step.RECEIVING, party=DISPOSER_CODE))
    assert "sourceList" not in out
    assert out["destinationList"] == [
        {"type": "possessing_party", "destination": party(DISPOSER_CODE)}
    ]
    out = export(make(Step.RETURNING, party=DISPOSER_CODE))
    assert out["sourceList"] == [{"type": "possessing_party", "source": party(DISPOSER_CODE)}]
    assert "destinationList" not in out


@pytest.mark.parametrize("step", sorted(set(Step) - {Step.LOADING, Step.RECEIVING, Step.RETURNING}))
def test_steps_without_hand_off_move_no_possession(step: Step) -> None:
    out = export(make(step, party=DISPOSER_CODE, counterparty=TRANSPORTER_CODE))
    assert "sourceList" not in out
    assert "destinationList" not in out
    assert out["wt:party"] == party(DISPOSER_CODE)
    assert out["wt:counterparty"] == party(TRANSPORTER_CODE)


# --- mass -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("grams", "kg"), [(182_000, 182.0), (125_500, 125.5), (1, 0.001), (0, 0.0)]
)
def test_mass_is_reported_in_kilograms(grams: int, kg: float) -> None:
    out = export(make(Step.RECEIVING, mass=Mass(grams, MassSource.WEIGHBRIDGE)))
    assert out["sensorElementList"] == [
        {
            "sensorReport": [
                {"type": "Mass", "value": kg, "uom": "KGM", "wt:massSource": "weighbridge"}
            ]
        }
    ]


def test_no_sensor_report_without_mass() -> None:
    assert "sensorElementList" not in export(make(Step.RECEIVING))


# --- our extension fields -------------------------------------------------------------------------


def test_extensions_carry_device_counter_vehicle_photos_note() -> None:
    photo = bytes([0xAB]) * 32
    event = make(Step.LOADING, vehicle="川A·12345", photos=(photo,), note="桶身有凹痕")
    out = export(event)
    assert out["wt:device"] == f"{GENERATOR_CODE}/device/1"
    assert out["wt:counter"] == 7
    assert out["wt:vehicle"] == "川A12345"
    assert out["wt:photos"] == [photo.hex()]
    assert out["wt:note"] == "桶身有凹痕"
    assert out["wt:party"] == party(GENERATOR_CODE)


def test_optional_extensions_absent_when_empty() -> None:
    out = export(make(Step.PACKING))
    absent = {"wt:vehicle", "wt:photos", "wt:note", "wt:counterparty", "wt:parent", "wt:ledger"}
    assert absent.isdisjoint(out)


def test_ledger_reference_only_when_given() -> None:
    event = make(Step.PACKING)
    assert "wt:ledger" not in export(event)
    out = export(event, ledger=LedgerRef("custody.test/log/2026", 1234567))
    assert out["wt:ledger"] == {"origin": "custody.test/log/2026", "index": 1234567}


@pytest.mark.parametrize(("origin", "index"), [("", 0), ("custody.test/log/2026", -1)])
def test_ledger_reference_out_of_shape_rejected(origin: str, index: int) -> None:
    with pytest.raises(InputError):
        LedgerRef(origin, index)


# --- the document ---------------------------------------------------------------------------------


def journey() -> list[tuple[CustodyEvent, bytes, LedgerRef | None]]:
    commissioned = make(Step.COMMISSIONING, DRUM_1, DRUM_2, mass=Mass(125_000, MassSource.DECLARED))
    loaded = make(
        Step.LOADING,
        DRUM_1,
        DRUM_2,
        party=TRANSPORTER_CODE,
        counterparty=GENERATOR_CODE,
        device=f"{TRANSPORTER_CODE}/device/1",
        vehicle="川A12345",
        manifest="2026-510100-000123",
        event_time=T + timedelta(minutes=30),
        prev=(bytes([1]) * 32, bytes([2]) * 32),
    )
    received = make(
        Step.RECEIVING,
        DRUM_1,
        party=DISPOSER_CODE,
        counterparty=TRANSPORTER_CODE,
        device=f"{DISPOSER_CODE}/device/1",
        mass=Mass(124_800, MassSource.WEIGHBRIDGE),
        read_point="SN-WB-01",
        event_time=T + timedelta(hours=5),
        prev=(bytes([3]) * 32,),
    )
    origin = "custody.test/log/2026"
    return [
        (commissioned, bytes([1]) * 32, LedgerRef(origin, 0)),
        (loaded, bytes([3]) * 32, LedgerRef(origin, 1)),
        (received, bytes([4]) * 32, None),
    ]


CREATED = datetime(2026, 3, 6, 1, 0, 2, tzinfo=UTC)


def test_document_envelope() -> None:
    doc = document(journey(), created=CREATED)
    assert doc["@context"] == [EPCIS_CONTEXT, {"wt": f"{BASE}/voc/"}]
    assert doc["@context"] == epcis_context()
    assert doc["type"] == "EPCISDocument"
    assert doc["schemaVersion"] == "2.0"
    assert doc["creationDate"] == "2026-03-06T09:00:02.000+08:00"
    body: Any = doc["epcisBody"]
    events = body["eventList"]
    assert [e["bizStep"] for e in events] == ["commissioning", "loading", "receiving"]
    for event in events:
        assert_epcis_event(event)


def test_document_context_follows_base_uri() -> None:
    doc = document([], created=CREATED, base_uri="https://hw.example.gov.cn")
    assert doc["@context"] == [EPCIS_CONTEXT, {"wt": "https://hw.example.gov.cn/voc/"}]
    assert doc["epcisBody"] == {"eventList": []}


def test_document_creation_time_needs_a_time_zone() -> None:
    with pytest.raises(InputError, match="time zone"):
        document(journey(), created=CREATED.replace(tzinfo=None))


def test_json_is_deterministic_and_parses_back() -> None:
    doc = document(journey(), created=CREATED)
    text = to_json(doc)
    assert text == to_json(document(journey(), created=CREATED))
    assert text == to_json(dict(reversed(doc.items())))  # key order does not leak
    assert json.loads(text) == doc
    assert text.isprintable()
    assert ": " not in text
    assert ", " not in text
    assert "川A12345" in text  # UTF-8 kept, not \\u escapes


def test_json_keys_are_sorted() -> None:
    text = to_json(document(journey(), created=CREATED))
    assert text.startswith('{"@context":')
    first_event = json.loads(text)["epcisBody"]["eventList"][0]
    assert list(first_event) == sorted(first_event)


def test_changed_event_changes_the_json() -> None:
    items = journey()
    event, event_hash, ref = items[2]
    items[2] = (replace(event, mass=Mass(100_000, MassSource.WEIGHBRIDGE)), event_hash, ref)
    assert to_json(document(items, created=CREATED)) != to_json(
        document(journey(), created=CREATED)
    )

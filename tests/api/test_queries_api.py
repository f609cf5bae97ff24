"""Officers' read queries over HTTP on a small signed ledger: timeline, trips, balance, area."""

from __future__ import annotations

import base64
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlmodel import Session

from api.app import create_app
from api.endpoints import queries
from api.schemas.queries import TrackPublic
from api.settings import Settings
from custody.alerts import Alert, Alerts, Severity
from custody.containers import Container, ContainerType, NewContainer, PhysicalForm
from custody.digital_id import DigitalId
from custody.events import Mass, MassSource, Step
from custody.sightings import PlateRead
from custody.tracks import GpsFix
from routes.model import Fix
from storage.alert_store import SqlAlertStore
from storage.container_store import SqlContainerStore
from storage.sighting_store import SqlSightingStore
from storage.track_store import SqlTrackStore
from tests.api.test_alerts_api import problem
from tests.conftest import DISPOSER_CODE, GENERATOR_CODE, TRANSPORTER_CODE
from tests.ledger_fixtures import T0, Scanner, drum, enroll_scanners
from tests.support.access import sign_in

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from sqlalchemy.engine import Engine

    from custody.events import SignedEvent

KEK = SecretStr("tests-only key-encryption key")
PLATE, OTHER_PLATE = "川A12345", "川B54321"
NAMES = {code: f"单位{code[-4:]}" for code in (GENERATOR_CODE, TRANSPORTER_CODE, DISPOSER_CODE)}
UNREGISTERED = "91350100M000100Y43"  # a valid code nobody registered


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(  # its own database: stores here use their own connections
        data_dir=tmp_path,
        database_url=f"sqlite:///{tmp_path / 'queries.sqlite3'}",
        key_encryption_key=KEK,
        log_origin="custody.test/log",
    )
    with TestClient(create_app(settings), raise_server_exceptions=False) as test_client:
        sign_in(test_client)
        roles = {GENERATOR_CODE: "generator", TRANSPORTER_CODE: "transporter",
                 DISPOSER_CODE: "disposer"}  # fmt: skip
        for code, role in roles.items():
            party = {"credit_code": code, "name": NAMES[code], "roles": [role]}
            assert test_client.post("/parties", json=party).status_code == 201
        enroll_scanners(engine_of(test_client), KEK.get_secret_value().encode())
        yield test_client


def engine_of(client: TestClient) -> Engine:
    engine: Engine = client.app.state.engine  # type: ignore[attr-defined]
    return engine


def post(client: TestClient, *events: SignedEvent) -> list[int]:
    body = {"events": [base64.b64encode(e.message).decode() for e in events]}
    response = client.post("/events", json=body)
    assert response.status_code == 201, response.text
    return [r["index"] for r in response.json()["receipts"]]


def raise_alert(client: TestClient, n: int, **fields: Any) -> str:  # Alert's fields
    values: dict[str, Any] = {
        "rule": "missing-handoff",
        "subject": f"subject-{n}",
        "severity": Severity.HIGH,
        "summary_zh": f"告警 {n}",
        "summary": f"alert {n}",
        "start": T0,
        "end": T0 + timedelta(hours=1),
        "containers": (),
        "vehicle": None,
        "parties": (GENERATOR_CODE,),
        "entries": (),
        "facts": {},
    } | fields
    alert = Alert(**values)
    Alerts(SqlAlertStore(engine_of(client))).raise_all([alert], T0 + timedelta(days=1))
    return alert.alert_id


def at(minutes: float) -> str:
    return (T0 + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")


# -- a container's timeline ---------------------------------------------------------------------


def test_a_timeline_is_in_device_time_with_spans_and_a_missing_handoff(client: TestClient) -> None:
    gen, disposer = Scanner(GENERATOR_CODE), Scanner(DISPOSER_CODE)
    # The disposer's scan reaches the ledger first; the generator's scanner uploads late.
    weighed = Mass(140_000, MassSource.WEIGHBRIDGE)
    (received,) = post(client, disposer.scan(Step.RECEIVING, drum(1), minutes=90, mass=weighed))
    commissioned, packed = post(client, gen.scan(Step.COMMISSIONING, drum(1)),
                                gen.scan(Step.PACKING, drum(1), minutes=5))  # fmt: skip
    mine = raise_alert(client, 1, containers=(drum(1),), entries=(received,))
    raise_alert(client, 2, containers=(drum(2),))

    response = client.get(f"/containers/{drum(1).lower()}/timeline")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["container"] == drum(1)
    assert (body["generator"], body["generator_name"]) == (GENERATOR_CODE, NAMES[GENERATOR_CODE])
    events = body["events"]
    assert [e["index"] for e in events] == [commissioned, packed, received]
    assert [e["step_zh"] for e in events] == ["贴标启用", "封装", "接收"]
    assert [e["event_time"] for e in events] == [at(0), at(5), at(90)]
    last = events[-1]
    assert (last["party"], last["party_name"]) == (DISPOSER_CODE, NAMES[DISPOSER_CODE])
    assert (last["mass_kg"], last["mass_source"]) == (140.0, "weighbridge")
    assert last["received_at"].endswith("Z")
    assert [(s["holder"], s["phase"], s["since"], s["until"]) for s in body["spans"]] == [
        (GENERATOR_CODE, "at-rest", at(0), at(90)),
        (DISPOSER_CODE, "at-rest", at(90), None),
    ]
    (jump,) = body["jumps"]
    assert (jump["kind"], jump["kind_zh"], jump["index"]) == ("missing-handoff", "缺失交接",
                                                              received)  # fmt: skip
    assert (jump["holder"], jump["holder_name"]) == (GENERATOR_CODE, NAMES[GENERATOR_CODE])
    assert [a["id"] for a in body["alerts"]] == [mine]
    assert body["alerts_next"] is None


def test_a_registered_container_with_no_events_has_an_empty_timeline(client: TestClient) -> None:
    body = client.get(f"/containers/{drum(3)}/timeline").json()
    assert (body["events"], body["spans"], body["jumps"], body["alerts"]) == ([], [], [], [])


def test_an_unregistered_container_is_a_404_problem(client: TestClient) -> None:
    body = problem(client.get(f"/containers/{drum(99)}/timeline"), 404, "container-not-found")
    assert drum(99) in body["detail_zh"]
    problem(client.get("/containers/NOT-A-DRUM/timeline"), 422, "digital-id-invalid")


# -- a vehicle's trips --------------------------------------------------------------------------


def manifest(number: str, plate: str, container: str, minutes: float) -> dict[str, Any]:
    return {
        "number": number,
        "generator": GENERATOR_CODE,
        "transporter": TRANSPORTER_CODE,
        "receiver": DISPOSER_CODE,
        "vehicles": [plate],
        "waste_codes": ["900-249-08"],
        "containers": [container],
        "declared_mass_g": 150_000,
        "created_at": at(minutes - 30),
    }


def trip(  # one trip's parts
    truck: Scanner, disposer: Scanner, number: str, plate: str, n: int, start: float
) -> tuple[SignedEvent, SignedEvent]:
    loading = truck.scan(Step.LOADING, drum(n), minutes=start, vehicle=plate, manifest=number,
                         counterparty=GENERATOR_CODE)  # fmt: skip
    disposer.follow(truck)
    receipt = disposer.scan(Step.RECEIVING, drum(n), minutes=start + 120, manifest=number,
                            counterparty=TRANSPORTER_CODE)  # fmt: skip
    return loading, receipt


@pytest.fixture
def trips(client: TestClient) -> TestClient:
    """Two trips of 川A12345 (drums 3 and 4), one of 川B54321 (drum 5) at the first's time."""
    gen, truck, disposer = (Scanner(c) for c in (GENERATOR_CODE, TRANSPORTER_CODE, DISPOSER_CODE))
    post(client, *(gen.scan(Step.COMMISSIONING, drum(n), minutes=-60) for n in (3, 4, 5)))
    truck.follow(gen)
    legs = [("20260351010000001", PLATE, 3, 0), ("20260351010000002", PLATE, 4, 300),
            ("20260351010000003", OTHER_PLATE, 5, 0)]  # fmt: skip
    for number, plate, n, start in legs:
        assert client.post("/manifests", json=manifest(number, plate, drum(n), start)).is_success
        post(client, *trip(truck, disposer, number, plate, n, start))
    SqlSightingStore(engine_of(client)).add_reads(
        [PlateRead(gate, plate, T0 + timedelta(minutes=m), 0.9) for gate, plate, m in
         [("G1", PLATE, 60), ("G2", PLATE, 200), ("G3", PLATE, 360), ("G1", OTHER_PLATE, 61)]]
    )  # fmt: skip
    fixes = [(PLATE, m, 104.0 + m / 1000) for m in (10, 20, 30, 250, 310, 320)]
    fixes += [(OTHER_PLATE, m, 105.0) for m in (11, 21)]
    SqlTrackStore(engine_of(client)).add_fixes(
        [GpsFix("013800000001" if p == PLATE else "013800000002", p,
                T0 + timedelta(minutes=m), 30.6, lon) for p, m, lon in fixes]
    )  # fmt: skip
    return client


def test_a_vehicles_trips_have_their_windows_reads_and_tracks(trips: TestClient) -> None:
    mine = raise_alert(trips, 1, vehicle=PLATE)
    raise_alert(trips, 2, vehicle=OTHER_PLATE)
    response = trips.get("/vehicles/川a·12345/trips")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["plate"] == PLATE
    first, second = body["items"]  # the other vehicle's trip is not shown
    assert [first["manifest"]["number"], second["manifest"]["number"]] == [
        "20260351010000001", "20260351010000002"]  # fmt: skip
    assert (first["started"], first["ended"]) == (at(0), at(120))
    assert (second["started"], second["ended"]) == (at(300), at(420))
    assert [(s["checkpoint"], s["seen_at"]) for s in first["sightings"]] == [("G1", at(60))]
    assert [(s["checkpoint"], s["seen_at"]) for s in second["sightings"]] == [("G3", at(360))]
    assert first["track"] == {
        "geometry": {"type": "LineString",
                     "coordinates": [[104.01, 30.6], [104.02, 30.6], [104.03, 30.6]]},
        "fixes": 3, "points": 3, "thinned": False,
    }  # fmt: skip
    assert second["track"]["fixes"] == 2
    assert second["track"]["geometry"]["coordinates"] == [[104.31, 30.6], [104.32, 30.6]]
    assert [a["id"] for a in body["alerts"]] == [mine]
    assert body["next"] is None


def test_trips_are_paged_and_windowed(trips: TestClient) -> None:
    page = trips.get(f"/vehicles/{PLATE}/trips", params={"limit": 1}).json()
    assert [t["manifest"]["number"] for t in page["items"]] == ["20260351010000001"]
    rest = trips.get(f"/vehicles/{PLATE}/trips", params={"limit": 1, "cursor": page["next"]})
    assert [t["manifest"]["number"] for t in rest.json()["items"]] == ["20260351010000002"]
    assert rest.json()["next"] is None
    late = trips.get(f"/vehicles/{PLATE}/trips", params={"since": at(100)}).json()
    assert [t["manifest"]["number"] for t in late["items"]] == ["20260351010000002"]


def test_a_long_track_is_thinned_to_the_cap() -> None:
    fixes = [Fix(T0 + timedelta(seconds=s), 104.0 + s / 1e6, 30.6) for s in range(12_001)]
    track = TrackPublic.of(fixes)
    assert (track.fixes, track.points, track.thinned) == (12_001, 5000, True)
    assert track.geometry is not None
    assert track.geometry.coordinates[0] == (104.0, 30.6)
    assert track.geometry.coordinates[-1] == (104.0 + 12_000 / 1e6, 30.6)


def test_a_bad_plate_is_a_422_problem_naming_it(client: TestClient) -> None:
    body = problem(client.get("/vehicles/XX12345/trips"), 422, "plate-invalid")
    assert "XX12345" in body["detail_zh"]
    assert body["context"]["plate"] == "XX12345"
    problem(client.get(f"/vehicles/{PLATE}/trips", params={"cursor": "1"}), 422, "record-invalid")


# -- a party's balance --------------------------------------------------------------------------


def test_a_generators_balance_after_weighed_receipts(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(queries, "_now", lambda: datetime(2026, 4, 15, tzinfo=UTC))
    gen, truck, disposer = (Scanner(c) for c in (GENERATOR_CODE, TRANSPORTER_CODE, DISPOSER_CODE))
    post(client, *(gen.scan(Step.COMMISSIONING, drum(n)) for n in (1, 2)))
    truck.follow(gen)
    post(client, truck.scan(Step.LOADING, drum(1), drum(2), minutes=30, vehicle=PLATE,
                            counterparty=GENERATOR_CODE))  # fmt: skip
    disposer.follow(truck)
    receipts = [
        disposer.scan(Step.RECEIVING, drum(n), minutes=150, counterparty=TRANSPORTER_CODE,
                      mass=Mass(grams, MassSource.WEIGHBRIDGE))
        for n, grams in ((1, 140_000), (2, 145_000))
    ]  # fmt: skip
    post(client, *receipts)
    response = client.get(f"/parties/{GENERATOR_CODE}/balance", params={"months": 2})
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["party"], body["name"], body["since"]) == (
        GENERATOR_CODE, NAMES[GENERATOR_CODE], "2026-03-01T00:00:00+08:00")  # fmt: skip
    assert body["rows"] == [
        {"month": "2026-03", "role": "generator", "role_zh": "产废单位", "declared_kg": 300.0,
         "moved_kg": 300.0, "received_kg": 285.0, "containers": 2, "gap_kg": 15.0},
    ]  # fmt: skip
    disposer_rows = client.get(f"/parties/{DISPOSER_CODE}/balance").json()["rows"]
    assert [(r["role"], r["received_kg"]) for r in disposer_rows] == [("disposer", 285.0)]
    # Drum 1 is stored in April: its history is loaded, but its March rows are left out.
    post(client, disposer.scan(Step.STORING, drum(1), minutes=28 * 24 * 60))
    assert client.get(f"/parties/{GENERATOR_CODE}/balance", params={"months": 1}).json()[
        "rows"] == []  # fmt: skip


def test_a_load_weighed_with_another_generators_drum_is_shared_by_declared_mass(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The balance reads only the party's containers, and those named beside them: the
    # weighed load is split 150 : 50 by declared mass, as over the whole ledger.
    monkeypatch.setattr(queries, "_now", lambda: datetime(2026, 4, 15, tzinfo=UTC))
    neighbour = {"credit_code": UNREGISTERED, "name": "邻厂", "roles": ["generator"]}
    assert client.post("/parties", json=neighbour).status_code == 201
    theirs = DigitalId(UNREGISTERED, "900-249-08", date(2026, 3, 5), 1)
    with Session(engine_of(client)) as session:
        facts = NewContainer(UNREGISTERED, "900-249-08", date(2026, 3, 5), PhysicalForm.LIQUID,
                             ContainerType.DRUM, 200, 50_000)  # fmt: skip
        SqlContainerStore(session).insert_container(Container(theirs, "2021", facts))
    gen, truck = Scanner(GENERATOR_CODE), Scanner(TRANSPORTER_CODE)
    post(client, gen.scan(Step.COMMISSIONING, drum(1)))
    truck.follow(gen)
    post(client, truck.scan(Step.LOADING, drum(1), theirs.text, minutes=30, vehicle=PLATE,
                            counterparty=GENERATOR_CODE,
                            mass=Mass(180_000, MassSource.WEIGHBRIDGE)))  # fmt: skip
    rows = client.get(f"/parties/{GENERATOR_CODE}/balance", params={"months": 2}).json()["rows"]
    assert [(r["declared_kg"], r["moved_kg"]) for r in rows] == [(150.0, 135.0)]


def test_an_unregistered_party_is_a_404_problem(client: TestClient) -> None:
    problem(client.get(f"/parties/{UNREGISTERED}/balance"), 404, "party-not-found")
    problem(client.get(f"/parties/{GENERATOR_CODE}/balance", params={"months": 0}), 422,
            "request-invalid")  # fmt: skip


# -- alerts in an area --------------------------------------------------------------------------


def test_alerts_near_a_box_are_those_with_an_event_inside_it(client: TestClient) -> None:
    gen = Scanner(GENERATOR_CODE)
    inside, outside, nowhere = post(
        client,
        gen.scan(Step.COMMISSIONING, drum(1), location=(30.6, 104.0)),
        gen.scan(Step.COMMISSIONING, drum(2), location=(31.5, 104.0)),  # north of the box
        gen.scan(Step.COMMISSIONING, drum(3)),
    )
    wanted = raise_alert(client, 1, entries=(outside, inside))
    raise_alert(client, 2, entries=(outside,))
    raise_alert(client, 3, entries=(nowhere,))
    raise_alert(client, 4)
    response = client.get("/alerts/near", params={"bbox": "103.9,30.5,104.2,30.8"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert [a["id"] for a in body["items"]] == [wanted]
    assert (body["next"], body["scanned"], body["capped"]) == (None, 4, False)
    west_only = client.get("/alerts/near", params={"bbox": "100,30,103,32"}).json()
    assert west_only["items"] == []


def test_alerts_in_a_polygon_are_those_with_a_place_inside_it_not_just_its_box(
    client: TestClient,
) -> None:
    gen = Scanner(GENERATOR_CODE)
    river, bank = post(
        client,
        gen.scan(Step.COMMISSIONING, drum(1), location=(30.61, 104.01)),  # inside the triangle
        gen.scan(Step.COMMISSIONING, drum(2), location=(30.79, 104.1)),  # its box, not in it
    )
    wanted = raise_alert(client, 1, entries=(river,))
    raise_alert(client, 2, entries=(bank,))
    triangle = "104.0,30.6;104.2,30.6;104.0,30.8"  # lon,lat corners
    body = client.get("/alerts/near", params={"polygon": triangle}).json()
    assert [a["id"] for a in body["items"]] == [wanted]
    boxed = client.get("/alerts/near", params={"bbox": "104.0,30.6,104.2,30.8"}).json()
    assert len(boxed["items"]) == 2


@pytest.mark.parametrize(
    "params",
    [
        {"polygon": "104.0,30.6;104.2,30.6"},  # two corners
        {"polygon": "104.0,30.6;104.2,30.8;104.2,30.6;104.0,30.8"},  # a bow tie
        {"polygon": "104.0,30.6;x,30.6;104.0,30.8"},
        {"polygon": "104.0,30.6;104.2,30.6;104.0,95"},
        {"polygon": "104.0,30.6;104.2,30.6;104.0,30.8", "bbox": "103.9,30.5,104.2,30.8"},
        {},
    ],
)
def test_a_bad_or_missing_area_is_a_422_problem(client: TestClient, params: dict[str, str]) -> None:
    problem(client.get("/alerts/near", params=params), 422, "record-invalid")


@pytest.mark.parametrize("bbox", ["104.2,30.5,103.9,30.8", "1,2,3", "a,b,c,d", "0,-91,1,1"])
def test_a_bad_bbox_is_a_422_problem(client: TestClient, bbox: str) -> None:
    body = problem(client.get("/alerts/near", params={"bbox": bbox}), 422, "record-invalid")
    assert body["context"]["field"] == "bbox"


def test_every_error_is_described_in_the_openapi(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert {"404", "422"} <= set(paths["/containers/{digital_id}/timeline"]["get"]["responses"])
    assert "422" in paths["/vehicles/{plate}/trips"]["get"]["responses"]
    assert {"404", "422"} <= set(paths["/parties/{credit_code}/balance"]["get"]["responses"])
    assert "422" in paths["/alerts/near"]["get"]["responses"]

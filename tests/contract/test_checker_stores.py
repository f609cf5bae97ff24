"""The checker's stores on SQLite and PostgreSQL: manifests, alerts, and the facts loader."""

from __future__ import annotations

import threading
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import OperationalError
from sqlmodel import Session

from custody.alerts import Alert, AlertChange, AlertFilter, Alerts, AlertState, Severity
from custody.errors import (
    AlertNotFound,
    AlertTransitionInvalid,
    AlreadyRegistered,
    ManifestNotFound,
    RecordInvalid,
)
from custody.events import NO_PREVIOUS, Step
from custody.facts import CheckSettings, Facts
from custody.history import Phase
from custody.manifests import Manifests, TransferManifest
from custody.parties import Party, PartyRole, WGS84Point
from custody.registry import Registry
from storage import facts_loader
from storage.alert_store import SqlAlertStore
from storage.container_store import SqlContainerStore
from storage.engine import make_engine, normalise_url
from storage.facts_loader import load_facts
from storage.manifest_store import SqlManifestStore
from storage.migrate import upgrade
from storage.registry_store import SqlRegistryStore
from storage.tables import AlertContainerRow, AlertPartyRow, metadata
from tests.conftest import (
    DISPOSER_CODE,
    GENERATOR_CODE,
    POSTGRES_SERVER,
    TRANSPORTER_CODE,
    _require_postgres,
)
from tests.facts_fixtures import PLATE, append_events, drum_id, register_drums, trip_events
from tests.ledger_fixtures import Scanner

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from sqlalchemy.engine import Engine

    from custody.events import SignedEvent
    from custody.parties import OperatingLicence, TransportPermit, Vehicle

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
BEIJING = timezone(timedelta(hours=8))
#: Every table these tests write, children first.
WRITTEN_TABLES = ("alert_change", "alert_container", "alert_party", "alert_place", "alert",
                  "transfer_manifest_vehicle", "transfer_manifest", "ledger_entry",
                  "ledger_container", "ledger_node", "ledger_checkpoint", "ledger_flag",
                  "container", "vehicle", "transport_permit", "party")  # fmt: skip


# -- fixtures ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def own_postgres_url() -> Iterator[str]:
    """A PostgreSQL database of this module's own, dropped at the end.

    These tests commit (alerts on their own connections, a ledger, registered drums), so they
    do not use the suite's shared database: what they leave would change other tests.
    """
    admin = make_engine(POSTGRES_SERVER).execution_options(isolation_level="AUTOCOMMIT")
    name = f"custody_checker_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError as exc:
        admin.dispose()
        _require_postgres(str(exc.orig).strip().splitlines()[0])
    url = normalise_url(POSTGRES_SERVER).set(database=name).render_as_string(hide_password=False)
    upgrade(url)
    yield url
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def checker_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An engine on an empty database: a new SQLite file, or this module's PostgreSQL."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'checker.sqlite3'}"
        upgrade(url)
    else:
        url = request.getfixturevalue("own_postgres_url")
    eng = make_engine(url)
    with eng.begin() as conn:  # the PostgreSQL database lives for the module
        for table in WRITTEN_TABLES:
            conn.execute(text(f"DELETE FROM {table}"))  # noqa: S608  # fixed table names
        reset = "UPDATE ledger_state SET size = 0, peaks = :p, checkpoint = NULL"
        conn.execute(text(reset), {"p": b""})
    yield eng
    eng.dispose()


@pytest.fixture
def alerts_store(checker_engine: Engine) -> SqlAlertStore:
    return SqlAlertStore(checker_engine)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_session(request: pytest.FixtureRequest) -> Session:
    """The suite's session (rolled back after the test) on each back end."""
    name = "session" if request.param == "sqlite" else "postgres_session"
    session: Session = request.getfixturevalue(name)
    return session


def alert(n: int, **changes: object) -> Alert:
    values: dict[str, object] = {
        "rule": "missing-handoff",
        "subject": f"subject-{n:03d}",
        "severity": Severity.HIGH,
        "summary_zh": f"第 {n} 条告警：容器未经交接即易手",
        "summary": f"alert {n}: custody changed hands without a hand-off",
        "start": T0,
        "end": T0 + timedelta(hours=1),
        "containers": (drum_id(n),),
        "vehicle": PLATE,
        "parties": (GENERATOR_CODE, TRANSPORTER_CODE),
        "entries": (n, n + 1),
        "facts": {"n": n, "gap_h": 1.5, "名称": "废矿物油"},
    }
    values.update(changes)
    return Alert(**values)  # type: ignore[arg-type]


def manifest(number: str = "20260351010000123", **changes: object) -> TransferManifest:
    values: dict[str, object] = {
        "number": number,
        "generator": GENERATOR_CODE,
        "transporter": TRANSPORTER_CODE,
        "receiver": DISPOSER_CODE,
        "vehicles": ("川A·12345",),
        "waste_codes": ("900-249-08",),
        "containers": (drum_id(0), drum_id(1)),
        "declared_mass_g": 300_000,
        "created_at": datetime(2026, 3, 2, 9, 30, tzinfo=BEIJING),
        "origin": WGS84Point(30.657, 104.066),
        "destination": WGS84Point(30.89, 103.84),
        "depart_after": datetime(2026, 3, 2, 10, 0, tzinfo=BEIJING),
        "arrive_before": datetime(2026, 3, 2, 18, 0, tzinfo=BEIJING),
    }
    values.update(changes)
    return TransferManifest(**values)  # type: ignore[arg-type]


# -- manifests ---------------------------------------------------------------------------------


def test_a_manifest_reads_back_as_it_was_recorded_in_utc(db_session: Session) -> None:
    store = SqlManifestStore(db_session)
    store.insert_manifest(manifest())
    found = store.get_manifest("20260351010000123")
    assert found == manifest()
    assert found is not None
    assert found.created_at == datetime(2026, 3, 2, 1, 30, tzinfo=UTC)
    assert found.created_at.tzinfo is UTC
    assert found.vehicles == ("川A12345",)


def test_a_manifest_without_points_or_dates_reads_back(db_session: Session) -> None:
    bare = manifest(origin=None, destination=None, depart_after=None, arrive_before=None,
                    containers=())  # fmt: skip
    SqlManifestStore(db_session).insert_manifest(bare)
    assert SqlManifestStore(db_session).get_manifest(bare.number) == bare


def test_a_taken_number_is_refused_and_the_first_manifest_stays(db_session: Session) -> None:
    store = SqlManifestStore(db_session)
    store.insert_manifest(manifest())
    with pytest.raises(AlreadyRegistered):
        store.insert_manifest(manifest(declared_mass_g=1))
    assert store.get_manifest("20260351010000123") == manifest()


def test_recording_is_once_and_a_changed_manifest_is_refused(db_session: Session) -> None:
    manifests = Manifests(SqlManifestStore(db_session))
    assert manifests.record(manifest()) == (manifest(), True)
    assert manifests.record(manifest()) == (manifest(), False)
    with pytest.raises(AlreadyRegistered):
        manifests.record(manifest(containers=(drum_id(0),)))
    assert manifests.get("20260351010000123") == manifest()


def test_an_unknown_manifest_is_none_and_not_found(db_session: Session) -> None:
    assert SqlManifestStore(db_session).get_manifest("99999999999") is None
    with pytest.raises(ManifestNotFound):
        Manifests(SqlManifestStore(db_session)).get("99999999999")


def test_manifests_are_listed_by_issue_time_in_the_window(db_session: Session) -> None:
    store = SqlManifestStore(db_session)
    for hours, number in ((5, "2026000000005"), (1, "2026000000001"), (3, "2026000000003"),
                          (3, "2026000000002")):  # fmt: skip
        store.insert_manifest(manifest(number, created_at=T0 + timedelta(hours=hours),
                                       depart_after=None, arrive_before=None))  # fmt: skip
    everything = [m.number for m in store.list_manifests()]
    assert everything == ["2026000000001", "2026000000002", "2026000000003", "2026000000005"]
    window = store.list_manifests(since=T0 + timedelta(hours=1, seconds=1),
                                  until=datetime(2026, 3, 2, 21, 0, tzinfo=BEIJING))  # fmt: skip
    assert [m.number for m in window] == ["2026000000002", "2026000000003"]  # 13:00Z excluded


def _numbers(found: list[TransferManifest]) -> list[str]:
    return [m.number for m in found]


def test_a_manifest_listing_two_vehicles_is_found_by_either_plate(db_session: Session) -> None:
    store = SqlManifestStore(db_session)
    both = manifest("2026000000001", vehicles=("川A12345", "川B54321"), created_at=T0,
                    depart_after=None, arrive_before=None)  # fmt: skip
    second = manifest("2026000000002", vehicles=("川B54321",), created_at=T0 + timedelta(hours=2),
                      depart_after=None, arrive_before=None)  # fmt: skip
    store.insert_manifest(second)
    store.insert_manifest(both)
    assert store.manifests_for_vehicle("川A12345") == [both]
    assert _numbers(store.manifests_for_vehicle("川B54321")) == ["2026000000001", "2026000000002"]
    assert store.manifests_for_vehicle("川C11111") == []
    later = store.manifests_for_vehicle("川B54321", since=T0 + timedelta(hours=1))
    assert _numbers(later) == ["2026000000002"]
    earlier = store.manifests_for_vehicle("川B54321", until=T0 + timedelta(hours=2))
    assert _numbers(earlier) == ["2026000000001"]  # issued at ``until``: left out


def test_a_refused_manifest_leaves_no_plate_behind(db_session: Session) -> None:
    store = SqlManifestStore(db_session)
    store.insert_manifest(manifest(vehicles=("川A12345",)))
    with pytest.raises(AlreadyRegistered):
        store.insert_manifest(manifest(vehicles=("川B54321",)))
    assert store.manifests_for_vehicle("川B54321") == []
    assert _numbers(store.manifests_for_vehicle("川A12345")) == ["20260351010000123"]


# -- registry bulk reads -----------------------------------------------------------------------


def test_permits_licences_and_vehicles_are_listed_in_bulk(
    db_session: Session,
    generator: Party,
    transporter: Party,
    disposer: Party,
    permit: TransportPermit,
    licence: OperatingLicence,
    vehicle: Vehicle,
) -> None:
    registry = Registry(SqlRegistryStore(db_session))
    for record in (generator, transporter, disposer):
        registry.register_party(record)
    registry.register_permit(permit)
    registry.register_licence(licence)
    registry.register_vehicle(vehicle)
    store = SqlRegistryStore(db_session)
    assert permit in store.list_permits()
    assert licence in store.list_licences()
    assert vehicle in store.list_vehicles()


def test_containers_are_read_in_bulk_across_in_list_chunks(
    checker_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    _register_parties(checker_engine)
    register_drums(checker_engine, 7)
    monkeypatch.setattr("storage.container_store.IN_CHUNK", 3)
    wanted = [drum_id(n) for n in range(7)] + ["91510100MA61R8XQ029002490819990101001"]
    with Session(checker_engine) as session:
        found = SqlContainerStore(session).get_containers(wanted)
    assert sorted(found) == sorted(wanted[:7])
    assert found[drum_id(3)].digital_id.text == drum_id(3)
    assert found[drum_id(3)].facts.declared_net_mass_g == 150_000


# -- alerts: raising ---------------------------------------------------------------------------


def test_new_alerts_are_stored_with_when_they_were_raised(alerts_store: SqlAlertStore) -> None:
    raised = datetime(2026, 3, 3, 9, 0, tzinfo=BEIJING)
    stored = alerts_store.add_alerts([alert(1), alert(2)], raised)
    assert [a.alert_id for a in stored] == [alert(1).alert_id, alert(2).alert_id]
    assert all(a.raised_at == datetime(2026, 3, 3, 1, 0, tzinfo=UTC) for a in stored)
    found = alerts_store.get_alert(alert(1).alert_id)
    assert found == stored[0] == replace(alert(1), raised_at=raised)
    assert found is not None
    assert found.raised_at is not None
    assert found.raised_at.tzinfo is UTC
    assert found.facts == {"n": 1, "gap_h": 1.5, "名称": "废矿物油"}


def test_an_alert_raised_again_keeps_its_first_evidence(alerts_store: SqlAlertStore) -> None:
    alerts_store.add_alerts([alert(1)], T0)
    again = alert(1, summary="changed", severity=Severity.LOW, entries=(99,))
    assert alerts_store.add_alerts([again, alert(2)], T0 + timedelta(days=1)) == [
        replace(alert(2), raised_at=T0 + timedelta(days=1))
    ]
    assert alerts_store.get_alert(alert(1).alert_id) == replace(alert(1), raised_at=T0)


def test_the_same_alert_twice_in_one_batch_is_stored_once(alerts_store: SqlAlertStore) -> None:
    first, second = alert(1), alert(1, summary="second copy")
    assert alerts_store.add_alerts([first, second], T0) == [replace(first, raised_at=T0)]
    assert alerts_store.add_alerts([], T0) == []


def test_facts_that_json_cannot_hold_are_stored_as_text(alerts_store: SqlAlertStore) -> None:
    when = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
    (stored,) = alerts_store.add_alerts([alert(1, facts={"at": when, "hash": b"\x01\xff"})], T0)
    assert stored.facts == {"at": "2026-03-02T08:00:00+00:00", "hash": "01ff"}
    assert alerts_store.get_alert(stored.alert_id) == stored


def test_a_time_without_zone_is_refused(alerts_store: SqlAlertStore) -> None:
    with pytest.raises(RecordInvalid):
        alerts_store.add_alerts([alert(1)], datetime(2026, 3, 2, 8, 0))  # noqa: DTZ001  # the point


def test_an_unknown_alert_is_none(alerts_store: SqlAlertStore) -> None:
    assert alerts_store.get_alert("AL-0000000000000000") is None


def test_four_threads_raising_overlapping_alerts_store_each_once(
    alerts_store: SqlAlertStore, checker_engine: Engine
) -> None:
    batches = [[alert(n) for n in range(k * 10, k * 10 + 40)] for k in range(4)]  # 0..69
    stored: list[list[Alert]] = []
    failures: list[BaseException] = []
    barrier = threading.Barrier(4)

    def run(batch: list[Alert]) -> None:
        barrier.wait()
        try:
            stored.append(alerts_store.add_alerts(batch[::-1], T0))  # reversed: any order
        except BaseException as exc:  # noqa: BLE001  # reported by the assertion below
            failures.append(exc)

    threads = [threading.Thread(target=run, args=(batch,)) for batch in batches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    ids = [a.alert_id for batch in stored for a in batch]
    assert sorted(ids) == sorted(alert(n).alert_id for n in range(70))
    with checker_engine.connect() as conn:
        links = metadata.tables[AlertContainerRow.__tablename__]
        parties = metadata.tables[AlertPartyRow.__tablename__]
        assert conn.execute(select(func.count()).select_from(links)).scalar() == 70
        assert conn.execute(select(func.count()).select_from(parties)).scalar() == 140


# -- alerts: listing ---------------------------------------------------------------------------


def _listing(store: SqlAlertStore, where: AlertFilter | None = None) -> list[str]:
    return [a.alert_id for a in store.list_alerts(where or AlertFilter(), limit=1000)]


@pytest.fixture
def varied(alerts_store: SqlAlertStore) -> dict[int, Alert]:
    """Alerts differing in every field a filter looks at."""
    made = [
        alert(1, rule="vanished", severity=Severity.HIGH),
        alert(2, rule="vanished", severity=Severity.MEDIUM, vehicle="川B54321"),
        alert(3, severity=Severity.LOW, containers=(drum_id(3), drum_id(30)), vehicle=None),
        alert(4, severity=Severity.INFO, parties=(DISPOSER_CODE,)),
        alert(5, start=T0 + timedelta(days=2), end=T0 + timedelta(days=3)),
        alert(6, start=T0 - timedelta(days=3), end=T0 - timedelta(days=2)),
    ]
    alerts_store.add_alerts(made, T0)
    Alerts(alerts_store).change(made[1].alert_id, AlertState.ACKNOWLEDGED, "王科长")
    return dict(enumerate(made, start=1))


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        (AlertFilter(rule="vanished"), {1, 2}),
        (AlertFilter(state=AlertState.ACKNOWLEDGED), {2}),
        (AlertFilter(state=AlertState.OPEN), {1, 3, 4, 5, 6}),
        (AlertFilter(min_severity=Severity.MEDIUM), {1, 2, 5, 6}),
        (AlertFilter(min_severity=Severity.LOW), {1, 2, 3, 5, 6}),
        (AlertFilter(min_severity=Severity.INFO), {1, 2, 3, 4, 5, 6}),
        (AlertFilter(container=drum_id(30)), {3}),
        (AlertFilter(container=drum_id(4)), {4}),
        (AlertFilter(vehicle="川B54321"), {2}),
        (AlertFilter(party=DISPOSER_CODE), {4}),
        (AlertFilter(party=TRANSPORTER_CODE), {1, 2, 3, 5, 6}),
        (AlertFilter(since=T0 + timedelta(days=1)), {5}),
        (AlertFilter(until=T0 - timedelta(days=1)), {6}),
        (AlertFilter(since=T0 - timedelta(days=1), until=T0 + timedelta(days=1)), {1, 2, 3, 4}),
        (AlertFilter(since=T0 + timedelta(hours=1)), {1, 2, 3, 4, 5}),  # window end counts
        (AlertFilter(until=T0), {6}),  # a window starting at ``until`` does not
        (AlertFilter(rule="vanished", state=AlertState.OPEN, vehicle=PLATE), {1}),
        (AlertFilter(rule="no-such-rule"), set()),
    ],
)
def test_every_filter_field_selects_in_sql(
    alerts_store: SqlAlertStore, varied: dict[int, Alert], where: AlertFilter, expected: set[int]
) -> None:
    assert set(_listing(alerts_store, where)) == {varied[n].alert_id for n in expected}


def test_the_listing_is_by_severity_then_latest_end_then_id(alerts_store: SqlAlertStore) -> None:
    made = [alert(n, severity=list(Severity)[n % 4], end=T0 + timedelta(hours=n % 3))
            for n in range(24)]  # fmt: skip  # ties in severity and end: the id decides
    alerts_store.add_alerts(made, T0)
    expected = sorted(made, key=lambda a: (-a.severity.rank, -a.end.timestamp(), a.alert_id))
    assert _listing(alerts_store) == [a.alert_id for a in expected]


@pytest.mark.parametrize("size", [1, 5, 7, 24, 25])
def test_pages_visit_every_alert_once_in_order(alerts_store: SqlAlertStore, size: int) -> None:
    made = [alert(n, severity=list(Severity)[n % 4], end=T0 + timedelta(hours=n % 3))
            for n in range(24)]  # fmt: skip
    alerts_store.add_alerts(made, T0)
    seen: list[str] = []
    after: str | None = None
    for _ in range(30):  # bounded: a cursor that repeats a page must fail, not hang
        page = alerts_store.list_alerts(AlertFilter(), limit=size, after=after)
        assert len(page) <= size
        seen += [a.alert_id for a in page]
        if len(page) < size:
            break
        after = page[-1].alert_id
    assert seen == _listing(alerts_store)
    assert len(seen) == len(set(seen)) == 24


def test_pages_of_a_filtered_listing_stay_in_the_filter(alerts_store: SqlAlertStore) -> None:
    made = [alert(n, severity=list(Severity)[n % 4], rule=("a", "b")[n % 2]) for n in range(20)]
    alerts_store.add_alerts(made, T0)
    where = AlertFilter(rule="a", min_severity=Severity.LOW)
    first = alerts_store.list_alerts(where, limit=3)
    rest = alerts_store.list_alerts(where, limit=100, after=first[-1].alert_id)
    assert [a.alert_id for a in first + rest] == _listing(alerts_store, where)
    assert all(a.rule == "a" and a.severity.rank >= 1 for a in first + rest)


def test_a_cursor_naming_no_alert_is_refused(alerts_store: SqlAlertStore) -> None:
    with pytest.raises(RecordInvalid):
        alerts_store.list_alerts(AlertFilter(), after="AL-0000000000000000")
    with pytest.raises(RecordInvalid):
        alerts_store.list_alerts(AlertFilter(), limit=0)


# -- alerts: by area ---------------------------------------------------------------------------

#: West, south, east, north around Chengdu; (30.6, 104.0) is inside, (31.5, 104.0) north of it.
BOX = (103.9, 30.5, 104.2, 30.8)


def _located_events(engine: Engine) -> tuple[int, int, int]:
    """Three ledger entries: located in the box, located north of it, not located."""
    gen = Scanner(GENERATOR_CODE)
    append_events(engine, [gen.scan(Step.COMMISSIONING, drum_id(1), location=(30.6, 104.0)),
                           gen.scan(Step.COMMISSIONING, drum_id(2), location=(31.5, 104.0)),
                           gen.scan(Step.COMMISSIONING, drum_id(3))])  # fmt: skip
    return 0, 1, 2


def _near(store: SqlAlertStore, box: tuple[float, float, float, float]) -> set[str]:
    return {a.alert_id for a in store.list_near(box, AlertFilter(), limit=1000)}


def test_an_alert_is_found_by_the_place_of_its_event_and_only_there(
    alerts_store: SqlAlertStore, checker_engine: Engine
) -> None:
    inside, outside, nowhere = _located_events(checker_engine)
    here, north = alert(1, entries=(outside, inside)), alert(2, entries=(outside,))
    alerts_store.add_alerts([here, north, alert(3, entries=(nowhere,)), alert(4, entries=())], T0)
    assert _near(alerts_store, BOX) == {here.alert_id}
    assert _near(alerts_store, (103.9, 31.4, 104.1, 31.6)) == {here.alert_id, north.alert_id}
    assert _near(alerts_store, (100.0, 30.0, 103.0, 32.0)) == set()  # west of both
    assert _near(alerts_store, (104.0, 30.6, 104.0, 30.6)) == {here.alert_id}  # edges are in


def test_an_alert_with_no_located_event_is_never_near(
    alerts_store: SqlAlertStore, checker_engine: Engine
) -> None:
    _, outside, nowhere = _located_events(checker_engine)
    unplaced, placed = alert(3, entries=(nowhere, 99)), alert(2, entries=(outside,))
    alerts_store.add_alerts([unplaced, placed], T0)  # 99: no such entry
    assert _near(alerts_store, (-180.0, -90.0, 180.0, 90.0)) == {placed.alert_id}


def test_a_route_alerts_map_points_place_it_but_not_its_lines(
    alerts_store: SqlAlertStore,
) -> None:
    layers = {
        "stop": {"type": "Point", "coordinates": [104.05, 30.65]},
        "missing": {"type": "MultiPoint", "coordinates": [[104.5, 31.2], [104.6, 31.3]]},
        "route": {"type": "LineString", "coordinates": [[104.05, 30.65], [110.0, 35.0]]},
    }
    route = alert(5, rule="dwell", entries=(), facts={"layers": layers, "manifest": "1"})
    alerts_store.add_alerts([route], T0)
    assert _near(alerts_store, BOX) == {route.alert_id}
    assert _near(alerts_store, (104.55, 31.25, 104.65, 31.35)) == {route.alert_id}
    assert _near(alerts_store, (109.0, 34.0, 111.0, 36.0)) == set()  # a line's vertex


def test_alerts_near_are_filtered_and_paged_in_the_listings_order(
    alerts_store: SqlAlertStore, checker_engine: Engine
) -> None:
    inside, outside, _ = _located_events(checker_engine)
    made = [alert(n, severity=list(Severity)[n % 4], rule=("a", "b")[n % 2],
                  entries=(inside,) if n % 3 else (outside,)) for n in range(24)]  # fmt: skip
    alerts_store.add_alerts(made, T0)
    where = AlertFilter(rule="a")
    expected = [a for a in alerts_store.list_alerts(where, limit=100)
                if a.entries == (inside,)]  # fmt: skip
    first = alerts_store.list_near(BOX, where, limit=3)
    rest = alerts_store.list_near(BOX, where, limit=100, after=first[-1].alert_id)
    assert [a.alert_id for a in first + rest] == [a.alert_id for a in expected]
    assert len(expected) == 8
    assert alerts_store.count_alerts(where) == 12


def test_alert_places_are_stored_once_and_only_for_new_alerts(
    alerts_store: SqlAlertStore, checker_engine: Engine
) -> None:
    inside, outside, _ = _located_events(checker_engine)
    alerts_store.add_alerts([alert(1, entries=(inside, inside))], T0)
    alerts_store.add_alerts([alert(1, entries=(outside,)), alert(2, entries=(inside,))], T0)
    places = metadata.tables["alert_place"]
    with checker_engine.connect() as conn:
        rows = conn.execute(select(places.c.alert_id, places.c.lat, places.c.lon)).all()
    assert sorted(rows) == sorted([(alert(1).alert_id, 30.6, 104.0),
                                   (alert(2).alert_id, 30.6, 104.0)])  # fmt: skip


# -- alerts: lifecycle -------------------------------------------------------------------------


def test_changes_are_recorded_in_order_and_set_the_state(alerts_store: SqlAlertStore) -> None:
    alerts = Alerts(alerts_store)
    (raised,) = alerts.raise_all([alert(1)], T0)
    key = raised.alert_id
    alerts.change(key, AlertState.ACKNOWLEDGED, "王科长", now=T0 + timedelta(hours=1))
    alerts.change(
        key, AlertState.DISMISSED, "王科长", "补录了交接记录", now=T0 + timedelta(hours=2)
    )
    with pytest.raises(AlertTransitionInvalid):
        alerts.change(key, AlertState.ACKNOWLEDGED, "李工")  # dismissed: only reopening
    with pytest.raises(AlertTransitionInvalid):
        alerts.change(key, AlertState.OPEN, "李工")  # reopening needs a reason
    reopened = alerts.change(key, AlertState.OPEN, "李工", "再次核查", now=T0 + timedelta(hours=3))
    assert reopened.state is AlertState.OPEN
    assert alerts_store.changes(key) == [
        AlertChange(key, T0 + timedelta(hours=1), "王科长", AlertState.ACKNOWLEDGED, ""),
        AlertChange(key, T0 + timedelta(hours=2), "王科长", AlertState.DISMISSED, "补录了交接记录"),
        AlertChange(key, T0 + timedelta(hours=3), "李工", AlertState.OPEN, "再次核查"),
    ]
    assert alerts_store.get_alert(key) == replace(alert(1), raised_at=T0)  # open, as raised


def test_a_dismissal_without_reason_changes_nothing(alerts_store: SqlAlertStore) -> None:
    alerts = Alerts(alerts_store)
    alerts.raise_all([alert(1)], T0)
    with pytest.raises(AlertTransitionInvalid):
        alerts.change(alert(1).alert_id, AlertState.DISMISSED, "王科长", "  ")
    assert alerts_store.changes(alert(1).alert_id) == []
    assert alerts.get(alert(1).alert_id).state is AlertState.OPEN


def test_a_change_of_an_unknown_alert_is_not_found_and_not_recorded(
    alerts_store: SqlAlertStore,
) -> None:
    change = AlertChange("AL-0000000000000000", T0, "王科长", AlertState.ACKNOWLEDGED)
    with pytest.raises(AlertNotFound):
        alerts_store.change_state(change, AlertState.OPEN)
    assert alerts_store.changes("AL-0000000000000000") == []
    with pytest.raises(AlertNotFound):
        Alerts(alerts_store).change("AL-0000000000000000", AlertState.ACKNOWLEDGED, "王科长")


def test_a_change_made_meanwhile_by_someone_else_is_not_overwritten(
    alerts_store: SqlAlertStore,
) -> None:
    Alerts(alerts_store).raise_all([alert(1)], T0)
    ident = alert(1).alert_id
    first = AlertChange(ident, T0, "王科长", AlertState.ESCALATED, "")
    second = AlertChange(ident, T0, "李警官", AlertState.DISMISSED, "误报")
    assert alerts_store.change_state(first, AlertState.OPEN) is True
    assert alerts_store.change_state(second, AlertState.OPEN) is False  # read before the first
    assert alerts_store.get_alert(ident).state is AlertState.ESCALATED  # type: ignore[union-attr]
    assert [c.by for c in alerts_store.changes(ident)] == ["王科长"]


def test_a_state_change_is_seen_by_the_state_filter(alerts_store: SqlAlertStore) -> None:
    Alerts(alerts_store).raise_all([alert(1), alert(2)], T0)
    Alerts(alerts_store).change(alert(1).alert_id, AlertState.ESCALATED, "王科长")
    escalated = alerts_store.list_alerts(AlertFilter(state=AlertState.ESCALATED))
    assert [a.alert_id for a in escalated] == [alert(1).alert_id]


# -- the facts loader --------------------------------------------------------------------------


_ROLES = {GENERATOR_CODE: PartyRole.GENERATOR, TRANSPORTER_CODE: PartyRole.TRANSPORTER,
          DISPOSER_CODE: PartyRole.DISPOSER}  # fmt: skip


def _register_parties(engine: Engine) -> None:
    with Session(engine) as session:
        store = SqlRegistryStore(session)
        for code, role in _ROLES.items():
            store.insert_party(Party(code, f"单位{code[-4:]}", frozenset({role})))


@pytest.fixture
def ledger(
    checker_engine: Engine, vehicle: Vehicle, permit: TransportPermit
) -> tuple[Engine, list[SignedEvent]]:
    """Three trips of four drums on an empty ledger, the drums and a manifest registered."""
    eng = checker_engine
    _register_parties(eng)
    with Session(eng) as session:
        SqlRegistryStore(session).insert_vehicle(vehicle)
        SqlRegistryStore(session).insert_permit(permit)
        SqlManifestStore(session).insert_manifest(manifest())
    register_drums(eng, 12)
    events = trip_events(3)
    append_events(eng, events, batch=10)
    return eng, events


def _shape(facts: Facts) -> dict[str, list[tuple[int, bytes, str]]]:
    return {c: [(r.index, r.event_hash, r.event.event_id) for r in h.records]
            for c, h in facts.histories.items()}  # fmt: skip


def test_facts_round_trip_the_signed_ledger(ledger: tuple[Engine, list[SignedEvent]]) -> None:
    engine, events = ledger
    as_of = T0 + timedelta(days=30)
    facts = load_facts(engine, as_of=as_of)
    # What the ledger holds: event i at index i, each drum's events in time order.
    expected: dict[str, list[tuple[int, bytes, str]]] = {}
    for index, signed in enumerate(events):
        for container in signed.event.containers:
            expected.setdefault(container, []).append(
                (index, signed.event_hash, signed.event.event_id)
            )
    assert _shape(facts) == expected
    history = facts.histories[drum_id(5)]
    assert [r.event.step for r in history.records] == [
        Step.COMMISSIONING, Step.LOADING, Step.DEPARTING, Step.ARRIVING, Step.RECEIVING,
        Step.DESTROYING,
    ]  # fmt: skip
    assert [(s.holder, s.phase) for s in history.spans] == [
        (GENERATOR_CODE, Phase.AT_REST),
        (TRANSPORTER_CODE, Phase.IN_TRANSIT),
        (DISPOSER_CODE, Phase.AT_REST),
        (DISPOSER_CODE, Phase.ENDED),
    ]
    assert history.jumps == []
    assert history.forks == {}
    assert history.records[0].event.prev == (NO_PREVIOUS,)
    assert facts.as_of == as_of
    assert sorted(facts.containers) == sorted(drum_id(n) for n in range(12))
    assert {GENERATOR_CODE, TRANSPORTER_CODE, DISPOSER_CODE} <= set(facts.parties)
    assert "川A12345" in facts.vehicles
    assert TRANSPORTER_CODE in facts.permits
    assert facts.manifests["20260351010000123"] == manifest()
    assert facts.settings == CheckSettings()


def test_facts_are_the_same_read_in_small_chunks(
    ledger: tuple[Engine, list[SignedEvent]], monkeypatch: pytest.MonkeyPatch
) -> None:
    engine, _ = ledger
    whole = _shape(load_facts(engine, as_of=T0))
    monkeypatch.setattr(facts_loader, "CHUNK", 7)
    assert _shape(load_facts(engine, as_of=T0)) == whole


def test_facts_are_the_same_decoded_by_worker_processes(
    ledger: tuple[Engine, list[SignedEvent]], monkeypatch: pytest.MonkeyPatch
) -> None:
    engine, _ = ledger
    whole = load_facts(engine, as_of=T0)
    monkeypatch.setattr(facts_loader, "CHUNK", 10)
    parallel = load_facts(engine, as_of=T0, workers=2)
    assert _shape(parallel) == _shape(whole)
    assert parallel.histories[drum_id(0)].spans == whole.histories[drum_id(0)].spans


def test_facts_of_some_containers_hold_only_their_whole_histories(
    ledger: tuple[Engine, list[SignedEvent]], monkeypatch: pytest.MonkeyPatch
) -> None:
    engine, _ = ledger
    whole = _shape(load_facts(engine, as_of=T0))
    monkeypatch.setattr(facts_loader, "IN_CHUNK", 1)  # each container its own IN list
    some = load_facts(engine, as_of=T0, containers=[drum_id(1), drum_id(6), drum_id(6)])
    # drum 1 shares its loading event with drums 0, 2 and 3: theirs would be partial, so absent
    assert _shape(some) == {drum_id(1): whole[drum_id(1)], drum_id(6): whole[drum_id(6)]}
    assert sorted(some.containers) == [drum_id(1), drum_id(6)]
    assert load_facts(engine, as_of=T0, containers=[]).histories == {}


def test_a_window_keeps_whole_histories_of_the_containers_it_touches(
    ledger: tuple[Engine, list[SignedEvent]],
) -> None:
    engine, events = ledger
    whole = _shape(load_facts(engine, as_of=T0))
    start = events[0].event.event_time  # the ledger fixtures' clock; trips are an hour apart
    # Only the second trip's arrival (at +1 h 50 min) is in the window.
    window = load_facts(engine, as_of=T0, since=start + timedelta(minutes=110),
                        until=start + timedelta(minutes=111))  # fmt: skip
    second = [drum_id(n) for n in range(4, 8)]
    assert _shape(window) == {c: whole[c] for c in second}
    assert all(len(window.histories[c].records) == 6 for c in second)  # before and after too
    assert sorted(window.containers) == sorted(second)
    both = load_facts(engine, as_of=T0, since=start + timedelta(minutes=110),
                      containers=[drum_id(0), drum_id(9)])  # fmt: skip
    assert set(both.histories) == {drum_id(9)}  # drum 0's events are all before the window


def test_a_window_without_zone_is_refused(ledger: tuple[Engine, list[SignedEvent]]) -> None:
    engine, _ = ledger
    with pytest.raises(RecordInvalid):
        load_facts(engine, as_of=T0, since=datetime(2026, 3, 5))  # noqa: DTZ001  # the point


def test_alerts_in_a_polygon_are_filtered_and_paged_like_those_near_a_box(
    alerts_store: SqlAlertStore, checker_engine: Engine
) -> None:
    inside, outside, _ = _located_events(checker_engine)
    made = [alert(n, rule=("a", "b")[n % 2], entries=(inside,) if n % 3 else (outside,))
            for n in range(12)]  # fmt: skip
    alerts_store.add_alerts(made, T0)
    west, south, east, north = BOX
    square = [(west, south), (east, south), (east, north), (west, north)]
    where = AlertFilter(rule="a")
    first = alerts_store.list_in_area(square, where, limit=2)
    rest = alerts_store.list_in_area(square, where, limit=100, after=first[-1].alert_id)
    assert [a.alert_id for a in first + rest] == [
        a.alert_id for a in alerts_store.list_near(BOX, where, limit=100)
    ]
    sliver = [(103.95, 30.55), (104.2, 30.55), (104.2, 30.65)]  # its box holds the place; it not
    assert alerts_store.list_in_area(sliver, AlertFilter()) == []

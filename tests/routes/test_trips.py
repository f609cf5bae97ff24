"""Manifests as checked trips on the Monaco network: route findings become custody alerts.

The manifest declares a load from a plant in Fontvieille to a disposer in Menton: 10.7 km
along the harbour (Port Hercule) and the coast, 11 min at the dangerous-goods limits. The
truck's terminal reports every 30 s (``routes.synthetic.drive``); the ledger holds the loading
and the receipt, both naming the manifest.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

import pytest

from custody.alerts import Severity as AlertSeverity
from custody.alerts import alert_id
from custody.digital_id import DigitalId
from custody.errors import CoordinateInvalid
from custody.events import NO_PREVIOUS, CustodyEvent, Step
from custody.history import Record
from custody.manifests import TransferManifest
from custody.parties import WGS84Point
from custody.sightings import PlateRead
from custody.tracks import GpsFix
from routes import corridor
from routes.checkpoints import SnappedCheckpoint, snap
from routes.coords import to_wgs84
from routes.corridor import plan_trip
from routes.model import Severity
from routes.synthetic import drive, fastest_path
from routes.trips import (
    DEFAULT_TRANSIT,
    UNPLANNABLE,
    TrackPoints,
    check_manifests,
    declared_trip,
    fixes_from,
    track_from,
    trip_window,
    trip_windows,
)
from tests.conftest import DISPOSER_CODE, GENERATOR_CODE, TRANSPORTER_CODE
from tests.fakes.track_store import InMemoryTrackStore
from tests.routes.support import nearest_node

if TYPE_CHECKING:
    from collections.abc import Sequence

    from custody.alerts import Alert
    from routes.model import Fix
    from routes.network import RoadNetwork

PLATE = "川A12345"
WASTE = "900-041-49"
LOADED = datetime(2025, 3, 14, 1, 0, tzinfo=UTC)  # 09:00 in China
NUMBER = "20250314510100000001"
FONTVIEILLE = WGS84Point(lat=43.7292, lon=7.415)
MENTON = WGS84Point(lat=43.7700, lon=7.4860)
HARBOUR = 21911863  # a node of the route on the quay of Port Hercule, 38 m from the water
LA_TURBIE = (7.4005, 43.7458)  # up the hill, well off every plausible route


def drum(serial: int) -> str:
    return DigitalId(GENERATOR_CODE, WASTE, date(2025, 3, 14), serial).text


def manifest(number: str = NUMBER, **changes: object) -> TransferManifest:
    values: dict[str, object] = {
        "number": number,
        "generator": GENERATOR_CODE,
        "transporter": TRANSPORTER_CODE,
        "receiver": DISPOSER_CODE,
        "vehicles": (PLATE,),
        "waste_codes": (WASTE,),
        "containers": (drum(1), drum(2)),
        "declared_mass_g": 400_000,
        "created_at": LOADED - timedelta(days=1),
        "origin": FONTVIEILLE,
        "destination": MENTON,
        "depart_after": LOADED - timedelta(hours=1),
        "arrive_before": LOADED + timedelta(hours=3),
    }
    values.update(changes)
    return TransferManifest(**values)  # type: ignore[arg-type]


def event(
    step: Step, when: datetime, number: str | None = NUMBER, *, index: int, **fields: object
) -> Record:
    by = DISPOSER_CODE if step is Step.RECEIVING else TRANSPORTER_CODE
    giver = TRANSPORTER_CODE if step is Step.RECEIVING else GENERATOR_CODE
    containers = fields.pop("containers", (drum(1), drum(2)))
    assert isinstance(containers, tuple)
    made = CustodyEvent(
        event_id=str(uuid.UUID(int=index + 1)), step=step, containers=containers, party=by,
        device=f"{by}/1", counter=index + 1, event_time=when,
        prev=(NO_PREVIOUS,) * len(containers), counterparty=giver, manifest=number,
        **fields,  # type: ignore[arg-type]
    )  # fmt: skip
    digest = hashlib.sha256(made.to_cbor()).digest()
    return Record(index, when + timedelta(seconds=5), digest, made)


def ledger(delivered: datetime | None, number: str = NUMBER, first: int = 0) -> list[Record]:
    out = [event(Step.LOADING, LOADED, number, index=first, vehicle=PLATE)]
    if delivered is not None:
        out.append(event(Step.RECEIVING, delivered, number, index=first + 1))
    return out


class Sources:
    """What the stores would give: fixes and reads by plate, filtered to the window."""

    def __init__(self, fixes: Sequence[Fix] = (), reads: Sequence[PlateRead] = ()) -> None:
        self.track, self.plate_reads = list(fixes), list(reads)
        self.asked: list[tuple[str, datetime, datetime]] = []

    def fixes(self, plate: str, since: datetime, until: datetime) -> list[Fix]:
        self.asked.append((plate, since, until))
        return [f for f in self.track if plate == PLATE and since <= f.at <= until]

    def reads(self, plate: str, since: datetime, until: datetime) -> list[PlateRead]:
        return [r for r in self.plate_reads if r.plate == plate and since <= r.seen_at <= until]


@pytest.fixture(scope="module")
def route(monaco: RoadNetwork) -> list[int]:
    trip = declared_trip(manifest(), started=None, ended=None)
    assert trip is not None
    return plan_trip(monaco, trip).fastest


def run(
    monaco: RoadNetwork,
    fixes: Sequence[Fix],
    *,
    manifests: Sequence[TransferManifest] | None = None,
    records: Sequence[Record] | None = None,
    reads: Sequence[PlateRead] = (),
    checkpoints: Sequence[SnappedCheckpoint] = (),
) -> list[Alert]:
    sources = Sources(fixes, reads)
    delivered = max(f.at for f in fixes) + timedelta(minutes=2) if fixes else None
    return check_manifests(
        monaco, manifests or [manifest()], ledger(delivered) if records is None else records,
        checkpoints=checkpoints, reads=sources.reads, fixes=sources.fixes,
        as_of=LOADED + timedelta(hours=6),
    )  # fmt: skip


def test_a_clean_drive_raises_no_alert(monaco: RoadNetwork, route: list[int]) -> None:
    assert run(monaco, drive(monaco, route, LOADED, seed=1)) == []


def detour(monaco: RoadNetwork, route: list[int]) -> list[int]:
    up = nearest_node(monaco, *LA_TURBIE)
    there = fastest_path(monaco, route[0], route[20])[:-1]
    return there + fastest_path(monaco, route[20], up)[:-1] + fastest_path(monaco, up, route[-1])


def test_a_detour_is_an_off_route_alert_about_the_manifests_load(
    monaco: RoadNetwork, route: list[int]
) -> None:
    (alert,) = run(monaco, drive(monaco, detour(monaco, route), LOADED, seed=1))
    assert (alert.rule, alert.severity) == ("off-route", AlertSeverity.MEDIUM)
    assert alert.subject == f"{NUMBER}/off-route/{alert.start:%Y%m%dT%H%M%SZ}"
    assert alert.alert_id == alert_id("off-route", alert.subject)
    assert alert.containers == (drum(1), drum(2))
    assert alert.vehicle == PLATE
    assert alert.parties == (GENERATOR_CODE, TRANSPORTER_CODE, DISPOSER_CODE)
    assert alert.entries == (0, 1)  # the loading and the receipt
    assert alert.summary_zh.startswith("偏离申报路线走廊")
    assert LOADED < alert.start < alert.end
    facts = alert.facts
    assert facts["manifest"] == NUMBER
    assert facts["network"] == monaco.identity
    assert facts["thresholds"]["corridor_m"] == 50
    assert facts["observations"][0].startswith("fix@")
    assert facts["outside_m"] > 1000
    assert {"route", "corridor", "episode"} <= set(facts["layers"])
    lon, lat = facts["layers"]["episode"]["coordinates"][0]
    assert 7.3 < lon < 7.5  # WGS-84 degrees, not UTM metres
    assert 43.7 < lat < 43.8


def test_a_long_stop_on_the_harbour_quay_is_a_dwell(monaco: RoadNetwork, route: list[int]) -> None:
    stop = route.index(HARBOUR)
    fixes = drive(monaco, route, LOADED, seed=1, stops=[(stop, 30 * 60)])
    (alert,) = run(monaco, fixes)
    assert (alert.rule, alert.subject) == ("dwell", f"{NUMBER}/dwell/{alert.start:%Y%m%dT%H%M%SZ}")
    assert alert.severity is Severity.MEDIUM  # near water, on the road, inside the corridor
    assert "距海岸线" in alert.summary_zh
    assert alert.facts["water"]["kind"] == "coastline"
    assert alert.facts["duration_s"] == pytest.approx(30 * 60, abs=60)
    assert alert.containers == (drum(1), drum(2))


def test_alert_ids_name_each_finding_by_its_start_and_are_stable(
    monaco: RoadNetwork, route: list[int]
) -> None:
    quay, later = route.index(HARBOUR), len(route) // 2
    fixes = drive(monaco, route, LOADED, seed=1, stops=[(quay, 25 * 60), (later, 25 * 60)])
    first = run(monaco, fixes)
    assert [a.subject for a in first] == [f"{NUMBER}/dwell/{a.start:%Y%m%dT%H%M%SZ}" for a in first]
    assert first[0].start < first[1].start
    corridor._cache.clear()  # planned afresh, observations in another order
    again = run(monaco, list(reversed(fixes)))
    assert [a.alert_id for a in again] == [a.alert_id for a in first]
    assert [a.to_json() for a in again] == [a.to_json() for a in first]


def test_a_manifest_whose_origin_is_off_every_road_is_unplannable(
    monaco: RoadNetwork, route: list[int]
) -> None:
    at_sea = manifest(origin=WGS84Point(lat=43.70, lon=7.43))  # 3 km out from the harbour
    trip = declared_trip(at_sea, started=None, ended=None)
    assert trip is not None
    with pytest.raises(CoordinateInvalid):  # what check_trip itself would say
        plan_trip(monaco, trip)
    (alert,) = run(monaco, drive(monaco, route, LOADED, seed=1), manifests=[at_sea])
    assert (alert.rule, alert.severity) == (UNPLANNABLE, AlertSeverity.INFO)
    assert alert.subject == f"{NUMBER}/route-unplannable/1"  # no start: counted
    assert alert.facts["place"] == "origin"
    assert alert.summary_zh == (
        f"联单 {NUMBER} 的申报起点（7.430000, 43.700000）距路网中所有连通道路超过 1000 米，"
        "无法规划路线，未做路线核查。"
    )
    assert alert.containers == (drum(1), drum(2))


def test_reads_at_checkpoints_become_sightings_and_unknown_gates_are_listed(
    monaco: RoadNetwork, route: list[int]
) -> None:
    eze = snap(monaco, "EZE", "埃兹海滨卡口", "anpr_gate", 7.36394, 43.72270)  # far west
    fixes = drive(monaco, route, LOADED, seed=1)
    seen = LOADED + timedelta(minutes=5)
    reads = [PlateRead("EZE", PLATE, seen, 0.97), PlateRead("NOWHERE", PLATE, seen, 0.9),
             PlateRead("EZE", "川B54321", seen, 0.9)]  # fmt: skip  # another truck
    alerts = run(monaco, fixes, reads=reads, checkpoints=[eze])
    sighting = next(a for a in alerts if a.rule == "off-route-sighting")
    assert sighting.subject == f"{NUMBER}/off-route-sighting/{seen:%Y%m%dT%H%M%SZ}"
    assert sighting.severity is AlertSeverity.HIGH
    assert sighting.facts["observations"] == [f"anpr:EZE:{PLATE}@{seen.isoformat()}"]
    assert sighting.facts["unplaced_reads"] == [f"anpr:NOWHERE:{PLATE}@{seen.isoformat()}"]
    assert sighting.facts["layers"]["checkpoint"]["type"] == "Point"


def test_a_scan_at_a_checkpoint_in_the_ledger_is_a_sighting(monaco: RoadNetwork) -> None:
    eze = snap(monaco, "EZE", "埃兹海滨卡口", "anpr_gate", 7.36394, 43.72270)
    records = [*ledger(None), event(Step.PASSING, LOADED + timedelta(minutes=5), index=7,
                                    read_point="EZE")]  # fmt: skip
    (alert,) = run(monaco, [], records=records, checkpoints=[eze])
    assert alert.rule == "off-route-sighting"
    assert alert.facts["observations"] == ["ledger:7"]
    assert alert.entries == (0, 7)


def test_trips_of_one_vehicle_in_overlapping_windows_are_checked_each_on_its_own(
    monaco: RoadNetwork, route: list[int]
) -> None:
    fixes = drive(monaco, detour(monaco, route), LOADED, seed=1)
    delivered = fixes[-1].at + timedelta(minutes=2)
    other = "20250314510100000002"
    records = [*ledger(delivered), *ledger(delivered, other, first=2)]
    both = [manifest(other, containers=(drum(3),)), manifest()]
    alerts = run(monaco, fixes, manifests=both, records=records)
    assert [(a.subject.split("/")[0], a.containers) for a in alerts] == [
        (NUMBER, (drum(1), drum(2))),
        (other, (drum(3),)),
    ]  # by manifest number
    assert [a.entries for a in alerts] == [(0, 1), (2, 3)]


def test_a_trip_not_started_by_as_of_or_without_places_is_not_checked(
    monaco: RoadNetwork, route: list[int]
) -> None:
    fixes = drive(monaco, detour(monaco, route), LOADED, seed=1)
    assert run(monaco, fixes, records=[]) == []  # never loaded
    no_places = manifest(origin=None, destination=None)
    assert declared_trip(no_places, started=LOADED, ended=None) is None
    assert run(monaco, fixes, manifests=[no_places]) == []
    sources = Sources(fixes)
    early = check_manifests(monaco, [manifest()], ledger(None), fixes=sources.fixes,
                            as_of=LOADED - timedelta(minutes=1))  # fmt: skip
    assert early == []
    assert sources.asked == []


def test_observations_are_asked_for_up_to_as_of_while_the_trip_runs(monaco: RoadNetwork) -> None:
    sources = Sources()
    as_of = LOADED + timedelta(minutes=30)
    check_manifests(monaco, [manifest()], ledger(None), fixes=sources.fixes, as_of=as_of)
    assert sources.asked == [(PLATE, LOADED, as_of)]


def test_the_window_runs_from_loading_to_receipt_or_deadline_or_a_day() -> None:
    received = LOADED + timedelta(minutes=40)
    assert trip_window(manifest(), ledger(received)) == (LOADED, received)
    assert trip_window(manifest(), ledger(None)) == (LOADED, LOADED + timedelta(hours=3))
    open_ended = manifest(depart_after=None, arrive_before=None)
    assert trip_window(open_ended, ledger(None)) == (LOADED, LOADED + DEFAULT_TRANSIT)
    assert timedelta(hours=24) == DEFAULT_TRANSIT
    assert trip_window(manifest(), []) is None
    assert trip_window(manifest(), ledger(received, "20250314510100000009")) is None


def test_a_receipt_that_names_no_manifest_ends_the_trip_of_its_containers() -> None:
    received = LOADED + timedelta(minutes=40)
    loose = event(Step.RECEIVING, received, None, index=1)
    assert trip_window(manifest(), [*ledger(None), loose]) == (LOADED, received)
    before = event(Step.RECEIVING, LOADED - timedelta(hours=1), None, index=2)
    assert trip_window(manifest(), [*ledger(None), before]) == (
        LOADED,
        LOADED + timedelta(hours=3),
    )


def test_the_declared_trip_takes_the_manifests_places_and_times() -> None:
    trip = declared_trip(manifest(), started=LOADED, ended=LOADED + timedelta(hours=1))
    assert trip is not None
    assert (trip.trip_id, trip.vehicle) == (NUMBER, PLATE)
    assert (trip.origin.lon, trip.origin.lat) == (7.415, 43.7292)
    assert (trip.destination.lon, trip.destination.lat) == (7.4860, 43.7700)
    assert trip.depart_after == LOADED - timedelta(hours=1)
    assert trip.arrive_before == LOADED + timedelta(hours=3)
    silent = declared_trip(manifest(depart_after=None, arrive_before=None), started=LOADED,
                           ended=LOADED + timedelta(hours=1))  # fmt: skip
    assert silent is not None
    assert (silent.depart_after, silent.arrive_before) == (LOADED, LOADED + timedelta(hours=1))


def test_route_findings_and_alerts_share_one_severity() -> None:
    assert Severity is AlertSeverity
    assert Severity("high").zh == "高"


def test_windows_of_a_page_of_manifests_are_each_manifests_window() -> None:
    received = LOADED + timedelta(minutes=40)
    other = "20250314510100000002"
    records = [*ledger(received), *ledger(None, other, first=10)]
    manifests = [manifest(), manifest(other), manifest("20250314510100000009")]
    assert trip_windows(manifests, records) == {
        m.number: trip_window(m, records) for m in manifests
    }
    assert trip_windows(manifests, records)[other] == (LOADED, LOADED + timedelta(hours=3))


class LeanTrackStore(InMemoryTrackStore):
    """The fake with the SQL store's lean read, counting its use."""

    def __init__(self) -> None:
        super().__init__()
        self.lean_reads = 0

    def track_points(
        self, plate: str, start: datetime, end: datetime
    ) -> list[tuple[datetime, float, float, str, float]]:
        self.lean_reads += 1
        return [(f.fix_time, f.lon, f.lat, f.crs, f.speed_kmh)
                for f in self.fixes_for_plate(plate, start, end)]  # fmt: skip

    def track_positions(
        self, plate: str, start: datetime, end: datetime
    ) -> list[tuple[float, float, str]]:
        self.lean_reads += 1
        return [(f.lon, f.lat, f.crs) for f in self.fixes_for_plate(plate, start, end)]


def chengdu_fixes() -> list[GpsFix]:
    """Fixes in China (where GCJ-02 differs from WGS-84): WGS-84 and GCJ-02 ones, another plate."""
    return [
        GpsFix("13912344329", PLATE, LOADED + timedelta(seconds=30 * k), 30.65 + k / 1e4,
               104.06 + k / 1e4, crs="GCJ02" if k % 3 == 0 else "WGS84", speed_kmh=40.0 + k)
        for k in range(12)
    ] + [GpsFix("13800138000", "川A54321", LOADED, 30.6, 104.0)]  # fmt: skip


def test_a_store_with_a_lean_read_gives_the_same_fixes_and_track() -> None:
    plain, lean = InMemoryTrackStore(), LeanTrackStore()
    plain.add_fixes(chengdu_fixes())
    lean.add_fixes(chengdu_fixes())
    assert isinstance(lean, TrackPoints)
    assert not isinstance(plain, TrackPoints)
    end = LOADED + timedelta(minutes=5)  # the window's end is included: the fix at 5 min
    expected = fixes_from(plain)(PLATE, LOADED, end)
    assert len(expected) == 11
    assert fixes_from(lean)(PLATE, LOADED, end) == expected
    assert track_from(lean)(PLATE, LOADED, end) == [(f.lon, f.lat) for f in expected]
    assert track_from(plain)(PLATE, LOADED, end) == [(f.lon, f.lat) for f in expected]
    assert lean.lean_reads == 2


def test_fixes_given_in_gcj02_are_converted_and_wgs84_ones_kept() -> None:
    store = LeanTrackStore()
    given = chengdu_fixes()
    store.add_fixes(given)
    track = track_from(store)(PLATE, LOADED, LOADED + timedelta(hours=1))
    mine = [f for f in given if f.plate == PLATE]
    assert track == [to_wgs84(f.lon, f.lat, f.crs) for f in mine]
    assert track[1] == (mine[1].lon, mine[1].lat)
    assert track[0] != (mine[0].lon, mine[0].lat)  # GCJ-02 moved by some hundreds of metres

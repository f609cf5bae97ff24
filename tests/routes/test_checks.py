"""What the route checks must show, on the real Monaco network (issue #6).

A declared trip from the A8 at the western edge of the extract to a disposer in Menton: the
fastest legal route leaves the motorway for the hills above Monaco, runs down the Moyenne
Corniche through Roquebrune and ends in Menton, 15.7 km in 15 min at the dangerous-goods limits.
A loaded truck drives it in about 22 min (the trace in tests/routes/support.py).
"""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest

from routes import corridor
from routes.areas import SensitiveArea, load_areas
from routes.checkpoints import SnappedCheckpoint, snap
from routes.checks import TripReport, check_trip, gps_sigma
from routes.corridor import Plan, plan_trip
from routes.model import DeclaredTrip, Fix, Place, Severity, Sighting
from tests.routes.support import Journey, fastest, nearest_node, without

if TYPE_CHECKING:
    from collections.abc import Sequence

    from routes.network import RoadNetwork

DEPART = datetime(2024, 5, 7, 1, 30, tzinfo=UTC)  # 09:30 in China
TRIP = DeclaredTrip(
    "HW-2024-0507-01", "沪A·D1234",
    Place(7.3491, 43.7441, "A8 西端"), Place(7.4860, 43.7700, "芒通处置中心"),
)  # fmt: skip
GATES = [  # id, name, kind, lon, lat, bearing (the traffic the camera reads)
    ("A8-W", "A8 西卡口", "anpr_gate", 7.35343, 43.74384, 80.0),
    ("A8-T", "A8 收费站", "toll", 7.36212, 43.74502, 80.0),
    ("KENNEDY", "肯尼迪大道卡口", "anpr_gate", 7.44003, 43.75429, None),
    ("MENTON", "处置中心入口扫码", "scan_station", 7.48844, 43.76802, None),
    ("EZE", "埃兹海滨卡口", "anpr_gate", 7.36394, 43.72270, None),  # on the coast road
]  # fmt: skip


@pytest.fixture(scope="module")
def gates(monaco: RoadNetwork) -> dict[str, SnappedCheckpoint]:
    return {g[0]: snap(monaco, *g[:5], bearing_deg=g[5]) for g in GATES}


@pytest.fixture(scope="module")
def plan(monaco: RoadNetwork, gates: dict[str, SnappedCheckpoint]) -> Plan:
    return plan_trip(monaco, TRIP, list(gates.values()))


def journey(monaco: RoadNetwork, plan: Plan) -> Journey:
    return Journey(monaco, DEPART).drive(plan.fastest)


def reads(trip: Journey, gates: dict[str, SnappedCheckpoint], *names: str) -> list[Sighting]:
    return [trip.sighting(gates[name], ref=f"anpr-{name}") for name in names]


def check(
    monaco: RoadNetwork,
    gates: dict[str, SnappedCheckpoint],
    *,
    sightings: Sequence[Sighting] = (),
    fixes: Sequence[Fix] = (),
) -> TripReport:
    return check_trip(monaco, TRIP, checkpoints=list(gates.values()), sightings=sightings,
                      fixes=fixes)  # fmt: skip


def test_the_plan_expects_the_unavoidable_gates_in_order(plan: Plan) -> None:
    # KENNEDY is on the fastest route, but the Basse Corniche and Grande Corniche go round it.
    assert plan.expected == ["A8-W", "A8-T", "MENTON"]


def test_a_trip_along_the_planned_road_is_clean(
    monaco: RoadNetwork, plan: Plan, gates: dict[str, SnappedCheckpoint]
) -> None:
    trip = journey(monaco, plan)
    report = check(monaco, gates, fixes=trip.fixes(),
                   sightings=reads(trip, gates, "A8-W", "A8-T", "KENNEDY", "MENTON"))  # fmt: skip
    assert report.findings == []
    assert len(report.track) == 45  # 22 min of 30 s fixes, none dropped


@pytest.mark.parametrize("sigma", [10, 20, 30])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_noisy_gps_along_the_planned_road_raises_no_false_alarm(
    monaco: RoadNetwork, plan: Plan, gates: dict[str, SnappedCheckpoint], sigma: int, seed: int
) -> None:
    trip = journey(monaco, plan)
    report = check(monaco, gates, fixes=trip.fixes(30, sigma, seed),
                   sightings=reads(trip, gates, "A8-W", "A8-T", "MENTON"))  # fmt: skip
    assert report.findings == []


def test_a_detour_down_to_the_coast_is_off_route_with_its_length(
    monaco: RoadNetwork, plan: Plan
) -> None:
    f = plan.fastest
    coast = nearest_node(monaco, 7.35542, 43.72164)  # the Basse Corniche towards Èze-sur-Mer
    driven = fastest(monaco, f[0], f[5], coast, f[25], f[-1])
    outside = sum(monaco.edge(u, v)["geometry"].difference(plan.corridor).length
                  for u, v in itertools.pairwise(driven))  # fmt: skip
    assert outside > 10_000  # down from the A8 exit to the sea and back up: 11.3 km outside
    report = check_trip(monaco, TRIP, fixes=Journey(monaco, DEPART).drive(driven).fixes())
    (finding,) = report.findings
    assert (finding.rule, finding.severity) == ("off-route", Severity.MEDIUM)
    assert finding.facts["outside_m"] == pytest.approx(outside, rel=0.15)
    assert finding.facts["outside_chords_m"] < outside  # straight lines cut the bends
    assert "M 6098 Basse Corniche" in finding.facts["roads"]
    assert finding.facts["max_from_corridor_m"] > 1000
    assert f"走廊外行驶约 {finding.facts['outside_m'] / 1000:.1f} 公里" in finding.summary_zh


def test_a_teleport_between_two_checkpoints_is_impossible_travel(
    monaco: RoadNetwork, gates: dict[str, SnappedCheckpoint]
) -> None:
    sightings = [Sighting("A8-T", DEPART, ref="anpr-1"),
                 Sighting("MENTON", DEPART + timedelta(minutes=5), ref="scan-2")]  # fmt: skip
    report = check(monaco, gates, sightings=sightings)
    (finding,) = report.findings
    assert finding.rule == "impossible-travel"
    assert finding.facts["legal_m"] == pytest.approx(13_900, rel=0.01)
    assert finding.facts["implied_kmh"] > 150
    assert "而非绕行" in finding.summary_zh
    assert finding.observations == ("anpr-1", "scan-2")


@pytest.fixture(scope="module")
def stream_zone(monaco: RoadNetwork) -> SensitiveArea:
    lon, lat, d = 7.45464, 43.76200, 0.002  # where a stream crosses the route below Roquebrune
    ring = [[lon - d, lat - d], [lon + d, lat - d], [lon + d, lat + d], [lon - d, lat + d],
            [lon - d, lat - d]]  # fmt: skip
    zone = {"name": "戈尔比奥溪水源地", "kind": "drinking_water_source"}
    layer = {"type": "FeatureCollection", "features": [{
        "type": "Feature", "properties": zone,
        "geometry": {"type": "Polygon", "coordinates": [ring]}}]}  # fmt: skip
    return load_areas(layer, monaco)[0]


def test_a_stop_in_a_protection_zone_is_a_dwell_with_its_duration_and_area(
    monaco: RoadNetwork, plan: Plan, stream_zone: SensitiveArea
) -> None:
    f = plan.fastest
    k = f.index(nearest_node(monaco, 7.4545, 43.7617))  # 30 m from the stream
    trip = Journey(monaco, DEPART).drive(f[: k + 1]).stop(41 * 60).drive(f[k:])
    report = check_trip(monaco, TRIP, fixes=trip.fixes(30, 10, 7), areas=[stream_zone])
    (finding,) = report.findings
    assert (finding.rule, finding.severity) == ("dwell", Severity.HIGH)
    assert finding.facts["duration_s"] == pytest.approx(41 * 60, abs=60)
    assert finding.facts["areas"] == [{"name": "戈尔比奥溪水源地", "kind": "drinking_water_source"}]
    assert finding.facts["water"]["kind"] == "stream"
    assert finding.facts["in_corridor"] is True
    assert finding.summary_zh.startswith("停车 4")  # 40 or 41 minutes between the fixes
    assert "距溪流" in finding.summary_zh
    assert finding.summary_zh.endswith(
        "位于申报路线走廊内，位于饮用水水源保护区「戈尔比奥溪水源地」内。"
    )


def test_a_silent_terminal_is_a_gps_gap(monaco: RoadNetwork, plan: Plan) -> None:
    fixes = journey(monaco, plan).fixes()
    silent = without(fixes, DEPART + timedelta(minutes=5), DEPART + timedelta(minutes=17))
    (finding,) = check_trip(monaco, TRIP, fixes=silent).findings
    assert finding.rule == "gps-gap"
    assert finding.facts["silent_s"] == pytest.approx(12.5 * 60, abs=31)
    assert finding.facts["apart_m"] > 3000
    assert "GPS 终端静默 13 分钟（09:34–09:47）" in finding.summary_zh


def test_a_read_on_the_coast_road_is_an_off_route_sighting(
    monaco: RoadNetwork, gates: dict[str, SnappedCheckpoint]
) -> None:
    report = check(monaco, gates, sightings=[Sighting("EZE", DEPART, ref="anpr-9")])
    (finding,) = report.findings
    assert (finding.rule, finding.severity) == ("off-route-sighting", Severity.HIGH)
    assert "最快路线 15.7 公里 / 15 分钟；经该点" in finding.summary_zh
    assert "埃兹海滨卡口（M 6098 Basse Corniche）" in finding.summary_zh
    assert finding.facts["via_s"] > finding.facts["budget_s"]
    assert finding.layers["via_route"]["type"] == "LineString"


def test_a_missing_toll_read_between_the_a8_and_menton_is_flagged(
    monaco: RoadNetwork, plan: Plan, gates: dict[str, SnappedCheckpoint]
) -> None:
    trip = journey(monaco, plan)
    report = check(monaco, gates, sightings=reads(trip, gates, "A8-W", "KENNEDY", "MENTON"))
    (finding,) = report.findings
    assert (finding.rule, finding.severity) == ("missing-checkpoint", Severity.LOW)
    assert [m["id"] for m in finding.facts["missing"]] == ["A8-T"]
    assert finding.facts["miss_probability"] == pytest.approx(0.1)  # 09:30 is daytime
    assert "A8 收费站（A 8 La Provençale）" in finding.summary_zh


def everything(
    monaco: RoadNetwork, plan: Plan, gates: dict[str, SnappedCheckpoint]
) -> dict[str, list[Any]]:
    f = plan.fastest
    coast = nearest_node(monaco, 7.35542, 43.72164)
    trip = Journey(monaco, DEPART).drive(fastest(monaco, f[0], f[5], coast))
    trip.stop(30 * 60).drive(fastest(monaco, coast, f[25], f[-1]))
    fixes = without(trip.fixes(30, 15, 3), DEPART + timedelta(minutes=50),
                    DEPART + timedelta(minutes=60))  # fmt: skip
    return {"fixes": fixes, "sightings": reads(trip, gates, "A8-W", "A8-T", "EZE", "MENTON")}


def test_the_same_inputs_give_byte_identical_findings(
    monaco: RoadNetwork, plan: Plan, gates: dict[str, SnappedCheckpoint]
) -> None:
    observed = everything(monaco, plan, gates)
    findings = check(monaco, gates, **observed).findings
    assert [f.rule for f in findings] == [
        "off-route",
        "off-route-sighting",
        "unexplained-time",
        "dwell",
        "gps-gap",
    ]  # in time order: out at 09:39, read at EZE 09:45, stopped 09:46, silent 10:19
    first = [f.to_json() for f in findings]
    corridor._cache.clear()  # planned afresh ...
    shuffled = {k: random.Random(5).sample(v, len(v)) for k, v in observed.items()}  # noqa: S311  # a fixed shuffle
    second = [f.to_json() for f in check(monaco, gates, **shuffled).findings]  # ... in any order
    assert first == second
    assert all(monaco.identity in line for line in first)


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_a_very_noisy_terminal_widens_the_corridor_instead_of_raising_false_alarms(
    monaco: RoadNetwork, plan: Plan, gates: dict[str, SnappedCheckpoint], seed: int
) -> None:
    trip = journey(monaco, plan)
    fixes = trip.fixes(30, 45, seed)
    sigma = gps_sigma(monaco, fixes)  # measured from the track; it reads low in dense streets
    assert sigma > 10
    report = check(monaco, gates, fixes=fixes)
    assert [f.rule for f in report.findings if f.rule == "off-route"] == []
    assert report.plan.thresholds.corridor_m == max(50, min(150, round(3 * sigma, 1)))


def test_a_clean_terminal_keeps_the_default_corridor(
    monaco: RoadNetwork, plan: Plan, gates: dict[str, SnappedCheckpoint]
) -> None:
    trip = journey(monaco, plan)
    report = check(monaco, gates, fixes=trip.fixes(30, 5, 1))
    assert report.plan.thresholds.corridor_m == 50

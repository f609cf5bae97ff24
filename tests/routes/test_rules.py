"""Each route rule on small hand-made cases in the made-up town (see tests/routes/support.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest

from custody.errors import PartyNotFound
from routes.areas import SensitiveArea, load_areas
from routes.checkpoints import SnappedCheckpoint, snap
from routes.checks import (
    check_trip,
    clean_track,
    dwells,
    gps_gaps,
    impossible_travel,
    missing_checkpoints,
    off_route,
    off_route_sighting,
    stay_points,
    unexplained_time,
)
from routes.corridor import Plan, plan_trip
from routes.model import DeclaredTrip, Fix, Severity, Sighting, Thresholds
from tests.routes.support import Journey, at, place, town, without

if TYPE_CHECKING:
    from routes.network import RoadNetwork

DAY = datetime(2024, 5, 6, 2, 0, tzinfo=UTC)  # 10:00 in China
NIGHT = datetime(2024, 5, 6, 15, 0, tzinfo=UTC)  # 23:00 in China
TRIP = DeclaredTrip("HW-1", "川A12345", place(-10, -20, "化工厂"), place(3990, -20, "处置中心"),
                    authorised_stops=(place(1000, 20, "服务区"),))  # fmt: skip
SPOTS = {
    "G1": (250, 8), "G2": (750, 8), "MID": (1500, 8), "BACK": (2000, 608),
    "G3": (3250, 8), "G4": (3750, 8), "UPPER": (2008, -1500), "QUARRY": (2008, -4500),
}  # fmt: skip


@pytest.fixture(scope="module")
def small() -> RoadNetwork:
    return town()


@pytest.fixture(scope="module")
def gates(small: RoadNetwork) -> dict[str, SnappedCheckpoint]:
    return {name: snap(small, name, f"{name} 卡口", "anpr_gate", *at(*xy))
            for name, xy in SPOTS.items()}  # fmt: skip


@pytest.fixture(scope="module")
def plan(small: RoadNetwork, gates: dict[str, SnappedCheckpoint]) -> Plan:
    return plan_trip(small, TRIP, list(gates.values()))


@pytest.fixture(scope="module")
def zone(small: RoadNetwork) -> SensitiveArea:
    x, y = 2000, -3200
    ring = [at(x - 300, y - 300), at(x + 300, y - 300), at(x + 300, y + 300),
            at(x - 300, y + 300), at(x - 300, y - 300)]  # fmt: skip
    layer = {"type": "Feature", "properties": {"name": "清溪水源地", "kind": "饮用水水源保护区"},
             "geometry": {"type": "Polygon", "coordinates": [[list(p) for p in ring]]}}  # fmt: skip
    return load_areas(layer, small)[0]


def seen(
    gates: dict[str, SnappedCheckpoint], name: str, when: datetime
) -> tuple[SnappedCheckpoint, Sighting]:
    return gates[name], Sighting(name, when, ref=f"read-{name}")


def fixes_at(
    points: list[tuple[float, float]], start: datetime = DAY, step: float = 30
) -> list[Fix]:
    return [Fix(start + timedelta(seconds=i * step), *at(x, y)) for i, (x, y) in enumerate(points)]


def main_road(start: float, stop: float, count: int, y: float = 0) -> list[tuple[float, float]]:
    return [(start + (stop - start) * i / (count - 1), y) for i in range(count)]


# -- off-route-sighting ----------------------------------------------------------------------------


def test_a_read_on_a_road_no_plausible_trip_takes_is_off_route(
    small: RoadNetwork, plan: Plan, gates: dict[str, SnappedCheckpoint]
) -> None:
    finding = off_route_sighting(small, plan, *seen(gates, "QUARRY", DAY))
    assert finding is not None
    assert (finding.rule, finding.severity) == ("off-route-sighting", Severity.HIGH)
    assert finding.facts["via_m"] == pytest.approx(16_000, rel=0.002)  # down to 10 and back
    assert finding.facts["via_s"] == pytest.approx(960, rel=0.002)
    assert finding.facts["extra_ratio"] == pytest.approx(3.0, rel=0.01)
    assert (
        "最快路线 4.0 公里 / 4.0 分钟；经该点 16.0 公里 / 16 分钟（+300 %）" in finding.summary_zh
    )
    assert "fastest 4.0 km / 4.0 min; via QUARRY 卡口 16.0 km / 16 min (+300 %)" in finding.summary
    assert finding.summary_zh.startswith("10:00 在QUARRY 卡口（Quarry Road）识别到本车")
    assert finding.observations == ("read-QUARRY",)
    assert finding.thresholds == {"detour_eps": 0.3, "detour_slack_s": 120.0}
    assert {"route", "via_route", "checkpoint"} <= finding.layers.keys()


def test_a_read_just_beyond_the_budget_is_off_route_and_one_within_it_is_not(
    small: RoadNetwork, plan: Plan, gates: dict[str, SnappedCheckpoint]
) -> None:
    upper = off_route_sighting(small, plan, *seen(gates, "UPPER", DAY))  # 624 s against 432 s
    assert upper is not None
    assert "+160 %" in upper.summary
    for name in ("G1", "MID", "BACK"):  # on the route, or on a plausible variant
        assert off_route_sighting(small, plan, *seen(gates, name, DAY)) is None, name


# -- impossible-travel and unexplained-time ------------------------------------------------------


def test_two_reads_too_close_in_time_are_impossible_travel(
    small: RoadNetwork, plan: Plan, gates: dict[str, SnappedCheckpoint]
) -> None:
    # G1 to G4 is 3.5 km of 60 km/h road: 210 s; the limit is 210 / 1.15 - 60 = 122.6 s.
    finding = impossible_travel(small, plan, seen(gates, "G1", DAY),
                                seen(gates, "G4", DAY + timedelta(seconds=60)))  # fmt: skip
    assert finding is not None
    assert (finding.rule, finding.severity) == ("impossible-travel", Severity.MEDIUM)
    assert finding.facts["legal_m"] == pytest.approx(3500, rel=0.002)
    assert finding.facts["legal_s"] == pytest.approx(210, rel=0.002)
    assert finding.facts["implied_kmh"] == pytest.approx(210, rel=0.002)
    assert "隐含平均速度 210 公里/小时" in finding.summary_zh
    assert "车牌误识、套牌或时钟错误，而非绕行" in finding.summary_zh
    assert "not a diversion" in finding.summary
    assert finding.observations == ("read-G1", "read-G4")
    assert impossible_travel(small, plan, seen(gates, "G1", DAY),
                             seen(gates, "G4", DAY + timedelta(seconds=123))) is None  # fmt: skip


def test_two_reads_at_the_same_moment_far_apart_are_impossible(
    small: RoadNetwork, plan: Plan, gates: dict[str, SnappedCheckpoint]
) -> None:
    finding = impossible_travel(small, plan, seen(gates, "G4", DAY), seen(gates, "G1", DAY))
    assert finding is not None
    assert finding.facts["implied_kmh"] is None
    assert "两次记录时间相同" in finding.summary_zh


def test_reads_far_apart_in_time_leave_time_unexplained(
    small: RoadNetwork, plan: Plan, gates: dict[str, SnappedCheckpoint]
) -> None:
    # Allowed: 210 s x 1.5 + 30 min = 2115 s.
    finding = unexplained_time(small, plan, seen(gates, "G1", DAY),
                               seen(gates, "G4", DAY + timedelta(seconds=2400)))  # fmt: skip
    assert finding is not None
    assert (finding.rule, finding.severity) == ("unexplained-time", Severity.MEDIUM)
    assert finding.facts["allowed_s"] == pytest.approx(2115, rel=0.002)
    assert finding.facts["unexplained_s"] == pytest.approx(2190, rel=0.002)
    assert "允许 35 分钟（1.5 倍加 30 分钟）。有 36 分钟无法由行驶解释" in finding.summary_zh
    assert finding.thresholds == {"slow_factor": 1.5, "slow_allowance_s": 1800.0}
    assert unexplained_time(small, plan, seen(gates, "G1", DAY),
                            seen(gates, "G4", DAY + timedelta(seconds=2100))) is None  # fmt: skip


# -- missing-checkpoint --------------------------------------------------------------------------


def test_two_unavoidable_gates_missed_by_day_are_an_alert(
    small: RoadNetwork, plan: Plan, gates: dict[str, SnappedCheckpoint]
) -> None:
    reads = [Sighting("G1", DAY, ref="r1"), Sighting("G4", DAY + timedelta(minutes=5), ref="r4")]
    (finding,) = missing_checkpoints(small, plan, gates, reads)
    assert (finding.rule, finding.severity) == ("missing-checkpoint", Severity.HIGH)
    assert [m["id"] for m in finding.facts["missing"]] == ["G2", "G3"]
    assert finding.facts["miss_probability"] == pytest.approx(0.01)  # 10 % x 10 %
    assert "车辆经过却未被识别的概率为 1.0 %" in finding.summary_zh
    assert finding.observations == ("r1", "r4")


def test_one_gate_missed_is_weak_evidence_and_weaker_by_night(
    small: RoadNetwork, plan: Plan, gates: dict[str, SnappedCheckpoint]
) -> None:
    for start, chance in ((DAY, 0.1), (NIGHT, 0.2)):
        reads = [Sighting("G1", start), Sighting("G2", start + timedelta(seconds=40)),
                 Sighting("G4", start + timedelta(minutes=5))]  # fmt: skip
        (finding,) = missing_checkpoints(small, plan, gates, reads)
        assert finding.severity == Severity.LOW
        assert [m["id"] for m in finding.facts["missing"]] == ["G3"]
        assert finding.facts["miss_probability"] == pytest.approx(chance)
        assert f"{chance * 100:.0f} %" in finding.summary


def test_a_read_of_the_gate_in_its_window_counts_and_one_outside_does_not(
    small: RoadNetwork, plan: Plan, gates: dict[str, SnappedCheckpoint]
) -> None:
    ends = [Sighting("G1", DAY), Sighting("G2", DAY + timedelta(seconds=40)),
            Sighting("G4", DAY + timedelta(minutes=5))]  # fmt: skip
    in_window = Sighting("G3", DAY + timedelta(minutes=4))
    assert missing_checkpoints(small, plan, gates, [*ends, in_window]) == []
    early = Sighting("G3", DAY - timedelta(hours=1))
    (finding,) = missing_checkpoints(small, plan, gates, [*ends, early])
    window = finding.facts["missing"][0]
    # G2 -> G3 is 2.5 km (150 s), G3 -> G4 0.5 km (30 s): both shortened by 15 %, widened by 60 s.
    start = datetime.fromisoformat(window["window_start"]) - DAY
    end = datetime.fromisoformat(window["window_end"]) - DAY
    assert start.total_seconds() == pytest.approx(40 + 150 / 1.15 - 60, abs=0.2)
    assert end.total_seconds() == pytest.approx(300 - 30 / 1.15 + 60, abs=0.2)


def test_no_finding_without_reads_on_both_sides(
    small: RoadNetwork, plan: Plan, gates: dict[str, SnappedCheckpoint]
) -> None:
    assert missing_checkpoints(small, plan, gates, [Sighting("G1", DAY)]) == []
    assert missing_checkpoints(small, plan, gates, [Sighting("MID", DAY),
                                                    Sighting("G4", DAY)]) == []  # fmt: skip


# -- the GPS track ---------------------------------------------------------------------------------


def test_the_track_is_sorted_deduplicated_and_rid_of_glitches(small: RoadNetwork) -> None:
    fixes = fixes_at(main_road(0, 2000, 9))
    glitch = Fix(fixes[4].at, *at(1000, 5000))  # a second report at the same time, far away
    spike = Fix(fixes[6].at + timedelta(seconds=15), *at(1500, 3000))  # 3 km off in 15 s
    cleaned = clean_track(small, [*reversed(fixes), glitch, spike, fixes[2]])
    assert cleaned == fixes


def test_a_jump_between_two_long_runs_is_kept(small: RoadNetwork) -> None:
    before = fixes_at(main_road(0, 1000, 5))
    after = fixes_at(main_road(2000, 3000, 5, y=-6000), start=before[-1].at + timedelta(seconds=30))
    assert clean_track(small, before + after) == before + after  # evidence, not noise


def test_stay_points_follow_ye_et_al_with_a_running_centroid() -> None:
    xs = [0, 400, 800, 810, 790, 805, 800, 1200, 1600]
    ys = [0] * len(xs)
    seconds = [i * 600 for i in range(len(xs))]
    assert stay_points(xs, ys, seconds, radius=50, min_s=1200) == [(2, 7)]
    assert stay_points(xs, ys, seconds, radius=50, min_s=3000) == []


# -- off-route -------------------------------------------------------------------------------------


def test_a_trip_down_the_quarry_road_and_back_is_an_off_route_episode(
    small: RoadNetwork, plan: Plan
) -> None:
    journey = Journey(small, DAY).drive([1, 2, 3, 9, 3, 4, 5])
    (finding,) = off_route(small, plan, journey.fixes())
    assert (finding.rule, finding.severity) == ("off-route", Severity.MEDIUM)
    assert finding.facts["outside_m"] == pytest.approx(2 * 3150, rel=0.02)
    assert finding.facts["max_from_corridor_m"] == pytest.approx(3150, abs=150)  # a fix near 9
    assert finding.facts["roads"] == ["Quarry Road"]
    assert finding.facts["return_at"] is not None
    assert "经Quarry Road驶出走廊" in finding.summary_zh
    assert "经Quarry Road返回；走廊外行驶约 6.4 公里，最远偏离走廊 3.1 公里，途经Quarry Road。" in (
        finding.summary_zh
    )
    assert "back by Quarry Road at" in finding.summary
    assert {"route", "corridor", "episode"} <= finding.layers.keys()
    assert finding.thresholds["off_route_min_fixes"] == 3


def test_an_episode_through_a_protection_zone_is_high(
    small: RoadNetwork, plan: Plan, zone: SensitiveArea
) -> None:
    journey = Journey(small, DAY).drive([1, 2, 3, 9, 3, 4, 5])
    (finding,) = off_route(small, plan, journey.fixes(), [zone])
    assert finding.severity == Severity.HIGH
    assert finding.facts["areas"] == ["清溪水源地"]
    assert "进入饮用水水源保护区「清溪水源地」" in finding.summary_zh
    assert "area" in finding.layers


def test_a_truck_still_outside_when_the_track_ends_is_said_so(
    small: RoadNetwork, plan: Plan
) -> None:
    (finding,) = off_route(small, plan, Journey(small, DAY).drive([1, 2, 3, 9]).fixes())
    assert finding.facts["return_at"] is None
    assert "轨迹结束时仍在走廊外" in finding.summary_zh


@pytest.mark.parametrize(
    ("points", "why"),
    [
        ([*main_road(0, 500, 3), (800, -200), (900, -200), *main_road(1200, 2000, 3)], "2 fixes"),
        ([*main_road(0, 500, 3), (800, -200), (800, -200), (800, -200), *main_road(1200, 2000, 3)],
         "3 fixes but 60 s apart only with a 20 s step"),
        ([*main_road(0, 500, 3), *main_road(600, 1800, 8, y=-90), *main_road(2000, 2500, 3)],
         "40 m outside the corridor: GPS noise along the road"),
    ],
)  # fmt: skip
def test_short_or_shallow_excursions_are_not_episodes(
    small: RoadNetwork, plan: Plan, points: list[tuple[float, float]], why: str
) -> None:
    step = 20 if "20 s" in why else 30
    assert off_route(small, plan, fixes_at(points, step=step)) == [], why


def test_a_parallel_drive_far_enough_out_is_an_episode(small: RoadNetwork, plan: Plan) -> None:
    points = [*main_road(0, 500, 3), *main_road(600, 1800, 8, y=-150), *main_road(2000, 2500, 3)]
    (finding,) = off_route(small, plan, fixes_at(points))
    assert finding.facts["max_from_corridor_m"] == pytest.approx(100, abs=2)


# -- dwell -----------------------------------------------------------------------------------------


def test_a_long_stop_by_the_stream_off_the_route_is_a_high_dwell(
    small: RoadNetwork, plan: Plan
) -> None:
    journey = Journey(small, DAY).drive([1, 2, 3, 9]).stop(41 * 60).drive([9, 3, 4, 5])
    (finding,) = dwells(small, plan, journey.fixes())
    assert (finding.rule, finding.severity) == ("dwell", Severity.HIGH)
    assert finding.facts["duration_s"] == pytest.approx(41 * 60, abs=30)
    assert finding.facts["water"]["name"] == "清溪"
    assert finding.facts["water"]["distance_m"] == pytest.approx(120, abs=2)
    assert finding.facts["in_corridor"] is False
    assert finding.summary_zh.startswith("停车 41 分钟（")
    assert "距清溪 120 米，距最近道路 0 米，位于申报路线走廊外 3.1 公里。" in finding.summary_zh
    assert "120 m from the 清溪 (stream), 0 m from the nearest road" in finding.summary
    assert {"stop", "water", "corridor"} <= finding.layers.keys()


def test_a_stop_in_a_protection_zone_names_it(
    small: RoadNetwork, plan: Plan, zone: SensitiveArea
) -> None:
    journey = Journey(small, DAY).drive([1, 2, 3, 9]).stop(25 * 60).drive([9, 3, 4, 5])
    (finding,) = dwells(small, plan, journey.fixes(), [zone])
    assert finding.facts["areas"] == [{"name": "清溪水源地", "kind": "drinking_water_source"}]
    assert finding.summary_zh.endswith("位于饮用水水源保护区「清溪水源地」内。")
    assert "area" in finding.layers


def test_a_stop_in_a_field_is_off_road(small: RoadNetwork, plan: Plan) -> None:
    points = [*main_road(0, 1500, 4), *[(1500, 400)] * 50, *main_road(1500, 4000, 6)]
    (finding,) = dwells(small, plan, fixes_at(points))
    assert finding.facts["off_road"] is True
    assert finding.facts["road_m"] == pytest.approx(200, abs=2)  # Back Street is 200 m north
    assert "距最近道路 200 米（道路外）" in finding.summary_zh
    assert finding.severity == Severity.MEDIUM  # off-road, but no water near


def test_a_stop_on_the_route_is_low(small: RoadNetwork, plan: Plan) -> None:
    points = [*main_road(0, 1500, 4), *[(2500, 0)] * 50, *main_road(2500, 4000, 4)]
    (finding,) = dwells(small, plan, fixes_at(points))
    assert finding.severity == Severity.LOW
    assert "位于申报路线走廊内" in finding.summary_zh


@pytest.mark.parametrize(("x", "y"), [(0, 0), (4000, 0), (1000, 0)])
def test_stops_at_declared_places_are_not_findings(
    small: RoadNetwork, plan: Plan, x: float, y: float
) -> None:
    assert dwells(small, plan, fixes_at([(x, y)] * 100)) == []  # origin, destination, 服务区


def test_a_short_stop_is_not_a_dwell(small: RoadNetwork, plan: Plan) -> None:
    journey = Journey(small, DAY).drive([1, 2, 3, 9]).stop(15 * 60).drive([9, 3, 4, 5])
    assert dwells(small, plan, journey.fixes()) == []


# -- gps-gap ---------------------------------------------------------------------------------------


def test_a_silent_terminal_is_a_gap_with_where_it_went_and_came_back(
    small: RoadNetwork, plan: Plan
) -> None:
    journey = Journey(small, DAY).drive([1, 2, 3, 9]).stop(40 * 60).drive([9, 3, 4, 5])
    fixes = without(journey.fixes(), DAY + timedelta(minutes=4), DAY + timedelta(minutes=30))
    (finding,) = gps_gaps(small, plan, fixes)
    assert (finding.rule, finding.severity) == ("gps-gap", Severity.MEDIUM)
    assert finding.facts["silent_s"] == pytest.approx(26.5 * 60, abs=31)
    assert finding.facts["next_place"]["road"] == "Quarry Road"
    assert finding.facts["next_in_corridor"] is False
    assert "GPS 终端静默 27 分钟" in finding.summary_zh
    assert "重新出现时位于申报路线走廊外" in finding.summary_zh
    assert finding.thresholds == {"gps_interval_s": 30.0, "gps_gap_factor": 10.0,
                                  "glitch_kmh": 200.0}  # fmt: skip


def test_a_gap_of_a_few_intervals_is_not_a_finding(small: RoadNetwork, plan: Plan) -> None:
    fixes = Journey(small, DAY).drive([1, 2, 3, 4, 5]).fixes()
    assert gps_gaps(small, plan, without(fixes, DAY + timedelta(seconds=31),
                                         DAY + timedelta(seconds=299))) == []  # fmt: skip


# -- the whole check -------------------------------------------------------------------------------


def test_a_sighting_at_an_unregistered_checkpoint_is_refused(
    small: RoadNetwork, gates: dict[str, SnappedCheckpoint]
) -> None:
    with pytest.raises(PartyNotFound, match="NOWHERE"):
        check_trip(small, TRIP, checkpoints=list(gates.values()),
                   sightings=[Sighting("NOWHERE", DAY)])  # fmt: skip


def test_repeated_reads_of_one_pass_count_once_and_findings_come_in_time_order(
    small: RoadNetwork, gates: dict[str, SnappedCheckpoint]
) -> None:
    later = DAY + timedelta(minutes=15)
    reads = [
        Sighting("G4", DAY + timedelta(hours=2)),
        Sighting("QUARRY", later),
        Sighting("G1", DAY + timedelta(seconds=20)),
        Sighting("G1", DAY),
    ]  # one pass at G1
    report = check_trip(small, TRIP, checkpoints=list(gates.values()), sightings=reads,
                        thresholds=Thresholds(slow_allowance_s=600))  # fmt: skip
    # G1 -> QUARRY is 6.25 km (375 s, allowed 1162 s); QUARRY -> G4 takes 105 min.
    assert [(f.rule, f.start) for f in report.findings] == [
        ("missing-checkpoint", DAY),
        ("off-route-sighting", later),
        ("unexplained-time", later),
    ]

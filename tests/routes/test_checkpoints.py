"""Checkpoints are snapped once, to the edge they watch, and refuse to be snapped far away."""

from __future__ import annotations

import pytest

from custody.errors import CoordinateInvalid, RecordInvalid
from routes.checkpoints import coverage, snap
from routes.network import RoadNetwork
from tests.routes.support import at, town


@pytest.fixture(scope="module")
def small() -> RoadNetwork:
    return town()


def test_a_gate_snaps_to_the_road_beside_it_with_offset_and_distance(small: RoadNetwork) -> None:
    gate = snap(small, "G1", "一号卡口", "anpr_gate", *at(250, 8))
    assert (gate.u, gate.v) == (1, 2)  # the nearer of two equal candidates, by node id
    assert gate.offset_m == pytest.approx(250, abs=1)
    assert gate.snap_m == pytest.approx(8, abs=0.5)
    assert gate.road == "S 101 Binjiang Road"
    assert (gate.lon, gate.lat) == at(250, 8)  # the registered coordinate is kept as given
    assert (gate.x, gate.y) == small.project(*at(250, 8))


def test_a_bearing_picks_the_direction_the_camera_reads(small: RoadNetwork) -> None:
    west = snap(small, "G1", "一号卡口", "anpr_gate", *at(250, 8), bearing_deg=270)
    assert (west.u, west.v) == (2, 1)
    assert west.offset_m == pytest.approx(750, abs=1)  # measured from u, now the east end


def test_a_camera_on_a_divided_motorway_watches_its_own_carriageway(monaco: RoadNetwork) -> None:
    gantry = (7.35982, 43.74467)  # over the A8, between its carriageways (about 10 m apart)
    plain = snap(monaco, "A8-G", "A8 gantry", "anpr_gate", *gantry)
    eastbound = snap(monaco, "A8-G", "A8 gantry", "anpr_gate", *gantry, bearing_deg=80)
    westbound = snap(monaco, "A8-G", "A8 gantry", "anpr_gate", *gantry, bearing_deg=260)
    assert eastbound.road == westbound.road == "A 8 La Provençale"
    assert (
        monaco.edge(eastbound.u, eastbound.v)["way"] != monaco.edge(westbound.u, westbound.v)["way"]
    )
    assert (plain.u, plain.v) == (eastbound.u, eastbound.v)  # no bearing: the nearer lanes
    assert westbound.snap_m > eastbound.snap_m
    assert len(coverage(monaco, eastbound)) == 1  # one way only: the other carriageway is apart


def test_a_gate_far_from_every_road_is_refused_unless_confirmed(small: RoadNetwork) -> None:
    with pytest.raises(CoordinateInvalid, match="80 m from the nearest road") as refused:
        snap(small, "G9", "稻田卡口", "anpr_gate", *at(500, -80))
    assert "须人工确认" in refused.value.zh
    confirmed = snap(small, "G9", "稻田卡口", "anpr_gate", *at(500, -80), confirmed=True)
    assert confirmed.snap_m == pytest.approx(80, abs=0.5)  # recorded, for the officer to weigh


def test_a_bearing_no_nearby_road_runs_is_refused(small: RoadNetwork) -> None:
    with pytest.raises(CoordinateInvalid, match="no road within 30 m running 0°"):
        snap(small, "G1", "一号卡口", "anpr_gate", *at(250, 8), bearing_deg=0)


def test_an_unknown_kind_of_checkpoint_is_refused(small: RoadNetwork) -> None:
    with pytest.raises(RecordInvalid, match="speed_camera"):
        snap(small, "G1", "测速", "speed_camera", *at(250, 8))


def test_a_coordinate_off_the_globe_is_refused(small: RoadNetwork) -> None:
    with pytest.raises(CoordinateInvalid):
        snap(small, "G1", "一号卡口", "anpr_gate", 200.0, 30.6)


def test_a_gate_on_a_two_way_road_watches_both_directions(small: RoadNetwork) -> None:
    gate = snap(small, "G1", "一号卡口", "anpr_gate", *at(250, 8))
    (own, twin) = coverage(small, gate)
    assert own == (1, 2, gate.offset_m)
    assert twin[:2] == (2, 1)
    assert twin[2] == pytest.approx(small.edge(1, 2)["length_m"] - gate.offset_m)


def test_a_gate_snapped_on_another_network_is_caught(small: RoadNetwork) -> None:
    gate = snap(small, "G1", "一号卡口", "anpr_gate", *at(250, 8))
    with pytest.raises(CoordinateInvalid, match="another road network"):
        coverage(town_without_main_road(), gate)


def town_without_main_road() -> RoadNetwork:
    nodes = {20: at(0, 0), 21: at(0, 1000)}
    return RoadNetwork.from_ways(nodes, [(7, [20, 21], {"highway": "residential"})])

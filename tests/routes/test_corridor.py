"""The plan of a declared trip: fastest route, plausible roads, corridor, expected checkpoints."""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING

import pytest
import shapely

from custody.errors import CoordinateInvalid
from routes.checkpoints import SnappedCheckpoint, snap
from routes.corridor import plan_trip
from routes.model import DeclaredTrip, Place, Thresholds
from tests.routes.support import at, place, town

if TYPE_CHECKING:
    from routes.network import RoadNetwork

TRIP = DeclaredTrip("HW-1", "川A12345", place(-10, -20, "化工厂"), place(3990, -20, "处置中心"))


@pytest.fixture(scope="module")
def small() -> RoadNetwork:
    return town()


def gates(network: RoadNetwork) -> list[SnappedCheckpoint]:
    spots = {
        "G1": (250, 8), "G2": (750, 8), "MID": (1500, 8), "BACK": (2000, 608),
        "G3": (3250, 8), "G4": (3750, 8), "QUARRY": (2008, -4500),
    }  # fmt: skip
    return [snap(network, name, name, "anpr_gate", *at(*xy)) for name, xy in spots.items()]


def test_the_fastest_legal_route_runs_along_the_main_road(small: RoadNetwork) -> None:
    plan = plan_trip(small, TRIP)
    assert (plan.origin, plan.destination) == (1, 5)
    assert plan.fastest == [1, 2, 3, 4, 5]
    assert plan.fastest_m == pytest.approx(4000, rel=0.001)
    assert plan.fastest_s == pytest.approx(240, rel=0.001)  # 4 km at the legal 60 km/h
    assert plan.budget_s == pytest.approx(1.3 * 240 + 120, rel=0.001)


def test_a_modest_detour_is_plausible_and_a_long_one_is_not(small: RoadNetwork) -> None:
    plan = plan_trip(small, TRIP)
    assert (2, 4) in plan.plausible  # Back Street: 312 s against a budget of 432 s
    assert (4, 2) not in plan.plausible  # ... but not driven backwards
    assert (3, 9) not in plan.plausible  # Quarry Road: 624 s
    assert not {(9, 10), (10, 9), (5, 11)} & plan.plausible
    assert set(zip(plan.fastest, plan.fastest[1:], strict=False)) <= plan.plausible


def test_the_via_cost_of_a_node_is_the_fastest_trip_through_it(small: RoadNetwork) -> None:
    plan = plan_trip(small, TRIP)
    assert plan.via_cost(3) == pytest.approx(240, rel=0.001)  # on the route
    assert plan.via_cost(9) == pytest.approx(624, rel=0.001)  # 3.2 km down and back
    assert plan.via_cost(11) == math.inf  # a dead end: no way on to the destination
    assert plan.via_edge_cost(3, 9) == pytest.approx(624, rel=0.001)
    assert plan.via_path(3, 9) == [1, 2, 3, 9, 3, 4, 5]


def test_the_corridor_follows_the_plausible_roads_at_its_width(small: RoadNetwork) -> None:
    plan = plan_trip(small, TRIP)
    for x, y, inside in [(1500, 45, True), (1500, 55, False), (2000, 640, True),
                         (2000, -200, False), (-10, -20, True)]:  # fmt: skip
        assert shapely.contains_xy(plan.corridor, *small.project(*at(x, y))) == inside, (x, y)
    wider = plan_trip(small, TRIP, thresholds=Thresholds(corridor_m=80))
    assert shapely.contains_xy(wider.corridor, *small.project(*at(1500, 55)))


def test_checkpoints_every_plausible_trip_passes_are_expected_in_route_order(
    small: RoadNetwork,
) -> None:
    plan = plan_trip(small, TRIP, list(reversed(gates(small))))
    # MID can be avoided by Back Street, BACK by the main road, QUARRY is off the route.
    assert plan.expected == ["G1", "G2", "G3", "G4"]


def test_a_tighter_budget_makes_the_back_street_implausible_and_mid_expected(
    small: RoadNetwork,
) -> None:
    strict = Thresholds(detour_eps=0.1, detour_slack_s=30)  # 1.1 x 240 + 30 = 294 s < 312 s
    plan = plan_trip(small, TRIP, gates(small), strict)
    assert (2, 4) not in plan.plausible
    assert plan.expected == ["G1", "G2", "MID", "G3", "G4"]


def test_waypoints_are_visited_in_order(small: RoadNetwork) -> None:
    trip = DeclaredTrip("HW-2", "川A12345", TRIP.origin, TRIP.destination,
                        waypoints=(place(2000, -3200, "中转站"),))  # fmt: skip
    upper = snap(small, "UPPER", "UPPER", "anpr_gate", *at(2008, -1500))
    plan = plan_trip(small, trip, [*gates(small), upper])
    assert plan.fastest == [1, 2, 3, 9, 3, 4, 5]
    assert plan.fastest_s == pytest.approx(240 + 2 * 192, rel=0.001)
    assert {(3, 9), (9, 3)} <= plan.plausible
    assert plan.via_cost(9) == pytest.approx(plan.fastest_s)
    # Quarry Road above the waypoint is now on the way; below it (QUARRY) still is not.
    assert plan.expected == ["G1", "G2", "UPPER", "G3", "G4"]


def test_a_place_far_from_every_road_is_refused(small: RoadNetwork) -> None:
    lost = DeclaredTrip("HW-3", "川A12345", place(-10, -20), place(9000, 9000, "荒地"))
    with pytest.raises(CoordinateInvalid, match="destination 荒地"):
        plan_trip(small, lost)


def test_a_dead_end_cannot_be_the_origin_and_the_plan_starts_where_it_can(
    small: RoadNetwork,
) -> None:
    trip = DeclaredTrip("HW-4", "川A12345", place(4500, 10, "死胡同"), place(-10, -20))
    plan = plan_trip(small, trip)
    assert plan.origin == 5  # node 11 cannot be left: the trip starts where the lane joins
    assert plan.fastest == [5, 4, 3, 2, 1]


def test_plans_are_cached_per_network_identity_and_thresholds() -> None:
    named = town(identity="town-v1")
    first, second = plan_trip(named, TRIP), plan_trip(named, TRIP)
    assert first._route is second._route
    assert plan_trip(named, TRIP, thresholds=Thresholds(corridor_m=80))._route is not first._route
    anonymous = town()  # no identity: two networks could not be told apart, so no cache
    assert plan_trip(anonymous, TRIP)._route is not plan_trip(anonymous, TRIP)._route


def test_a_real_trip_from_the_a8_to_menton(monaco: RoadNetwork) -> None:
    trip = DeclaredTrip("HW-5", "沪A12345", Place(7.3491, 43.7441, "A8 west"),
                        Place(7.4860, 43.7700, "Menton"))  # fmt: skip
    started = time.perf_counter()
    plan = plan_trip(monaco, trip, thresholds=Thresholds(corridor_m=51))  # not cached yet
    assert time.perf_counter() - started < 2.0  # about 0.25 s on a development machine
    assert monaco.edge(*plan.fastest[:2])["ref"] == "A 8"
    assert plan.fastest_m == pytest.approx(15_680, rel=0.01)
    assert plan.fastest_s == pytest.approx(15.16 * 60, rel=0.01)
    assert shapely.contains_xy(plan.corridor, *monaco.project(7.4860, 43.7700))

"""Synthetic GPS traces: a known drive on the Monaco network, reported like a JT/T 808 terminal."""

from __future__ import annotations

import itertools
import math
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import numpy as np
import pytest

from custody.errors import InputError
from routes.model import Fix
from routes.synthetic import NoRoute, drive, fastest_path, route_overlap

if TYPE_CHECKING:
    from routes.network import RoadNetwork

START = datetime(2026, 3, 5, 8, tzinfo=UTC)
FONTVIEILLE, LA_TURBIE = 25177469, 1258762140  # by the port, and up the hill: 7.2 km


@pytest.fixture(scope="module")
def climb(monaco: RoadNetwork) -> list[int]:
    return fastest_path(monaco, FONTVIEILLE, LA_TURBIE)


def seconds(network: RoadNetwork, path: list[int]) -> float:
    return sum(network.edge(u, v)["free_s"] for u, v in itertools.pairwise(path))


def metres(network: RoadNetwork, a: Fix, b: Fix) -> float:
    return math.dist(network.project(a.lon, a.lat), network.project(b.lon, b.lat))


def test_the_same_arguments_give_the_same_trace(monaco, climb) -> None:
    assert drive(monaco, climb, START, seed=7) == drive(monaco, climb, START, seed=7)
    assert drive(monaco, climb, START, seed=7) != drive(monaco, climb, START, seed=8)


def test_the_fastest_path_is_by_the_legal_time_unless_asked_otherwise(monaco, climb) -> None:
    shortest = fastest_path(monaco, FONTVIEILLE, LA_TURBIE, weight="length_m")
    time_s = [sum(monaco.edge(u, v)["time_s"] for u, v in itertools.pairwise(p))
              for p in (climb, shortest)]  # fmt: skip
    length_m = [sum(monaco.edge(u, v)["length_m"] for u, v in itertools.pairwise(p))
                for p in (climb, shortest)]  # fmt: skip

    assert (climb[0], climb[-1]) == (FONTVIEILLE, LA_TURBIE)
    assert time_s[0] <= time_s[1]
    assert length_m[1] <= length_m[0]


def test_a_noiseless_trace_reports_every_30_s_from_the_first_node_to_the_last(
    monaco, climb
) -> None:
    fixes = drive(monaco, climb, START, sigma_m=0)
    first, last = monaco.graph.nodes[climb[0]], monaco.graph.nodes[climb[-1]]

    assert [f.at for f in fixes] == [START + timedelta(seconds=30 * i) for i in range(len(fixes))]
    assert (fixes[0].lon, fixes[0].lat) == pytest.approx((first["lon"], first["lat"]), abs=1e-6)
    assert (fixes[-1].lon, fixes[-1].lat) == pytest.approx((last["lon"], last["lat"]), abs=1e-6)
    assert fixes[-1].speed_kmh == 0  # standing at the destination
    assert all(f.speed_kmh and f.speed_kmh <= 80 for f in fixes[:-1])


def test_the_truck_drives_at_loaded_truck_speeds_times_the_factor(monaco, climb) -> None:
    for factor in (1.0, 2.0):
        fixes = drive(monaco, climb, START, interval_s=10, speed_factor=factor)
        # The last report is the first one at or after arrival.
        assert len(fixes) - 1 == math.ceil(seconds(monaco, climb) / factor / 10)


def test_the_noise_has_the_spread_asked_for(monaco, climb) -> None:
    true = drive(monaco, climb, START, interval_s=1, sigma_m=0, seed=9)
    noisy = drive(monaco, climb, START, interval_s=1, sigma_m=10, seed=9)
    xy = np.array([[*monaco.project(f.lon, f.lat)] for f in true])
    off = np.array([[*monaco.project(f.lon, f.lat)] for f in noisy]) - xy

    assert len(off) > 500
    assert off.std(axis=0) == pytest.approx([10, 10], rel=0.1)
    assert abs(off.mean(axis=0)).max() < 1.5


def test_a_stop_keeps_the_truck_at_its_node_with_the_fixes_scattered_round_it(
    monaco, climb
) -> None:
    at = len(climb) // 2
    fixes = drive(monaco, climb, START, sigma_m=10, stops=[(at, 600)])
    node = monaco.graph.nodes[climb[at]]
    parked = [f for f in fixes[:-1] if f.speed_kmh == 0]
    here = Fix(START, node["lon"], node["lat"])

    assert len(parked) == 600 // 30
    assert all(metres(monaco, f, here) < 50 for f in parked)
    assert 3 < np.median([metres(monaco, f, here) for f in parked]) < 30
    assert len(fixes) - len(drive(monaco, climb, START, sigma_m=10)) == 600 // 30


def test_a_path_that_is_not_a_drive_is_refused(monaco, climb) -> None:
    with pytest.raises(InputError, match="no road"):
        drive(monaco, [climb[0], climb[2]], START)
    with pytest.raises(InputError):
        drive(monaco, climb, START, stops=[(len(climb), 60)])
    with pytest.raises(InputError):
        drive(monaco, climb, START, interval_s=0)
    with pytest.raises(InputError):
        drive(monaco, [], START)


def test_no_fastest_path_where_no_road_leads(monaco) -> None:
    dead_end = next(n for n in sorted(monaco.graph) if monaco.graph.out_degree(n) == 0)
    with pytest.raises(NoRoute):
        fastest_path(monaco, dead_end, FONTVIEILLE)
    with pytest.raises(NoRoute):
        fastest_path(monaco, -1, FONTVIEILLE)


def test_route_overlap_counts_shared_length_in_the_direction_driven(monaco, climb) -> None:
    half = len(climb) // 2
    first_half = sum(
        monaco.edge(u, v)["length_m"] for u, v in itertools.pairwise(climb[: half + 1])
    )
    total = sum(monaco.edge(u, v)["length_m"] for u, v in itertools.pairwise(climb))
    back = fastest_path(monaco, LA_TURBIE, FONTVIEILLE)

    assert route_overlap(monaco, climb, [climb]) == 1.0
    assert route_overlap(monaco, climb, [climb[: half + 1]]) == pytest.approx(first_half / total)
    assert route_overlap(monaco, climb, [climb[: half + 1], climb[half:]]) == 1.0
    assert route_overlap(monaco, climb, [back]) < 0.01  # the other way along the same roads
    assert route_overlap(monaco, climb, []) == 0.0

"""Map matching on the real Monaco network: which roads a truck drove, from its GPS fixes."""

from __future__ import annotations

import itertools
import math
import random
import statistics
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import networkx as nx
import numpy as np
import pytest
import shapely

from custody.errors import InputError
from routes.matching import MapMatcher, MatchParameters, MatchResult
from routes.model import Fix
from routes.synthetic import drive, fastest_path, route_overlap

if TYPE_CHECKING:
    from routes.network import RoadNetwork

START = datetime(2026, 3, 5, 8, tzinfo=UTC)
A8_EAST = (24963759, 359524917)  # the A8 eastbound, from the extract's edge to La Turbie
HAIRPIN = [1190011061, 1190018054]  # a 579 m street that doubles back on itself


@pytest.fixture(scope="module")
def matcher(monaco: RoadNetwork) -> MapMatcher:
    return MapMatcher(monaco)


@pytest.fixture(scope="module")
def coast(monaco: RoadNetwork) -> list[int]:
    """The fastest path from the westernmost to the easternmost node: 16.8 km, 137 edges."""
    graph = monaco.graph
    nodes = sorted(max(nx.strongly_connected_components(graph), key=len),
                   key=lambda n: graph.nodes[n]["x"])  # fmt: skip
    return fastest_path(monaco, nodes[0], nodes[-1])


def overlap(network: RoadNetwork, truth: list[int], result: MatchResult) -> float:
    return route_overlap(network, truth, [piece.nodes for piece in result.pieces])


def random_trips(
    network: RoadNetwork, n: int, *, sigma: float, interval: float = 30
) -> list[tuple[list[int], list[Fix]]]:
    """``n`` seeded trips between nodes at least 1 km apart, and their traces."""
    graph = network.graph
    nodes = sorted(max(nx.strongly_connected_components(graph), key=len))
    rng = random.Random(6)  # noqa: S311  # seeded choice of test trips, not a secret
    trips: list[tuple[list[int], list[Fix]]] = []
    while len(trips) < n:
        a, b = rng.sample(nodes, 2)
        if math.dist(*((graph.nodes[x]["x"], graph.nodes[x]["y"]) for x in (a, b))) < 1000:
            continue  # a trip, not a hop
        path = fastest_path(network, a, b)
        fixes = drive(network, path, START, interval_s=interval, sigma_m=sigma, seed=len(trips))
        trips.append((path, fixes))
    return trips


def length(network: RoadNetwork, path: list[int]) -> float:
    return sum(network.edge(u, v)["length_m"] for u, v in itertools.pairwise(path))


# -- following the route -----------------------------------------------------------------------


def test_a_30_s_trace_with_10_m_noise_follows_the_route_driven(monaco, matcher, coast) -> None:
    fixes = drive(monaco, coast, START, interval_s=30, sigma_m=10)
    result = matcher.match(fixes, MatchParameters(sigma_m=10))

    assert overlap(monaco, coast, result) >= 0.95
    assert len(result.pieces) == 1
    assert result.unmatched == []
    assert result.length_m == pytest.approx(length(monaco, coast), rel=0.03)


@pytest.mark.parametrize("sigma", [20, 30])
def test_noisier_30_s_traces_still_follow_nine_tenths_of_the_route(
    monaco, matcher, coast, sigma
) -> None:
    fixes = drive(monaco, coast, START, interval_s=30, sigma_m=sigma, seed=1)
    result = matcher.match(fixes, MatchParameters(sigma_m=sigma))

    assert overlap(monaco, coast, result) >= 0.9
    assert result.radius_m == 4 * sigma  # the search widens with the noise


def test_a_1_s_trace_with_5_m_noise_is_matched_exactly(monaco, matcher, coast) -> None:
    fixes = drive(monaco, coast, START, interval_s=1, sigma_m=5)
    result = matcher.match(fixes, MatchParameters(sigma_m=5))

    assert overlap(monaco, coast, result) >= 0.999
    assert len(result.pieces) == 1
    assert result.length_m == pytest.approx(length(monaco, coast), rel=0.01)


def test_a_street_that_doubles_back_on_itself_is_followed_without_a_break(monaco, matcher) -> None:
    # Fixes in the bend are nearer the other leg of the same edge; one projection per edge
    # jumps between the legs, finds no way back and broke the trace here.
    for seed in range(5):
        fixes = drive(monaco, HAIRPIN, START, interval_s=1, sigma_m=5, seed=seed)
        result = matcher.match(fixes, MatchParameters(sigma_m=5))

        assert len(result.pieces) == 1
        assert overlap(monaco, HAIRPIN, result) == 1.0


def test_a_truck_on_the_a8_is_never_put_on_the_other_carriageway(monaco, matcher) -> None:
    path = fastest_path(monaco, *A8_EAST)
    westbound = {(u, v) for u, v, ref in monaco.graph.edges(data="ref")
                 if ref == "A 8" and (u, v) not in set(itertools.pairwise(path))}  # fmt: skip
    assert westbound
    for seed in range(5):
        fixes = drive(monaco, path, START, interval_s=30, sigma_m=10, seed=seed)
        result = matcher.match(fixes)

        assert overlap(monaco, path, result) >= 0.99
        assert not westbound & set(result.edges)


def test_the_median_trip_of_twenty_random_ones_follows_95_percent_of_its_route(
    monaco, matcher
) -> None:
    agreement = [overlap(monaco, path, matcher.match(fixes))
                 for path, fixes in random_trips(monaco, 20, sigma=10)]  # fmt: skip

    assert statistics.median(agreement) >= 0.95


def test_a_truck_standing_at_its_destination_is_not_turned_round(monaco, matcher) -> None:
    # At 1 s the last fixes scatter round the end node, and onto the road back out of it.
    for _, fixes in random_trips(monaco, 10, sigma=5, interval=1):
        (*_, (a, b), last) = matcher.match(fixes, MatchParameters(sigma_m=5)).edges

        assert last != (b, a)


# -- what the result says ------------------------------------------------------------------------


def test_each_fix_is_placed_on_a_connected_path_where_it_was_seen(monaco, matcher, coast) -> None:
    fixes = drive(monaco, coast, START, interval_s=30, sigma_m=10, seed=2)
    result = matcher.match(fixes)
    (piece,) = result.pieces

    assert all(monaco.graph.has_edge(u, v) for u, v in piece.edges)
    assert (piece.first, piece.last) == (0, len(fixes) - 1)
    for fix, placed in zip(fixes, result.fixes, strict=True):
        assert placed is not None
        assert (placed.u, placed.v) in piece.edges
        road = monaco.edge(placed.u, placed.v)["geometry"]
        assert 0 <= placed.offset_m <= road.length + 1e-6
        seen = shapely.Point(monaco.project(fix.lon, fix.lat))
        assert road.interpolate(placed.offset_m).distance(seen) == pytest.approx(
            placed.distance_m, abs=0.01
        )


def test_a_fix_far_out_at_sea_is_unmatched_and_the_rest_still_follows_the_route(
    monaco, matcher, coast
) -> None:
    fixes = drive(monaco, coast, START, interval_s=30, sigma_m=10)
    middle = len(fixes) // 2
    fixes[middle] = replace(fixes[middle], lon=7.42, lat=43.715)  # 1.5 km off Monaco's port
    result = matcher.match(fixes)

    assert result.unmatched == [middle]
    assert result.fixes[middle] is None
    assert len(result.pieces) == 1
    assert overlap(monaco, coast, result) >= 0.95


def test_a_ten_minute_silence_splits_the_trace_into_two_pieces(monaco, matcher, coast) -> None:
    middle = len(coast) // 2
    fixes = drive(monaco, coast, START, sigma_m=10, stops=[(middle, 600)])
    silent = [i for i, f in enumerate(fixes) if f.speed_kmh == 0 and i < len(fixes) - 1]
    heard = [f for i, f in enumerate(fixes) if i not in silent[1:]]  # the terminal went quiet
    result = matcher.match(heard)

    first, second = result.pieces
    assert (heard[second.first].at - heard[first.last].at) > timedelta(minutes=5)
    assert (first.first, second.last) == (0, len(heard) - 1)
    assert overlap(monaco, coast, result) >= 0.95


def test_a_reported_stop_does_not_split_the_trace(monaco, matcher, coast) -> None:
    # The same stop with the terminal reporting every 30 s: jitter round a parked truck.
    for seed in range(3):
        fixes = drive(monaco, coast, START, sigma_m=10, seed=seed,
                      stops=[(len(coast) // 2, 1200)])  # fmt: skip
        result = matcher.match(fixes)

        assert len(result.pieces) == 1
        assert result.length_m == pytest.approx(length(monaco, coast), rel=0.05)


def test_a_jump_too_far_to_drive_starts_a_new_piece(monaco, matcher, coast) -> None:
    # A second trip 30 s after the first ends, 8 km away: a glitch or a cloned terminal.
    first = drive(monaco, coast[:40], START)
    after = first[-1].at + timedelta(seconds=30)
    a8 = fastest_path(monaco, *A8_EAST)
    second = drive(monaco, a8, after)
    jump = shapely.Point(monaco.project(first[-1].lon, first[-1].lat)).distance(
        shapely.Point(monaco.project(second[0].lon, second[0].lat))
    )
    assert jump > 2000
    result = matcher.match(first + second)

    assert [(p.first, p.last) for p in result.pieces] == [
        (0, len(first) - 1),
        (len(first), len(first) + len(second) - 1),
    ]


def test_matching_does_not_depend_on_what_was_matched_before(monaco, matcher) -> None:
    # Road distances found for earlier traces reach further than a later one may use.
    trips = random_trips(monaco, 20, sigma=30)
    for _, fixes in trips:
        matcher.match(fixes)

    for _, fixes in trips:
        assert matcher.match(fixes) == MapMatcher(monaco).match(fixes)
    forgetful = MapMatcher(monaco, cache_size=3)
    assert [forgetful.match(f) for _, f in trips[:5]] == [matcher.match(f) for _, f in trips[:5]]


def test_road_distances_are_dijkstras_whatever_was_asked_before(monaco) -> None:
    matcher = MapMatcher(monaco)
    roads, ids = matcher._roads, matcher._ids
    rng = np.random.default_rng(0)
    sources = rng.choice(len(ids), 20, replace=False)
    exact = {s: nx.single_source_dijkstra_path_length(monaco.graph, ids[s], weight="length_m")
             for s in sources.tolist()}  # fmt: skip
    for round_ in range(3):  # searches first, then answers from the sorted copy of them
        for source in sources.tolist():
            targets = rng.choice(len(ids), 40)
            limits = rng.uniform(0, 2000, 40)
            got = roads.between(np.full(40, source), targets, limits)
            truth = [exact[source].get(ids[t], np.inf) for t in targets.tolist()]
            want = [d if d <= limit else np.inf for d, limit in zip(truth, limits, strict=True)]
            assert got.tolist() == pytest.approx(want, rel=1e-12), round_
        roads._copy()


def test_sigma_is_estimated_from_the_trace_when_asked(monaco, matcher, coast) -> None:
    quiet = drive(monaco, coast, START, sigma_m=10, seed=5)
    noisy = drive(monaco, coast, START, sigma_m=30, seed=5)
    result = matcher.match(quiet, MatchParameters(sigma_m=None))

    assert result.sigma_m == matcher.estimate_sigma(quiet)
    assert 4 < result.sigma_m < 12  # reads low: the nearest road is not always the one driven
    assert matcher.estimate_sigma(noisy) > 1.5 * result.sigma_m
    assert result.radius_m == 50  # max(50 m, 4 sigma)


# -- refused and empty ---------------------------------------------------------------------------


def test_fixes_out_of_time_order_are_refused(monaco, matcher, coast) -> None:
    fixes = drive(monaco, coast[:10], START)
    with pytest.raises(InputError, match="time order"):
        matcher.match([fixes[1], fixes[0], *fixes[2:]])


def test_an_empty_trace_or_one_at_sea_matches_nothing(matcher) -> None:
    at_sea = [Fix(START + timedelta(seconds=30 * i), 7.42, 43.715) for i in range(3)]

    assert matcher.match([]).pieces == ()
    result = matcher.match(at_sea)
    assert result.pieces == ()
    assert result.unmatched == [0, 1, 2]
    assert result.length_m == 0


def test_impossible_parameters_are_refused() -> None:
    with pytest.raises(InputError):
        MatchParameters(sigma_m=0)
    with pytest.raises(InputError):
        MatchParameters(candidates=0)

"""The road network built from OpenStreetMap: what a route check can rely on."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import networkx as nx
import pytest

from routes.network import NetworkUnreadable, RoadNetwork
from tests.routes.conftest import MONACO

if TYPE_CHECKING:
    from pathlib import Path


def test_the_monaco_extract_gives_a_connected_drivable_network(monaco: RoadNetwork) -> None:
    assert 300 < monaco.length_km < 400  # ~306 km of drivable road, plus service roads
    assert monaco.crs == "EPSG:32632"  # UTM 32N: distances in metres
    biggest = max(nx.strongly_connected_components(monaco.graph), key=len)
    assert len(biggest) > 0.85 * monaco.graph.number_of_nodes()


def test_the_a8_is_a_motorway_at_the_dangerous_goods_limit(monaco: RoadNetwork) -> None:
    a8 = [d for _, _, d in monaco.graph.edges(data=True) if d["ref"] == "A 8"]
    assert a8
    for data in a8:
        assert data["highway"] == "motorway"
        assert data["limit_kmh"] <= 80  # Art. 46: 80 km/h on expressways, or lower if posted
        assert data["time_s"] == pytest.approx(data["length_m"] / (data["limit_kmh"] / 3.6))
        assert data["free_s"] >= data["time_s"]


def test_other_roads_are_held_to_60_and_one_way_roads_have_one_direction(
    monaco: RoadNetwork,
) -> None:
    for u, v, data in monaco.graph.edges(data=True):
        if data["highway"] not in {"motorway", "trunk"}:
            assert data["limit_kmh"] <= 60
        if data["highway"] == "motorway":
            assert not monaco.graph.has_edge(v, u) or monaco.graph.edges[v, u]["way"] != data["way"]


def test_points_round_trip_between_wgs84_and_metres(monaco: RoadNetwork) -> None:
    x, y = monaco.project(7.4246, 43.7384)  # Monaco-Ville
    lon, lat = monaco.to_wgs84(x, y)
    assert (lon, lat) == pytest.approx((7.4246, 43.7384), abs=1e-9)
    x2, _ = monaco.project(7.4246 + 0.01, 43.7384)
    assert x2 - x == pytest.approx(804, rel=0.01)  # 0.01 degree of longitude at 43.7 N


def test_the_nearest_road_and_water_are_found(monaco: RoadNetwork) -> None:
    distance, u, v = monaco.nearest_edge(*monaco.project(7.4246, 43.7384))
    assert distance < 100
    assert monaco.graph.has_edge(u, v)
    near = monaco.edges_near(*monaco.project(7.4246, 43.7384), radius=200)
    assert near == sorted(near)
    assert near[0][1:] == (u, v)
    assert {w.kind for w in monaco.water} >= {"coastline", "stream", "river"}


def test_a_second_load_reads_the_cache(tmp_path: Path) -> None:
    started = time.perf_counter()
    first = RoadNetwork.load(MONACO, tmp_path)
    built = time.perf_counter() - started
    started = time.perf_counter()
    second = RoadNetwork.load(MONACO, tmp_path)
    assert time.perf_counter() - started < built  # read, not rebuilt
    assert second.identity == first.identity
    assert nx.utils.graphs_equal(first.graph, second.graph)
    assert second.nearest_edge(*second.project(7.42, 43.735)) == first.nearest_edge(
        *first.project(7.42, 43.735)
    )


def test_a_damaged_cache_is_rebuilt_not_trusted(tmp_path: Path) -> None:
    first = RoadNetwork.load(MONACO, tmp_path)
    (cache,) = tmp_path.glob("roads-*.pickle")
    cache.write_bytes(b"not a pickle")
    assert RoadNetwork.load(MONACO, tmp_path).identity == first.identity


@pytest.mark.parametrize("content", [b"", b"not osm at all", b"<osm version='0.6'></osm>"])
def test_a_file_without_roads_is_a_clear_error(tmp_path: Path, content: bytes) -> None:
    bad = tmp_path / "bad.osm"
    bad.write_bytes(content)
    with pytest.raises(NetworkUnreadable):
        RoadNetwork.load(bad)


def test_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(NetworkUnreadable, match="cannot read"):
        RoadNetwork.load(tmp_path / "nowhere.pbf")


def test_a_small_network_from_ways_splits_at_junctions() -> None:
    nodes = {1: (7.40, 43.70), 2: (7.41, 43.70), 3: (7.42, 43.70), 4: (7.41, 43.71)}
    ways = [(10, [1, 2, 3], {"highway": "primary"}),
            (11, [2, 4], {"highway": "residential", "oneway": "yes"})]  # fmt: skip
    net = RoadNetwork.from_ways(nodes, ways)
    assert set(net.graph.edges) == {(1, 2), (2, 1), (2, 3), (3, 2), (2, 4)}
    assert net.edge(1, 2)["length_m"] == pytest.approx(806, rel=0.01)


def test_finding_json_keeps_map_coordinates_to_a_centimetre() -> None:
    from datetime import UTC, datetime  # noqa: PLC0415  # only this test

    from routes.model import Finding, Severity  # noqa: PLC0415

    stop = {"type": "Point", "coordinates": [7.4246123, 43.7384567]}
    finding = Finding("dwell", Severity.HIGH, "T1", "停车", "stopped",
                      facts={"minutes": 41.123456}, start=datetime(2026, 3, 5, tzinfo=UTC),
                      layers={"stop": stop})  # fmt: skip
    text = finding.to_json()
    assert "7.4246123" in text
    assert "43.7384567" in text
    assert '"minutes":41.123' in text

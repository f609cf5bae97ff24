"""The example trip in ``routes/data/examples/``, made from the Monaco road network.

A truck declares a trip from a plant in Fontvieille (by Monaco's second port) up the hill to a
station in La Turbie: six kilometres, six minutes at the legal limits. It drives there, carries
on past the station down the Route de Laghet to the end of the road by the Laghet river, stands
there 40 minutes inside a drinking-water protection zone, and comes back to deliver. The camera
at the plant's gate misses it; the one on the Route de Laghet reads it.

Everything is computed from the network so the coordinates snap: the route is the plan's
fastest, the checkpoints sit on its edges, the GPS track comes from
:func:`routes.synthetic.drive` with a fixed seed. ``test_example_trip.py`` checks that the
committed files are what this makes; after a change here or to the network, write them anew::

    .venv/bin/python -m tests.routes.example_trip
"""

from __future__ import annotations

import csv
import io
import itertools
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import networkx as nx
import shapely
from shapely.geometry import Point
from shapely.geometry.polygon import orient

from routes.corridor import plan_trip
from routes.model import DeclaredTrip, Place
from routes.synthetic import drive, fastest_path

if TYPE_CHECKING:
    from routes.network import RoadNetwork

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "routes" / "data" / "examples"
CST = timezone(timedelta(hours=8))  # manifests, terminals and officers keep China time
START = datetime(2025, 3, 14, 9, 0, tzinfo=CST)
DECLARED = timedelta(minutes=90)  # the manifest's window for the trip
ORIGIN = Place(7.415, 43.7292, "产废单位 Fontvieille")
DESTINATION = Place(7.4005, 43.7458, "处置中心 La Turbie")
RIVER = "Le Laghet"
STOP_S = 40 * 60
ZONE_M = 250.0  # the protection zone reaches this far from the river
SEED = 314


def build(network: RoadNetwork) -> dict[str, str]:
    """The example files, by name, as text."""
    trip = DeclaredTrip(
        trip_id="DEMO-2025-0314-01",
        vehicle="川A12345",
        origin=ORIGIN,
        destination=DESTINATION,
        depart_after=START,
        arrive_before=START + DECLARED,
    )
    plan = plan_trip(network, trip)
    river = next(w for w in network.water if w.name == RIVER)
    # The road node nearest the river that the truck can drive to from the station and back:
    # the end of the Route de Laghet, where it turns round and waits.
    reachable = next(
        c for c in nx.strongly_connected_components(network.graph) if plan.destination in c
    )
    end = min(sorted(reachable), key=lambda n: river.geometry.distance(_point(network, n)))
    out = fastest_path(network, plan.destination, end)
    back = fastest_path(network, end, plan.destination)
    nodes = [*plan.fastest, *out[1:], *back[1:]]
    stop_at = len(plan.fastest) + len(out) - 2
    fixes = drive(network, nodes, START, sigma_m=5.0, seed=SEED, stops=[(stop_at, STOP_S)])

    fastest_edges = list(itertools.pairwise(plan.fastest))
    laghet = next(
        edge
        for edge in itertools.pairwise(out)
        if network.edge(*edge)["name"] == "Route de Laghet"
        and network.edge(*edge)["length_m"] > 500
    )
    checkpoints = [
        ("CP-01", "Avenue de Fontvieille 卡口", "anpr_gate", fastest_edges[1]),
        ("CP-02", "Boulevard Rainier III 卡口", "anpr_gate", fastest_edges[16]),
        ("CP-03", "Route de Laghet 卡口", "anpr_gate", laghet),
        ("CP-04", "La Turbie 处置中心扫码站", "scan_station", fastest_edges[-1]),
    ]
    places = {cid: _middle(network, edge) for cid, _, _, edge in checkpoints}
    arrived = fixes[-1].at + timedelta(minutes=2)  # scanned at the gate on arrival
    sightings = [
        ("CP-02", _passing(network, nodes, fastest_edges[16]), "anpr"),
        ("CP-03", _passing(network, nodes, laghet), "anpr"),  # before the stop
        ("CP-04", arrived, "scan"),
    ]
    return {
        "manifest.json": _json(_manifest(trip)),
        "checkpoints.csv": _csv(
            ["id", "name", "kind", "lon", "lat", "crs"],
            [[cid, name, kind, *places[cid], "WGS84"] for cid, name, kind, _ in checkpoints],
        ),
        "sightings.csv": _csv(
            ["checkpoint_id", "seen_at", "source"],
            [[cid, _clock(at), source] for cid, at, source in sightings],
        ),
        "track.csv": _csv(
            ["time", "lon", "lat", "speed_kmh"],
            [[_clock(f.at), f"{f.lon:.6f}", f"{f.lat:.6f}", f"{f.speed_kmh:.1f}"] for f in fixes],
        ),
        "areas.geojson": _json(_areas(network, river.geometry)),
    }


def _point(network: RoadNetwork, node: int) -> Point:
    data = network.graph.nodes[node]
    return Point(data["x"], data["y"])


def _middle(network: RoadNetwork, edge: tuple[int, int]) -> tuple[str, str]:
    """The middle of an edge in WGS-84, as text with six decimals (about 10 cm)."""
    middle = network.edge(*edge)["geometry"].interpolate(0.5, normalized=True)
    lon, lat = network.to_wgs84(middle.x, middle.y)
    return f"{lon:.6f}", f"{lat:.6f}"


def _passing(network: RoadNetwork, nodes: list[int], edge: tuple[int, int]) -> datetime:
    """When the truck, driving ``nodes`` as :func:`drive` does, is half way along ``edge``."""
    edges = list(itertools.pairwise(nodes))
    before = edges[: edges.index(edge)]
    seconds = sum(network.edge(*e)["free_s"] for e in before) + network.edge(*edge)["free_s"] / 2
    return START + timedelta(seconds=round(seconds))


def _manifest(trip: DeclaredTrip) -> dict[str, Any]:
    def place(p: Place) -> dict[str, Any]:
        return {"name": p.name, "lon": p.lon, "lat": p.lat, "crs": "WGS84"}

    return {
        "trip_id": trip.trip_id,
        "vehicle": trip.vehicle,
        "origin": place(trip.origin),
        "destination": place(trip.destination),
        "waypoints": [],
        "depart_after": _clock(START),
        "arrive_before": _clock(START + DECLARED),
        "authorised_stops": [],
    }


def _areas(network: RoadNetwork, river: Any) -> dict[str, Any]:
    zone = orient(shapely.simplify(river.buffer(ZONE_M), 5.0), sign=1.0)  # RFC 7946: CCW
    ring = [network.to_wgs84(x, y) for x, y in zone.exterior.coords]
    coordinates = [[[round(lon, 6), round(lat, 6)] for lon, lat in ring]]
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {
                    "name": "拉盖河饮用水水源保护区 Le Laghet water source",
                    "kind": "drinking_water_source",
                },
                "geometry": {"type": "Polygon", "coordinates": coordinates},
            }
        ],
    }


def _clock(at: datetime) -> str:
    return at.astimezone(CST).isoformat()


def _json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2) + "\n"


def _csv(header: list[str], rows: list[list[Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def main() -> None:
    """Write the example files."""
    from routes.network import RoadNetwork  # noqa: PLC0415  # only the script needs to load it

    network = RoadNetwork.load(ROOT / "routes" / "data" / "monaco.osm.pbf")
    EXAMPLES.mkdir(parents=True, exist_ok=True)
    for name, text in build(network).items():
        (EXAMPLES / name).write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()

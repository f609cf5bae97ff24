"""Make the observations of a truck that drives a known path: GPS fixes and checkpoint passes.

A :class:`Journey` is driven edge by edge at each edge's loaded-truck time (``free_s``, slower
than the legal limit, as a real truck is), with stops where the test puts them. Fixes are
sampled every ``interval_s`` and can be blurred by Gaussian noise of ``sigma_m`` per axis with
a fixed seed, so every run gives the same trace.
"""

from __future__ import annotations

import bisect
import itertools
import math
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import networkx as nx
import shapely
from shapely.geometry import LineString, Point

from routes.model import Fix, Place, Sighting
from routes.network import RoadNetwork

if TYPE_CHECKING:
    from routes.checkpoints import SnappedCheckpoint


# -- a made-up town near Chengdu, laid out in metres ---------------------------------------------
#
#        6 ────── Back Street (3.2 km, residential) ────── 8
#        │                                                  │
#   1 ── 2 ────────── 3 ────────── 4 ── 5 ──> 11          S 101 Binjiang Road, 1 km a stretch
#   origin            │                 destination        (one way on to 11: a dead end)
#                     │ Quarry Road (3.2 km + 2.8 km)
#                     9 ·· the 清溪 stream 120 m east
#                     │
#                    10
#
# At the legal 60 km/h the fastest trip is 1-2-3-4-5, 4 km in 4 min. Back Street adds 72 s:
# plausible (budget 1.3 x 240 + 120 = 432 s). Quarry Road is not: a trip down it is >= 10.4 km.

_LON0, _LAT0 = 105.0, 30.6  # on the central meridian of UTM zone 48: metres are metres


def at(x: float, y: float) -> tuple[float, float]:
    """WGS-84 for a point ``x`` m east and ``y`` m north of the town's corner."""
    return (_LON0 + x / (111_320 * math.cos(math.radians(_LAT0))), _LAT0 + y / 110_860)


def place(x: float, y: float, name: str = "") -> Place:
    """A declared place in the town."""
    return Place(*at(x, y), name=name)


TOWN_NODES = {
    1: (0, 0), 2: (1000, 0), 3: (2000, 0), 4: (3000, 0), 5: (4000, 0), 11: (4500, 0),
    6: (1000, 600), 7: (2000, 600), 8: (3000, 600), 9: (2000, -3200), 10: (2000, -6000),
}  # fmt: skip


def town(identity: str = "") -> RoadNetwork:
    """The made-up town as a road network."""
    nodes = {ref: at(x, y) for ref, (x, y) in TOWN_NODES.items()}
    main = {"highway": "primary", "name": "Binjiang Road", "ref": "S 101"}
    ways = [
        (100, [1, 2, 3, 4, 5], main),
        (101, [5, 11], main | {"oneway": "yes"}),
        (102, [2, 6, 7, 8, 4], {"highway": "residential", "name": "Back Street"}),
        (103, [3, 9], {"highway": "unclassified", "name": "Quarry Road"}),
        (104, [9, 10], {"highway": "unclassified", "name": "Quarry Road"}),
    ]
    stream = [at(2120, -2000), at(2120, -4000)]
    return RoadNetwork.from_ways(nodes, ways, [("stream", "清溪", stream, False)],
                                 identity=identity)  # fmt: skip


def fastest(network: RoadNetwork, *nodes: int) -> list[int]:
    """The fastest legal node path through ``nodes`` in order."""
    path = [nodes[0]]
    for a, b in itertools.pairwise(nodes):
        path += nx.shortest_path(network.graph, a, b, weight="time_s")[1:]
    return path


def nearest_node(network: RoadNetwork, lon: float, lat: float) -> int:
    """The network node nearest to a WGS-84 point."""
    x, y = network.project(lon, lat)
    return int(min(network.graph.nodes,
               key=lambda n: (network.graph.nodes[n]["x"] - x) ** 2
               + (network.graph.nodes[n]["y"] - y) ** 2))  # fmt: skip


def point_on(network: RoadNetwork, u: int, v: int, fraction: float) -> tuple[float, float]:
    """The WGS-84 point ``fraction`` of the way along edge (u, v)."""
    at = network.edge(u, v)["geometry"].interpolate(fraction, normalized=True)
    return network.to_wgs84(at.x, at.y)


@dataclass
class _Piece:
    start_s: float
    seconds: float
    geometry: LineString | Point
    edge: tuple[int, int] | None = None


@dataclass
class Journey:
    """A truck's day: drives and stops, from ``start``."""

    network: RoadNetwork
    start: datetime
    pieces: list[_Piece] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        """How long the journey takes so far."""
        return self.pieces[-1].start_s + self.pieces[-1].seconds if self.pieces else 0.0

    @property
    def end(self) -> datetime:
        """When the journey ends."""
        return self.start + timedelta(seconds=self.seconds)

    def drive(self, nodes: list[int]) -> Journey:
        """Drive a node path at loaded-truck speed."""
        for u, v in itertools.pairwise(nodes):
            data = self.network.edge(u, v)
            self.pieces.append(_Piece(self.seconds, data["free_s"], data["geometry"], (u, v)))
        return self

    def stop(self, seconds: float) -> Journey:
        """Stand still where the last drive ended."""
        last = self.pieces[-1].geometry
        at = Point(last.coords[-1])
        self.pieces.append(_Piece(self.seconds, seconds, at))
        return self

    def passes(self, checkpoint: SnappedCheckpoint) -> datetime:
        """When the journey first passes a checkpoint (on its edge or the reverse twin)."""
        for piece in self.pieces:
            if piece.edge == (checkpoint.u, checkpoint.v):
                fraction = checkpoint.offset_m / piece.geometry.length
            elif piece.edge == (checkpoint.v, checkpoint.u):
                fraction = 1 - checkpoint.offset_m / piece.geometry.length
            else:
                continue
            return self.start + timedelta(seconds=piece.start_s + fraction * piece.seconds)
        raise AssertionError(f"the journey never passes {checkpoint.checkpoint_id}")

    def sighting(self, checkpoint: SnappedCheckpoint, ref: str = "") -> Sighting:
        """The camera read of this journey at a checkpoint."""
        return Sighting(checkpoint.checkpoint_id, self.passes(checkpoint), ref=ref)

    def fixes(self, interval_s: float = 30.0, sigma_m: float = 0.0, seed: int = 0) -> list[Fix]:
        """GPS fixes every ``interval_s``, blurred by ``sigma_m`` of noise per axis."""
        rng = random.Random(seed)  # noqa: S311  # noise for a test trace, not a secret
        starts = [p.start_s for p in self.pieces]
        out = []
        for i in itertools.count():
            t = i * interval_s
            if t > self.seconds:
                break
            piece = self.pieces[max(0, bisect.bisect_right(starts, t) - 1)]
            if isinstance(piece.geometry, Point):
                at = piece.geometry
            else:
                fraction = min(1.0, (t - piece.start_s) / piece.seconds) if piece.seconds else 1.0
                at = piece.geometry.interpolate(fraction, normalized=True)
            x, y = shapely.get_x(at), shapely.get_y(at)
            if sigma_m:
                x, y = x + rng.gauss(0, sigma_m), y + rng.gauss(0, sigma_m)
            lon, lat = self.network.to_wgs84(x, y)
            out.append(Fix(self.start + timedelta(seconds=t), lon, lat))
        return out


def without(fixes: list[Fix], start: datetime, end: datetime) -> list[Fix]:
    """The fixes outside [start, end]: the terminal went silent in between."""
    return [f for f in fixes if not start <= f.at <= end]

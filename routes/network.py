"""The road network: OpenStreetMap ways as a directed graph in metres, offline.

Built from an OSM PBF (or XML) file with pyosmium: drivable ways are split at junctions into
edges that keep their geometry, road class, name, ``ref``, length, and two travel times for a
heavy goods vehicle: ``time_s`` at the legal dangerous-goods limit (80 km/h on motorways and
trunk roads, 60 km/h on other roads, or the posted ``maxspeed`` if lower; 2019 rules Art. 46),
the fastest a compliant truck can be, and ``free_s`` at a typical loaded-truck speed for the
class. Coordinates are projected to the data's UTM zone so distances are plain metres.
Water (rivers, streams, canals, lakes, reservoirs, the coastline) is kept for the dwell rules.

The graph is a ``DiGraph``: where two ways join the same junctions the shorter is kept (the
design study measured it twice as fast as a ``MultiDiGraph`` in every call). A built network is
cached in a file named by its identity: the SHA-256 of the source file and the build version,
so a second start reads it in a fraction of the time and a changed extract is never confused
with the old one.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import pickle
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import networkx as nx
import osmium
import shapely
from pyproj import Transformer
from shapely.geometry import LineString, Polygon
from shapely.strtree import STRtree

from custody.errors import InputError

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence
    from pathlib import Path

__all__ = ["BUILD_VERSION", "DG_LIMIT_KMH", "NetworkUnreadable", "RoadNetwork"]

BUILD_VERSION = "1"  # bump when the build changes: old caches are then ignored

#: Drivable OSM highway classes and a loaded heavy truck's usual speed on each (km/h).
HGV_KMH: dict[str, float] = {
    "motorway": 80, "motorway_link": 50, "trunk": 70, "trunk_link": 45,
    "primary": 55, "primary_link": 40, "secondary": 50, "secondary_link": 35,
    "tertiary": 40, "tertiary_link": 30, "unclassified": 35, "residential": 25,
    "living_street": 10, "service": 15, "road": 30,
}  # fmt: skip
#: The legal limit for dangerous goods (2019 rules, Art. 46): expressways 80, other roads 60.
DG_LIMIT_KMH: dict[str, float] = {"motorway": 80, "trunk": 80}
DG_OTHER_KMH = 60.0
_WATER_LINES = {"river", "stream", "canal"}


class NetworkUnreadable(InputError):
    """The road data file cannot be read or holds no drivable road."""

    code = "network-unreadable"
    title = "Road network unreadable"
    title_zh = "路网数据无法读取"


@dataclass(frozen=True, slots=True)
class Water:
    """A water feature near which a stopped truck is suspicious."""

    kind: str  # river, stream, canal, water, reservoir, coastline
    name: str
    geometry: Any  # shapely geometry in the network's metres


@dataclass(slots=True)
class RoadNetwork:
    """Roads as a directed graph in metres, with the geometry to snap, measure and draw."""

    graph: nx.DiGraph
    crs: str  # the projected CRS, e.g. "EPSG:32632"
    identity: str  # sha256 of the source and the build parameters
    water: list[Water] = field(default_factory=list)
    _edges: list[tuple[int, int]] = field(default_factory=list, repr=False)
    _tree: STRtree | None = field(default=None, repr=False)
    _forward: Transformer | None = field(default=None, repr=False)
    _inverse: Transformer | None = field(default=None, repr=False)
    _water_tree: STRtree | None = field(default=None, repr=False)

    # -- building ------------------------------------------------------------------------------

    @classmethod
    def load(cls, source: Path, cache_dir: Path | None = None) -> RoadNetwork:
        """Build from an OSM file, or read the cache of an earlier build of the same file."""
        try:
            digest = hashlib.sha256(source.read_bytes()).hexdigest()
        except OSError as exc:
            raise NetworkUnreadable(f"cannot read {source}: {exc.strerror}",
                                    zh=f"无法读取路网文件 {source}") from None  # fmt: skip
        identity = hashlib.sha256(f"{digest}:{BUILD_VERSION}".encode()).hexdigest()
        cached = cache_dir / f"roads-{identity[:16]}.pickle" if cache_dir else None
        if cached is not None and cached.exists():
            try:
                network: RoadNetwork = pickle.loads(cached.read_bytes())  # noqa: S301  # our own cache file
            except (pickle.UnpicklingError, EOFError, AttributeError, ValueError, ImportError):
                pass  # a damaged or foreign cache: build again
            else:
                if network.identity == identity:
                    return network
        network = cls.from_osm(source, identity)
        if cached is not None:
            cached.parent.mkdir(parents=True, exist_ok=True)
            partial = cached.with_suffix(".partial")
            partial.write_bytes(pickle.dumps(network, protocol=pickle.HIGHEST_PROTOCOL))
            partial.replace(cached)  # never a half-written cache
        return network

    @classmethod
    def from_osm(cls, source: Path, identity: str = "") -> RoadNetwork:
        """Read drivable ways and water from an OSM PBF or XML file."""
        nodes: dict[int, tuple[float, float]] = {}
        ways: list[tuple[int, list[int], dict[str, str]]] = []
        water: list[tuple[str, str, list[tuple[float, float]], bool]] = []
        keys = osmium.filter.KeyFilter("highway", "waterway", "natural", "landuse")
        try:
            for obj in osmium.FileProcessor(str(source)).with_locations().with_filter(keys):
                if not isinstance(obj, osmium.osm.Way):
                    continue
                tags = {t.k: t.v for t in obj.tags}
                try:
                    points = [(n.ref, n.lon, n.lat) for n in obj.nodes]
                except osmium.InvalidLocationError:
                    continue  # a way reaching outside the extract's nodes
                if tags.get("highway") in HGV_KMH and tags.get("access") not in {"no", "private"}:
                    for ref, lon, lat in points:
                        nodes[ref] = (lon, lat)
                    ways.append((obj.id, [ref for ref, _, _ in points], tags))
                elif (kind := _water_kind(tags)) is not None:
                    closed = len(points) > 3 and points[0][0] == points[-1][0]
                    water.append((kind, tags.get("name", ""),
                                  [(lon, lat) for _, lon, lat in points], closed))  # fmt: skip
        except RuntimeError as exc:  # osmium reports unreadable files so
            raise NetworkUnreadable(f"{source} is not OSM data: {exc}",
                                    zh=f"{source} 不是 OSM 数据") from None  # fmt: skip
        if not ways:
            raise NetworkUnreadable(f"{source} holds no drivable road",
                                    zh=f"{source} 中没有可通行道路")  # fmt: skip
        return cls.from_ways(nodes, ways, water, identity=identity)

    @classmethod
    def from_ways(
        cls,
        nodes: dict[int, tuple[float, float]],
        ways: Sequence[tuple[int, list[int], dict[str, str]]],
        water: Iterable[tuple[str, str, list[tuple[float, float]], bool]] = (),
        *,
        identity: str = "",
    ) -> RoadNetwork:
        """Build from node positions (lon, lat) and ways; tests make small networks this way."""
        lons = [lon for lon, _ in nodes.values()]
        lats = [lat for _, lat in nodes.values()]
        crs = _utm(sum(lons) / len(lons), sum(lats) / len(lats))
        forward = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
        ids = list(nodes)
        xs, ys = forward.transform([nodes[i][0] for i in ids], [nodes[i][1] for i in ids])
        metric = dict(zip(ids, zip(xs, ys, strict=True), strict=True))
        uses: dict[int, int] = {}
        for _, refs, _ in ways:
            for ref in refs:
                uses[ref] = uses.get(ref, 0) + 1
        graph = nx.DiGraph()
        for way_id, refs, tags in ways:
            cuts = [i for i, ref in enumerate(refs) if i in {0, len(refs) - 1} or uses[ref] > 1]
            for a, b in itertools.pairwise(cuts):
                piece = refs[a : b + 1]
                if len(set(piece)) < 2:  # a loop back to one node: nothing to drive
                    continue
                _add_edges(graph, way_id, piece, tags, metric)
        for ref in graph.nodes:
            graph.nodes[ref]["x"], graph.nodes[ref]["y"] = metric[ref]
            graph.nodes[ref]["lon"], graph.nodes[ref]["lat"] = nodes[ref]
        features = [_water(kind, name, points, closed=closed, forward=forward)
                    for kind, name, points, closed in water]  # fmt: skip
        return cls(graph, crs, identity, [f for f in features if f is not None])

    # -- coordinates ---------------------------------------------------------------------------

    def project(self, lon: float, lat: float) -> tuple[float, float]:
        """WGS-84 longitude and latitude to the network's metres."""
        if self._forward is None:
            self._forward = Transformer.from_crs("EPSG:4326", self.crs, always_xy=True)
        x, y = self._forward.transform(lon, lat)
        return float(x), float(y)

    def project_many(
        self, lons: Sequence[float], lats: Sequence[float]
    ) -> tuple[list[float], list[float]]:
        """Many points at once (pyproj is vectorised)."""
        if self._forward is None:
            self._forward = Transformer.from_crs("EPSG:4326", self.crs, always_xy=True)
        xs, ys = self._forward.transform(list(lons), list(lats))
        return list(xs), list(ys)

    def to_wgs84(self, x: float, y: float) -> tuple[float, float]:
        """The network's metres back to WGS-84 (longitude, latitude)."""
        if self._inverse is None:
            self._inverse = Transformer.from_crs(self.crs, "EPSG:4326", always_xy=True)
        lon, lat = self._inverse.transform(x, y)
        return float(lon), float(lat)

    # -- looking things up ---------------------------------------------------------------------

    def edge(self, u: int, v: int) -> dict[str, Any]:
        """The attributes of edge (u, v)."""
        data: dict[str, Any] = self.graph.edges[u, v]
        return data

    def edges_near(self, x: float, y: float, radius: float) -> list[tuple[float, int, int]]:
        """Edges within ``radius`` metres of a point, as (distance, u, v), nearest first."""
        tree = self._edge_tree()
        point = shapely.Point(x, y)
        found = tree.query(point, predicate="dwithin", distance=radius)
        out = []
        for i in found:
            u, v = self._edges[int(i)]
            out.append((float(self.graph.edges[u, v]["geometry"].distance(point)), u, v))
        out.sort()
        return out

    def nearest_edge(self, x: float, y: float) -> tuple[float, int, int]:
        """The nearest edge to a point and its distance in metres."""
        tree = self._edge_tree()
        point = shapely.Point(x, y)
        i = int(tree.nearest(point))
        u, v = self._edges[i]
        return float(self.graph.edges[u, v]["geometry"].distance(point)), u, v

    def nearest_water(self, x: float, y: float, radius: float) -> tuple[float, Water] | None:
        """The nearest water feature within ``radius`` metres, with its distance."""
        if not self.water:
            return None
        if self._water_tree is None:
            self._water_tree = STRtree([w.geometry for w in self.water])
        point = shapely.Point(x, y)
        found = self._water_tree.query(point, predicate="dwithin", distance=radius)
        best = min(((float(self.water[int(i)].geometry.distance(point)), int(i)) for i in found),
                   default=None)  # fmt: skip
        return None if best is None else (best[0], self.water[best[1]])

    def _edge_tree(self) -> STRtree:
        if self._tree is None:
            self._edges = list(self.graph.edges)
            self._tree = STRtree([self.graph.edges[e]["geometry"] for e in self._edges])
        return self._tree

    def __getstate__(self) -> dict[str, Any]:  # indexes and transformers are rebuilt on use
        return {"graph": self.graph, "crs": self.crs, "identity": self.identity,
                "water": self.water}  # fmt: skip

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.graph, self.crs = state["graph"], state["crs"]
        self.identity, self.water = state["identity"], state["water"]
        self._edges, self._tree, self._forward = [], None, None
        self._inverse, self._water_tree = None, None

    @property
    def length_km(self) -> float:
        """Drivable length, each two-way road counted once."""
        seen, total = set(), 0.0
        for u, v, data in self.graph.edges(data=True):
            if (v, u) in seen:
                continue
            seen.add((u, v))
            total += data["length_m"]
        return total / 1000


def _utm(lon: float, lat: float) -> str:
    zone = int((lon + 180) // 6) + 1
    return f"EPSG:{32600 + zone if lat >= 0 else 32700 + zone}"


def _speed(text: str | None) -> float | None:
    """A posted ``maxspeed`` in km/h, or None when absent or not a plain number."""
    if not text:
        return None
    value = text.split(";")[0].strip().lower()
    try:
        if value.endswith("mph"):
            return float(value[:-3]) * 1.609344
        return float(value.removesuffix("km/h").strip())
    except ValueError:
        return None


def _direction(tags: dict[str, str]) -> tuple[bool, bool]:
    """Whether the way may be driven forwards and backwards."""
    oneway = tags.get("oneway", "")
    if oneway == "-1":
        return False, True
    if oneway in {"yes", "true", "1"}:
        return True, False
    if oneway in {"no", "false", "0"}:
        return True, True
    implied = tags.get("highway") in {"motorway", "motorway_link"} or tags.get("junction") in {
        "roundabout", "circular"}  # fmt: skip
    return True, not implied


def _add_edges(graph: nx.DiGraph, way_id: int, refs: list[int], tags: dict[str, str],
               metric: dict[int, tuple[float, float]]) -> None:  # fmt: skip
    highway = tags["highway"]
    line = LineString([metric[r] for r in refs])
    length = float(line.length)
    posted = _speed(tags.get("maxspeed"))
    legal = min(DG_LIMIT_KMH.get(highway, DG_OTHER_KMH), posted or math.inf)
    usual = min(HGV_KMH[highway], legal)
    attrs = {
        "way": way_id, "highway": highway, "name": tags.get("name", ""),
        "ref": tags.get("ref", ""), "length_m": length, "limit_kmh": legal,
        "time_s": length / (legal / 3.6), "free_s": length / (usual / 3.6),
    }  # fmt: skip
    forward, backward = _direction(tags)
    for u, v, geometry in ((refs[0], refs[-1], line), (refs[-1], refs[0], line.reverse())):
        if (u, v) == (refs[0], refs[-1]) and not forward:
            continue
        if (u, v) == (refs[-1], refs[0]) and not backward:
            continue
        if graph.has_edge(u, v) and graph.edges[u, v]["length_m"] <= length:
            continue  # a parallel way between the same junctions: keep the shorter
        graph.add_edge(u, v, geometry=geometry, **attrs)


def _water_kind(tags: dict[str, str]) -> str | None:
    if tags.get("waterway") in _WATER_LINES:
        return tags["waterway"]
    if tags.get("natural") in {"water", "coastline"}:
        return tags["natural"]
    if tags.get("landuse") == "reservoir":
        return "reservoir"
    return None


def _water(kind: str, name: str, points: list[tuple[float, float]], *, closed: bool,
           forward: Transformer) -> Water | None:  # fmt: skip
    xs, ys = forward.transform([p[0] for p in points], [p[1] for p in points])
    coords = list(zip(xs, ys, strict=True))
    if len(coords) < 2:  # a line needs two points
        return None
    geometry = Polygon(coords) if closed and kind != "coastline" else LineString(coords)
    return Water(kind, name, geometry if geometry.is_valid else geometry.buffer(0))

"""The plan of a declared trip: the fastest legal route, the plausible roads, the corridor.

Two Dijkstra runs per leg give every node's forward time ``f`` from the start of the leg and
backward time ``b`` to its end, in legal dangerous-goods time (``time_s``). An edge (u, v) is
*plausible* when the cheapest whole trip that drives it is not much slower than the fastest::

    f(u) + t(u, v) + b(v) <= (1 + eps) * T* + slack        (defaults 30 % and 120 s)

With waypoints the trip is the chain of legs origin -> w1 -> ... -> destination; the cost of an
edge is the cheapest chained trip that drives it in some leg, and the budget is the whole trip's
(a five-minute detour is as plausible in a short leg as in a long one). The corridor is the
plausible edges, plus the short stretches from each declared place to its road node, buffered by
``corridor_m``. No k-shortest-path enumeration: the edge test covers every reasonable variant.

Checkpoints a plausible trip must pass (*expected*) are those on the fastest route that no route
within the same budget avoids. The design suggested 1.5 x + 300 s as the "unavoidable" cut; the
corridor's own budget is used instead so that "expected" and "plausible" mean the same thing.

The route part of a plan is cached in-process per (network identity, snapped nodes, thresholds);
a network without an identity (a hand-built test network) is never cached.
"""

from __future__ import annotations

import functools
import heapq
import itertools
import math
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import networkx as nx
import shapely
from shapely.geometry import LineString

from custody.errors import CoordinateInvalid
from routes.checkpoints import coverage
from routes.model import Thresholds

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from routes.checkpoints import SnappedCheckpoint
    from routes.model import DeclaredTrip, Place
    from routes.network import RoadNetwork

__all__ = ["PLACE_MAX_M", "Plan", "path_geometry", "plan_trip"]

#: A declared place (plant, disposer, waypoint) must be this close to a road of the network.
PLACE_MAX_M = 1000.0
_CACHE_SIZE = 64
_TOLERANCE_S = 1e-6  # float sums along different paths: the fastest route is always plausible
_DEFAULTS = Thresholds()


@dataclass(frozen=True, slots=True)
class _Leg:
    """One leg of a trip: the two searches and the fastest path."""

    start: int
    end: int
    time_s: float
    path: tuple[int, ...]
    forward: dict[int, float]  # f: fastest time from start
    forward_pred: dict[int, int]  # the previous node on that fastest path
    backward: dict[int, float]  # b: fastest time to end
    backward_next: dict[int, int]  # the next node on that fastest path


@dataclass(frozen=True, slots=True)
class _Route:
    """What a plan computes once per (network, places, thresholds) and caches."""

    graph: nx.DiGraph
    legs: tuple[_Leg, ...]
    before: tuple[float, ...]  # fastest time of the legs before leg i
    after: tuple[float, ...]  # ... and after it
    fastest: tuple[int, ...]
    fastest_s: float
    fastest_m: float
    plausible: frozenset[tuple[int, int]]
    corridor: Any


@dataclass(frozen=True)
class Plan:
    """A declared trip on the road network: what a compliant truck would drive."""

    trip: DeclaredTrip
    origin: int  # network nodes
    destination: int
    fastest: list[int]  # node path of the fastest legal route (time_s)
    fastest_s: float
    fastest_m: float
    plausible: frozenset[tuple[int, int]]  # edges of some route within the budget
    corridor: Any  # shapely (Multi)Polygon in metres, prepared
    expected: list[str]  # checkpoint ids a plausible trip must pass, in order along ``fastest``
    thresholds: Thresholds
    _route: _Route = field(repr=False, compare=False)

    @property
    def budget_s(self) -> float:
        """The slowest plausible trip: (1 + eps) T* + slack."""
        t = self.thresholds
        return (1 + t.detour_eps) * self.fastest_s + t.detour_slack_s

    def via_cost(self, node: int) -> float:
        """f(node) + b(node): the fastest whole trip through ``node``, in seconds (inf if none)."""
        return min(
            (before + leg.forward[node] + leg.backward[node] + after
             for leg, before, after in self._legs()
             if node in leg.forward and node in leg.backward),
            default=math.inf,
        )  # fmt: skip

    def via_edge_cost(self, u: int, v: int) -> float:
        """f(u) + t(u, v) + b(v): the fastest whole trip that drives edge (u, v), in seconds."""
        best, _ = self._via_edge(u, v)
        return best

    def via_path(self, u: int, v: int) -> list[int]:
        """The node path of the fastest whole trip that drives (u, v); [] if there is none."""
        best, i = self._via_edge(u, v)
        if not math.isfinite(best):
            return []
        legs = self._route.legs
        nodes = [n for leg in legs[:i] for n in leg.path[:-1]]
        leg = legs[i]
        head = [u]
        while head[-1] != leg.start:
            head.append(leg.forward_pred[head[-1]])
        nodes += head[::-1]
        nodes.append(v)
        while nodes[-1] != leg.end:
            nodes.append(leg.backward_next[nodes[-1]])
        for later in legs[i + 1 :]:
            nodes += later.path[1:]
        return nodes

    def _via_edge(self, u: int, v: int) -> tuple[float, int]:
        t = self._route.graph.edges[u, v]["time_s"]
        return min(
            ((before + leg.forward[u] + t + leg.backward[v] + after, i)
             for i, (leg, before, after) in enumerate(self._legs())
             if u in leg.forward and v in leg.backward),
            default=(math.inf, -1),
        )  # fmt: skip

    def _legs(self) -> zip[tuple[_Leg, float, float]]:
        route = self._route
        return zip(route.legs, route.before, route.after, strict=True)


def plan_trip(
    network: RoadNetwork,
    trip: DeclaredTrip,
    checkpoints: Sequence[SnappedCheckpoint] = (),
    thresholds: Thresholds = _DEFAULTS,
) -> Plan:
    """Plan a declared trip: fastest route through the waypoints, plausible edges, corridor.

    Raises:
        CoordinateInvalid: a declared place is more than :data:`PLACE_MAX_M` from every road
            connected to the rest of the network.
    """
    places = (trip.origin, *trip.waypoints, trip.destination)
    stops = tuple(_node(network, place, role) for place, role in
                  zip(places, _roles(len(places)), strict=True))  # fmt: skip
    route = _cached_route(network, places, stops, thresholds)
    return Plan(
        trip=trip,
        origin=stops[0],
        destination=stops[-1],
        fastest=list(route.fastest),
        fastest_s=route.fastest_s,
        fastest_m=route.fastest_m,
        plausible=route.plausible,
        corridor=route.corridor,
        expected=_expected(network, route, checkpoints, thresholds),
        thresholds=thresholds,
        _route=route,
    )


def path_geometry(network: RoadNetwork, nodes: Sequence[int]) -> LineString:
    """The line in metres along a node path (a point-like line for a single node)."""
    coords: list[tuple[float, float]] = []
    for u, v in itertools.pairwise(nodes):
        piece = list(network.edge(u, v)["geometry"].coords)
        coords += piece[1:] if coords else piece
    if not coords:
        data = network.graph.nodes[nodes[0]] if nodes else {"x": 0.0, "y": 0.0}
        coords = [(data["x"], data["y"])] * 2
    return LineString(coords)


# -- the route, cached ---------------------------------------------------------------------------

_cache: OrderedDict[tuple[object, ...], _Route] = OrderedDict()
_cache_lock = threading.Lock()


def _cached_route(
    network: RoadNetwork, places: tuple[Place, ...], stops: tuple[int, ...], thresholds: Thresholds
) -> _Route:
    if not network.identity:
        return _route(network, places, stops, thresholds)
    # The places join the key: the corridor includes the stretch from each place to its node.
    key = (network.identity, stops, tuple((p.lon, p.lat) for p in places), thresholds)
    with _cache_lock:
        if (hit := _cache.get(key)) is not None:
            _cache.move_to_end(key)
            return hit
    route = _route(network, places, stops, thresholds)
    with _cache_lock:
        _cache[key] = route
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return route


def _route(
    network: RoadNetwork, places: tuple[Place, ...], stops: tuple[int, ...], thresholds: Thresholds
) -> _Route:
    graph = network.graph
    legs = tuple(_leg(graph, a, b) for a, b in itertools.pairwise(stops))
    times = [leg.time_s for leg in legs]
    before = tuple(sum(times[:i]) for i in range(len(legs)))
    after = tuple(sum(times[i + 1 :]) for i in range(len(legs)))
    fastest = [stops[0]]
    for leg in legs:
        fastest += leg.path[1:]
    fastest_s = sum(times)
    budget = (1 + thresholds.detour_eps) * fastest_s + thresholds.detour_slack_s + _TOLERANCE_S
    plausible: set[tuple[int, int]] = set()
    for leg, head, tail in zip(legs, before, after, strict=True):
        for u, f in leg.forward.items():
            for v, data in graph.succ[u].items():
                b = leg.backward.get(v)
                if b is not None and head + f + data["time_s"] + b + tail <= budget:
                    plausible.add((u, v))
    return _Route(
        graph=graph,
        legs=legs,
        before=before,
        after=after,
        fastest=tuple(fastest),
        fastest_s=fastest_s,
        fastest_m=sum(graph.edges[e]["length_m"] for e in itertools.pairwise(fastest)),
        plausible=frozenset(plausible),
        corridor=_corridor(network, plausible, places, stops, thresholds.corridor_m),
    )


def _leg(graph: nx.DiGraph, start: int, end: int) -> _Leg:
    # Every place was joined to a node that reaches, or is reached from, the network's largest
    # strongly connected part, so a route between them always exists.
    forward, forward_pred = _dijkstra(graph.succ, start)
    backward, backward_next = _dijkstra(graph.pred, end)
    path = [end]
    while path[-1] != start:
        path.append(forward_pred[path[-1]])
    return _Leg(start, end, forward[end], tuple(path[::-1]), forward, forward_pred,
                backward, backward_next)  # fmt: skip


def _dijkstra(
    adjacency: Mapping[int, Mapping[int, Mapping[str, Any]]], source: int
) -> tuple[dict[int, float], dict[int, int]]:
    """Times from ``source`` over ``adjacency`` and each node's neighbour on its fastest path.

    Ties are broken by the order nodes were reached, which follows the graph's insertion order:
    the same network always gives the same paths.
    """
    done: dict[int, float] = {}
    via: dict[int, int] = {}
    best = {source: 0.0}
    counter = itertools.count()
    heap = [(0.0, next(counter), source)]
    while heap:
        time, _, node = heapq.heappop(heap)
        if node in done:
            continue
        done[node] = time
        for other, data in adjacency[node].items():
            candidate = time + data["time_s"]
            if other not in done and candidate < best.get(other, math.inf):
                best[other] = candidate
                via[other] = node
                heapq.heappush(heap, (candidate, next(counter), other))
    return done, via


def _corridor(
    network: RoadNetwork,
    plausible: set[tuple[int, int]],
    places: tuple[Place, ...],
    stops: tuple[int, ...],
    width: float,
) -> Any:  # noqa: ANN401  # a shapely (Multi)Polygon
    lines = []
    for u, v in sorted(plausible):
        data = network.edge(u, v)
        if u > v and (v, u) in plausible and network.edge(v, u)["way"] == data["way"]:
            continue  # a two-way road: one geometry for both directions
        lines.append(data["geometry"])
    for place, node in zip(places, stops, strict=True):  # from the gate to the road
        data = network.graph.nodes[node]
        start = network.project(place.lon, place.lat)
        if math.dist(start, (data["x"], data["y"])) > 0:
            lines.append(LineString([start, (data["x"], data["y"])]))
    # Buffering each line and merging the pieces is ten times faster than buffering the
    # multi-line at once (0.2 s against 2.3 s for Monaco's 1,900 plausible roads), same area.
    corridor = shapely.union_all(shapely.buffer(lines, width))
    shapely.prepare(corridor)
    return corridor


# -- declared places onto the network --------------------------------------------------------------


def _roles(count: int) -> list[str]:
    return ["origin", *(f"waypoint {i}" for i in range(1, count - 1)), "destination"]


def _node(network: RoadNetwork, place: Place, role: str) -> int:
    """The road node a declared place joins: an end of the nearest edge that serves its role.

    A trip starts from a node it can drive away from into the well-connected part of the
    network (the largest strongly connected component), ends at one it can reach from there,
    and passes a waypoint both ways. So the start of a motorway at the edge of the extract can
    be an origin, and an isolated fragment of road is never chosen.
    """
    x, y = network.project(place.lon, place.lat)
    leaves_to, reached_from = _connected(network)

    def serves(node: int) -> bool:
        if role == "origin":
            return node in leaves_to
        if role == "destination":
            return node in reached_from
        return node in leaves_to and node in reached_from

    for _, u, v in network.edges_near(x, y, PLACE_MAX_M):
        ends = [n for n in (u, v) if serves(n)]
        if ends:
            return min(ends, key=lambda n: (_distance(network, n, x, y), n))
    raise CoordinateInvalid(
        f"the {role} {place.name} ({place.lon:.6f}, {place.lat:.6f}) is more than"
        f" {PLACE_MAX_M:.0f} m from every connected road of the network",
        zh=f"申报地点 {place.name}（{place.lon:.6f}, {place.lat:.6f}）距路网中所有道路超过"
        f" {PLACE_MAX_M:.0f} 米", place=role,
    )  # fmt: skip


def _distance(network: RoadNetwork, node: int, x: float, y: float) -> float:
    data = network.graph.nodes[node]
    return math.dist((data["x"], data["y"]), (x, y))


def _connected(network: RoadNetwork) -> tuple[frozenset[int], frozenset[int]]:
    """Nodes that can reach the network's largest strongly connected part, and nodes it reaches."""
    if network.identity:
        return _connected_of(network.identity, network.graph)
    return _connected_in(network.graph)


@functools.lru_cache(maxsize=4)
def _connected_of(identity: str, graph: nx.DiGraph) -> tuple[frozenset[int], frozenset[int]]:  # noqa: ARG001  # the cache key
    return _connected_in(graph)


def _connected_in(graph: nx.DiGraph) -> tuple[frozenset[int], frozenset[int]]:
    main = max(nx.strongly_connected_components(graph), key=len)
    seed = next(iter(main))
    return (frozenset(nx.ancestors(graph, seed) | {seed}),
            frozenset(nx.descendants(graph, seed) | {seed}))  # fmt: skip


# -- checkpoints a plausible trip must pass -----------------------------------------------------


def _expected(
    network: RoadNetwork,
    route: _Route,
    checkpoints: Sequence[SnappedCheckpoint],
    thresholds: Thresholds,
) -> list[str]:
    position: dict[tuple[int, int], int] = {}
    for i, edge in enumerate(itertools.pairwise(route.fastest)):
        position.setdefault(edge, i)
    budget = (1 + thresholds.detour_eps) * route.fastest_s + thresholds.detour_slack_s
    found = []
    for checkpoint in checkpoints:
        watched = coverage(network, checkpoint)
        on_route = [(position[u, v], offset) for u, v, offset in watched if (u, v) in position]
        if on_route and _avoiding(network.graph, route, {(u, v) for u, v, _ in watched}) > budget:
            found.append((min(on_route), checkpoint.checkpoint_id))
    return [checkpoint_id for _, checkpoint_id in sorted(found)]


def _avoiding(graph: nx.DiGraph, route: _Route, banned: set[tuple[int, int]]) -> float:
    """The fastest chained trip that drives none of ``banned`` (inf if there is none)."""

    def weight(u: int, v: int, data: dict[str, Any]) -> float | None:
        return None if (u, v) in banned else float(data["time_s"])

    total = 0.0
    for leg in route.legs:
        try:
            time, _ = nx.bidirectional_dijkstra(graph, leg.start, leg.end, weight=weight)
        except nx.NetworkXNoPath:
            return math.inf
        total += time
    return total

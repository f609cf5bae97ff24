"""Synthetic GPS traces on a real road network, for tests, benchmarks and demonstrations.

A trace is what a JT/T 808 terminal on a loaded truck would report while it drives a known node
path: one fix every ``interval_s`` seconds, each off the true position by Gaussian noise. Because
the truth is known, a map matcher can be scored against it (:func:`route_overlap`). The same
arguments always give the same trace: the noise comes from a seeded generator.
"""

from __future__ import annotations

import itertools
import math
from datetime import timedelta
from typing import TYPE_CHECKING

import networkx as nx
import numpy as np

from custody.errors import InputError, NotFoundError
from routes.model import Fix

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence
    from datetime import datetime

    import shapely

    from routes.network import RoadNetwork

__all__ = ["NoRoute", "drive", "fastest_path", "route_overlap"]


class NoRoute(NotFoundError):
    """No road leads from one node to the other."""

    code = "no-route"
    title = "No route"
    title_zh = "无可行路线"


def fastest_path(
    network: RoadNetwork, origin: int, destination: int, weight: str = "time_s"
) -> list[int]:
    """The nodes of the fastest path (or the shortest, with ``weight="length_m"``)."""
    try:
        path: list[int] = nx.shortest_path(network.graph, origin, destination, weight=weight)
    except (nx.NetworkXNoPath, nx.NodeNotFound):
        raise NoRoute(f"no road leads from node {origin} to node {destination}",
                      zh=f"节点 {origin} 到节点 {destination} 之间无道路相通",
                      origin=origin, destination=destination) from None  # fmt: skip
    return path


def drive(  # noqa: PLR0913  # a trace is described by this many independent knobs
    network: RoadNetwork,
    nodes: Sequence[int],
    start: datetime,
    *,
    interval_s: float = 30.0,
    sigma_m: float = 10.0,
    seed: int = 0,
    speed_factor: float = 1.0,
    stops: Sequence[tuple[int, float]] = (),
) -> list[Fix]:
    """Drive the node path and report a noisy fix every ``interval_s`` seconds.

    Each edge is driven at the loaded-truck speed of its road class (``length_m / free_s``)
    times ``speed_factor``. ``stops`` are (index into ``nodes``, seconds) pauses at that node;
    the fixes reported during a pause scatter around it like a parked truck's. The first fix is
    at ``start`` at the first node; the last is at the final node at the first reporting time
    after arrival, as a terminal keeps reporting from a truck standing at its destination.
    Noise is Gaussian, ``sigma_m`` metres on each axis; positions are rounded to 1e-6 degree as
    JT/T 808 sends them.
    """
    _check(network, nodes, interval_s=interval_s, sigma_m=sigma_m,
           speed_factor=speed_factor, stops=stops)  # fmt: skip
    # The trip as consecutive legs, each (geometry or None for a pause, node, seconds).
    legs: list[tuple[shapely.LineString | None, int, float]] = []
    pauses = dict.fromkeys(range(len(nodes)), 0.0)
    for index, seconds in stops:
        pauses[index] += seconds
    for i, node in enumerate(nodes):
        if pauses[i] > 0:
            legs.append((None, node, pauses[i]))
        if i + 1 < len(nodes):
            data = network.edge(node, nodes[i + 1])
            seconds = data["free_s"] / speed_factor
            legs.append((data["geometry"], node, seconds))
    ends = np.cumsum([seconds for _, _, seconds in legs])
    total = float(ends[-1]) if legs else 0.0

    steps = math.ceil(total / interval_s - 1e-9)  # the first report at or after arrival
    times = np.arange(steps + 1) * interval_s
    which = np.searchsorted(ends, times, side="right")  # the leg driven at each time
    rng = np.random.default_rng(seed)
    noise = rng.normal(0.0, sigma_m, size=(len(times), 2))

    fixes = []
    last = network.graph.nodes[nodes[-1]]
    for t, leg, (dx, dy) in zip(times.tolist(), which.tolist(), noise.tolist(), strict=True):
        if leg >= len(legs):  # arrived: standing at the destination
            x, y, speed = last["x"], last["y"], 0.0
        else:
            geometry, node, seconds = legs[leg]
            if geometry is None:
                x, y, speed = network.graph.nodes[node]["x"], network.graph.nodes[node]["y"], 0.0
            else:
                began = float(ends[leg]) - seconds
                point = geometry.interpolate((t - began) / seconds, normalized=True)
                x, y, speed = point.x, point.y, geometry.length / seconds * 3.6
        lon, lat = network.to_wgs84(x + dx, y + dy)
        fixes.append(Fix(start + timedelta(seconds=t), round(lon, 6), round(lat, 6),
                         round(speed, 1)))  # fmt: skip
    return fixes


def route_overlap(
    network: RoadNetwork, truth: Sequence[int], matched: Iterable[Sequence[int]]
) -> float:
    """Share of the true path's length on edges that the matched node paths also use.

    ``truth`` is a node path; ``matched`` is one or more node paths (a match in pieces). Edges are
    directed: matching the opposite carriageway does not count.
    """
    used = {edge for path in matched for edge in itertools.pairwise(path)}
    edges = list(itertools.pairwise(truth))
    total = sum(network.edge(u, v)["length_m"] for u, v in edges)
    if total == 0:
        return 1.0
    shared = sum(network.edge(u, v)["length_m"] for u, v in edges if (u, v) in used)
    return float(shared / total)


def _check(  # noqa: PLR0913  # the arguments of drive(), checked in one place
    network: RoadNetwork,
    nodes: Sequence[int],
    *,
    interval_s: float,
    sigma_m: float,
    speed_factor: float,
    stops: Sequence[tuple[int, float]],
) -> None:
    if not nodes:
        raise InputError("a drive needs at least one node", zh="行驶路径至少需要一个节点")
    if not (interval_s > 0 and sigma_m >= 0 and speed_factor > 0):
        raise InputError("interval and speed factor must be positive, noise not negative",
                         zh="上报间隔和速度系数须为正数，噪声不得为负")  # fmt: skip
    for u, v in itertools.pairwise(nodes):
        if not network.graph.has_edge(u, v):
            raise InputError(f"no road from node {u} to node {v}",
                             zh=f"节点 {u} 到节点 {v} 之间没有道路", u=u, v=v)  # fmt: skip
    if nodes[0] not in network.graph:
        raise InputError(f"node {nodes[0]} is not on the network", zh=f"节点 {nodes[0]} 不在路网上")
    for index, seconds in stops:
        if not (0 <= index < len(nodes) and seconds >= 0):
            raise InputError(f"stop ({index}, {seconds}) is not a node index and a duration",
                             zh="停车须给出路径节点序号和时长")  # fmt: skip

"""Road checkpoints snapped, once, to the directed edge they watch.

A checkpoint (ANPR camera gate, scan station, weighbridge, toll) is registered with its WGS-84
position and snapped to the nearest road edge; the snap distance is kept as evidence. A point
more than ``max_m`` (30 m) from every road is refused unless someone confirmed it by hand: a
camera 200 m from any road is more likely a mistyped or GCJ-02 coordinate than a real gate.

A camera on a divided road sees one carriageway. Give its ``bearing_deg`` (the direction of the
traffic it reads, degrees clockwise from north) and the snap takes the nearest edge running that
way. On an undivided two-way road both directions share one geometry; the checkpoint is then
taken to watch both (see :func:`coverage`), as gate cameras that span the road do.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import shapely

from custody.errors import CoordinateInvalid, RecordInvalid
from routes._evidence import road_name
from routes.model import Place

if TYPE_CHECKING:
    from routes.network import RoadNetwork

__all__ = ["KINDS", "SnappedCheckpoint", "coverage", "snap"]

#: What a checkpoint can be.
KINDS = frozenset({"anpr_gate", "scan_station", "weighbridge", "toll"})
#: How far an edge's direction may differ from a camera's bearing and still fit it.
BEARING_FIT_DEG = 60.0
_DIRECTION_SPAN_M = 10.0  # the stretch of road whose direction is compared with the bearing


@dataclass(frozen=True, slots=True)
class SnappedCheckpoint:
    """A checkpoint and the directed edge it covers."""

    checkpoint_id: str
    name: str
    kind: str  # anpr_gate | scan_station | weighbridge | toll
    lon: float  # WGS-84, as registered
    lat: float
    x: float  # the same point in the network's metres
    y: float
    u: int  # the directed edge it covers
    v: int
    offset_m: float  # along the edge from u
    snap_m: float  # distance from the point to the edge
    road: str  # ref and name of the edge ("A 8 La Provençale"); "" for an unnamed road


def snap(  # noqa: PLR0913, PLR0917  # the registration record's fields, in its order
    network: RoadNetwork,
    checkpoint_id: str,
    name: str,
    kind: str,
    lon: float,
    lat: float,
    *,
    max_m: float = 30.0,
    confirmed: bool = False,
    bearing_deg: float | None = None,
) -> SnappedCheckpoint:
    """Snap a checkpoint to the directed edge it watches.

    Raises:
        CoordinateInvalid: the point is not a WGS-84 coordinate, or no road (running the
            ``bearing_deg`` way, if given) is within ``max_m`` and ``confirmed`` is false.
        RecordInvalid: ``kind`` is not one of :data:`KINDS`.
    """
    if kind not in KINDS:
        raise RecordInvalid(f"checkpoint kind {kind!r} is not one of {', '.join(sorted(KINDS))}",
                            zh=f"检查点类型 {kind!r} 无效", field="kind")  # fmt: skip
    Place(lon, lat)  # raises CoordinateInvalid for a point off the globe
    x, y = network.project(lon, lat)
    candidates = network.edges_near(x, y, max_m)
    if bearing_deg is not None:
        candidates = [c for c in candidates if _fits(network, c[1:], (x, y), bearing_deg)]
    if not candidates:
        nearest = network.nearest_edge(x, y)
        if not confirmed:
            if bearing_deg is None:
                why = f"is {nearest[0]:.0f} m from the nearest road"
                why_zh = f"距最近道路 {nearest[0]:.0f} 米"
            else:
                why = f"has no road within {max_m:.0f} m running {bearing_deg:.0f}°"
                why_zh = f"{max_m:.0f} 米内没有方向为 {bearing_deg:.0f}° 的道路"
            raise CoordinateInvalid(
                f"checkpoint {checkpoint_id} {why}; more than {max_m:.0f} m needs confirming"
                " by hand",
                zh=f"检查点 {checkpoint_id} {why_zh}，超过 {max_m:.0f} 米须人工确认",
                checkpoint_id=checkpoint_id, distance_m=round(nearest[0], 1),
            )  # fmt: skip
        candidates = [nearest]
    snap_m, u, v = candidates[0]
    geometry = network.edge(u, v)["geometry"]
    return SnappedCheckpoint(
        checkpoint_id=checkpoint_id, name=name, kind=kind, lon=lon, lat=lat, x=x, y=y, u=u, v=v,
        offset_m=float(geometry.project(shapely.Point(x, y))), snap_m=snap_m,
        road=road_name(network.edge(u, v)),
    )  # fmt: skip


def coverage(network: RoadNetwork, checkpoint: SnappedCheckpoint) -> list[tuple[int, int, float]]:
    """The directed edges a checkpoint watches, each with the checkpoint's offset along it.

    Its own edge, and the opposite direction of the same two-way way (the same geometry
    reversed). A divided road's other carriageway is another way, so it is not included.

    Raises:
        CoordinateInvalid: the checkpoint was snapped to another road network.
    """
    u, v = checkpoint.u, checkpoint.v
    if not network.graph.has_edge(u, v):
        raise CoordinateInvalid(
            f"checkpoint {checkpoint.checkpoint_id} was snapped to another road network",
            zh=f"检查点 {checkpoint.checkpoint_id} 的定位基于其他版本的路网，须重新定位",
            checkpoint_id=checkpoint.checkpoint_id,
        )
    edges = [(u, v, checkpoint.offset_m)]
    data = network.edge(u, v)
    if network.graph.has_edge(v, u) and network.edge(v, u)["way"] == data["way"]:
        edges.append((v, u, max(0.0, data["length_m"] - checkpoint.offset_m)))
    return edges


def _fits(
    network: RoadNetwork, edge: tuple[int, int], at: tuple[float, float], bearing_deg: float
) -> bool:
    """Whether the edge near ``at`` runs within :data:`BEARING_FIT_DEG` of the bearing."""
    geometry = network.edge(*edge)["geometry"]
    along = geometry.project(shapely.Point(at))
    a = geometry.interpolate(max(0.0, along - _DIRECTION_SPAN_M))
    b = geometry.interpolate(min(geometry.length, along + _DIRECTION_SPAN_M))
    heading = math.degrees(math.atan2(b.x - a.x, b.y - a.y)) % 360
    difference = abs(heading - bearing_deg % 360)
    return min(difference, 360 - difference) <= BEARING_FIT_DEG

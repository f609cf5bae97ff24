# ruff: noqa: D102  # the protocols' properties are documented on the classes they describe
"""Draw a checked trip on its road network: one standalone SVG an officer can read unaided.

The map is drawn from the network's metres (UTM), so distances on it are true and the scale
bar can be trusted; WGS-84 inputs (the findings' GeoJSON layers, fixes, declared places) are
projected with :meth:`~routes.network.RoadNetwork.project` first. Nothing is fetched: no tiles,
no web fonts (text names a CJK font stack the viewer already has). The same inputs give the
same bytes: every coordinate is written to a tenth of a pixel, everything in a fixed order.

Layers, bottom to top::

    roads (grey; motorways thicker; main roads named) · water (blue) · sensitive areas (shaded
    red, named) · plausible corridor (translucent green) · planned fastest route (green) ·
    routes via off-route checkpoints (dashed orange) · deviations (thick red) · GPS track
    (purple, a dot per fix, dashed across gaps) · stops (amber circles growing with the
    duration, minutes beside) · checkpoints (seen: filled; expected but not seen: hollow with
    a cross; seen off the route: red on yellow) · origin 起 and destination 终 · finding numbers

Below the map: the legend (Chinese, then English) of what this map shows, and the findings,
numbered as on the map. On the map: a scale bar and an arrow to true north (in UTM a degree or
so off the grid's up). Clock times are China Standard Time, as in the findings' sentences.
"""

from __future__ import annotations

import itertools
import math
import re
import unicodedata
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol
from xml.sax.saxutils import escape, quoteattr

import shapely
from shapely.geometry import LineString, MultiLineString, Point, box, shape

from routes._evidence import CHINA_TIME
from routes.model import Severity, Thresholds

if TYPE_CHECKING:
    from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
    from collections.abc import Set as AbstractSet
    from datetime import datetime

    from routes.model import DeclaredTrip, Finding, Fix, Sighting
    from routes.network import RoadNetwork

__all__ = ["AreaLike", "CheckpointLike", "PlanLike", "ReportLike", "report_map", "trip_map"]


# -- what a map is drawn from: the shapes of routes.corridor.Plan, routes.checks.TripReport,
# routes.checkpoints.SnappedCheckpoint and routes.areas.SensitiveArea, as protocols, so that
# drawing depends on none of those modules and a test can draw from stand-ins -----------------


class PlanLike(Protocol):
    """A planned trip (``routes.corridor.Plan``).

    Attributes: the declared ``trip``; ``fastest``, the node path of the fastest legal route;
    ``plausible``, the directed edges of any route within the detour budget; ``corridor``, a
    shapely polygon in metres; ``expected``, the ids of checkpoints a plausible trip passes;
    the ``thresholds`` used.
    """

    @property
    def trip(self) -> DeclaredTrip: ...
    @property
    def fastest(self) -> Sequence[int]: ...
    @property
    def plausible(self) -> AbstractSet[tuple[int, int]]: ...
    @property
    def corridor(self) -> Any: ...  # noqa: ANN401  # shapely has no type hints
    @property
    def expected(self) -> Collection[str]: ...
    @property
    def thresholds(self) -> Thresholds: ...


class ReportLike(Protocol):
    """A checked trip (``routes.checks.TripReport``): its plan, findings and GPS track."""

    @property
    def plan(self) -> PlanLike: ...
    @property
    def findings(self) -> Sequence[Finding]: ...
    @property
    def track(self) -> Sequence[Fix]: ...


class CheckpointLike(Protocol):
    """A checkpoint snapped to a road (``routes.checkpoints.SnappedCheckpoint``).

    Attributes: ``checkpoint_id`` and ``name``; ``x``, ``y``, its position in the network's
    metres; ``u``, ``v``, the directed edge it watches.
    """

    @property
    def checkpoint_id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def x(self) -> float: ...
    @property
    def y(self) -> float: ...
    @property
    def u(self) -> int: ...
    @property
    def v(self) -> int: ...


class AreaLike(Protocol):
    """A sensitive area (``routes.areas.SensitiveArea``).

    Attributes: ``name``, ``kind``, and ``geometry``, a shapely polygon in the network's metres.
    """

    @property
    def name(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def geometry(self) -> Any: ...  # noqa: ANN401  # shapely has no type hints


# -- look -----------------------------------------------------------------------------------------

_FONT_FAMILY = "Noto Sans CJK SC, Noto Sans SC, Source Han Sans SC, Microsoft YaHei, sans-serif"
_INK, _GREY = "#222", "#555"
_ROUTE, _CORRIDOR, _VIA = "#1a7f3c", "#31a354", "#e6550d"
_TRACK, _DEVIATION, _STOP, _STOP_INK = "#54278f", "#d7191c", "#ff7f00", "#8c4a00"
_WATER, _WATER_FILL = "#4f8fcf", "#b7d5f0"
_AREA, _AREA_EDGE = "#ff7043", "#d84315"
_CHECKPOINT, _ORIGIN, _DESTINATION = "#08306b", "#1a7f3c", "#222"
_WAYPOINT, _AUTHORISED = "#1a7f3c", "#3182bd"
_SEVERITY = {
    Severity.HIGH: ("高", "#d7191c"),
    Severity.MEDIUM: ("中", "#f46d43"),
    Severity.LOW: ("低", "#e0a800"),
    Severity.INFO: ("提示", "#8c8c8c"),
}

#: Road classes: (style, rank for naming); roads not listed are minor (rd0, rank 0).
_ROAD_CLASS = {
    "motorway": ("rd3", 4),
    "trunk": ("rd2", 3),
    "primary": ("rd2", 3),
    "motorway_link": ("rd2", 0),
    "trunk_link": ("rd1", 0),
    "primary_link": ("rd1", 0),
    "secondary": ("rd1", 2),
    "secondary_link": ("rd1", 0),
    "tertiary": ("rd1", 1),
}
_MAX_ROAD_LABELS = 16
_MARGIN_SHARE, _MARGIN_MIN_M = 0.12, 250.0  # around the trip: 12 % of its extent, >= 250 m
_MIN_SPAN_M = 1200.0  # a map never shows less than this across
_ASPECT = (0.55, 1.0)  # height / width of the map
_SCALE_STEPS = (20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000, 100000)
#: A finding's layers are drawn by kind, the kind being the first of these its key starts with;
#: "route" and "corridor" show the plan (drawn once), "stop" a stop, "water" the nearest water
#: to it, "area" areas entered, "checkpoint", "missing" and "sightings" checkpoints; the rest
#: are lines of evidence.
_KINDS = ("route", "corridor", "stop", "water", "area", "checkpoint", "missing", "sightings",
          "episode", "gap", "via_route", "legal_path")  # fmt: skip
_MARKS = frozenset({"checkpoint", "missing", "sightings"})
#: Where a finding's number goes: by the first of these layers it has ...
_BADGE_LAYERS = ("episode", "stop", "gap", "checkpoint", "missing", "legal_path", "via_route")
#: ... at the first of these offsets (pixels at a width of 1,000) clear of labels and numbers.
_BADGE_SPOTS = ((12, -12), (-12, -12), (12, 12), (-12, 12), (0, -24), (24, 0), (0, 24), (-24, 0),
                (30, -30), (-30, -30), (30, 30), (-30, 30))  # fmt: skip
#: Lines of evidence: kind, group id, style, legend; drawn in two runs, under and over the route.
_UNDER_ROUTE = (
    (
        "via_route",
        "via-routes",
        "vr",
        "经路线外卡口的最快路线 Fastest route via the off-route checkpoint",
    ),
    (
        "legal_path",
        "legal-paths",
        "lp",
        "两次识别间的最快合法路线 Fastest legal route between two reads",
    ),
)
_OVER_ROUTE = (
    ("episode", "deviations", "dv", "偏离路线 Off-route deviation"),
    ("water", "water-links", "wk", "停车点到最近水体 From the stop to the nearest water"),
    ("other", "other-layers", "ot", "其他证据 Other evidence"),
    ("marks", "marks", "mk", "证据中的卡口 Checkpoint named in a finding"),
)
_CHECKPOINT_LEGEND = (
    ("seen", "卡口：已识别（识别时间）Checkpoint: vehicle seen (time)"),
    ("off-route", "卡口：在路线外识别 Checkpoint: seen off the route"),
    ("missed", "卡口：应经过但未识别 Checkpoint: expected, not seen"),
    ("idle", "卡口：非必经且未识别 Checkpoint: not required, not seen"),
)


# -- entry points ----------------------------------------------------------------------------------


def report_map(  # noqa: PLR0913  # the report and the inputs it was checked with
    network: RoadNetwork,
    report: ReportLike,
    *,
    checkpoints: Sequence[CheckpointLike] = (),
    sightings: Sequence[Sighting] = (),
    areas: Sequence[AreaLike] = (),
    width_px: int = 1000,
) -> str:
    """Draw a checked trip (a ``TripReport``) with the checkpoints and sightings it used."""
    return trip_map(
        network,
        report.plan.trip,
        plan=report.plan,
        findings=report.findings,
        track=report.track,
        checkpoints=checkpoints,
        sightings=sightings,
        areas=areas,
        width_px=width_px,
    )


def trip_map(  # noqa: PLR0913  # every part of a map is an optional keyword
    network: RoadNetwork,
    trip: DeclaredTrip,
    *,
    plan: PlanLike | None = None,
    findings: Sequence[Finding] = (),
    track: Sequence[Fix] = (),
    checkpoints: Sequence[CheckpointLike] = (),
    sightings: Sequence[Sighting] = (),
    areas: Sequence[AreaLike] = (),
    width_px: int = 1000,
    road_names: bool = True,
) -> str:
    """Draw a trip and whatever is known of it as a standalone SVG document.

    Only the network and the declared trip are needed: a map of a plan shows its route and
    corridor; ``findings`` add their map layers (GeoJSON in WGS-84) and are listed, numbered,
    below the map; ``track`` is the GPS track; ``checkpoints`` are drawn by what ``sightings``
    and the plan say of them; ``areas`` are shaded.

    Raises:
        ValueError: ``width_px`` is outside 300-10,000.
    """
    if not 300 <= width_px <= 10000:
        raise ValueError(f"width_px must be 300-10000, not {width_px}")
    scene = _Scene(network, trip, plan=plan, findings=findings, areas=areas)
    scene.add_track(track)
    scene.add_checkpoints(checkpoints, sightings)
    for number, finding in enumerate(findings, start=1):
        scene.add_finding(number, finding)
    return _Drawing(scene, width_px, road_names=road_names).render()


# -- everything to draw, in metres -----------------------------------------------------------------


@dataclass(slots=True)
class _Stop:
    centre: tuple[float, float]
    minutes: float | None


@dataclass(slots=True)
class _Checkpoint:
    checkpoint: CheckpointLike
    state: str  # seen | off-route | missed | idle
    seen: datetime | None


@dataclass(slots=True)
class _Badge:
    number: int
    severity: Severity
    anchor: Any  # shapely geometry in metres, or None when the finding has no place


class _Scene:
    """The trip and what was seen of it, projected to the network's metres."""

    def __init__(
        self,
        network: RoadNetwork,
        trip: DeclaredTrip,
        *,
        plan: PlanLike | None,
        findings: Sequence[Finding],
        areas: Sequence[AreaLike],
    ) -> None:
        self.network = network
        self.trip = trip
        self.plan = plan
        self.findings = findings
        self.areas = list(areas)
        self.origin = network.project(trip.origin.lon, trip.origin.lat)
        self.destination = network.project(trip.destination.lon, trip.destination.lat)
        self.waypoints = [network.project(p.lon, p.lat) for p in trip.waypoints]
        self.authorised = [network.project(p.lon, p.lat) for p in trip.authorised_stops]
        thresholds = plan.thresholds if plan is not None else Thresholds()
        self.gap_s = thresholds.gps_interval_s * thresholds.gps_gap_factor
        self.route: Any = _route_line(network, plan.fastest) if plan is not None else None
        self.corridor: Any = plan.corridor if plan is not None else None
        self.track: list[tuple[datetime, float, float]] = []
        self.checkpoints: list[_Checkpoint] = []
        self.layers: dict[str, list[Any]] = {}  # drawing kind -> geometries
        self.area_layers: list[Any] = []  # areas the findings say were entered
        self.stops: list[_Stop] = []
        self.badges: list[_Badge] = []

    def add_track(self, track: Sequence[Fix]) -> None:
        """The GPS fixes in time order."""
        fixes = sorted(track, key=lambda f: f.at)
        xs, ys = self.network.project_many([f.lon for f in fixes], [f.lat for f in fixes])
        self.track = [(f.at, x, y) for f, x, y in zip(fixes, xs, ys, strict=True)]

    def add_checkpoints(
        self, checkpoints: Sequence[CheckpointLike], sightings: Sequence[Sighting]
    ) -> None:
        """Each checkpoint with what happened there: seen, seen off route, missed, or nothing."""
        first_seen: dict[str, datetime] = {}
        for sighting in sorted(sightings, key=lambda s: s.seen_at):
            first_seen.setdefault(sighting.checkpoint_id, sighting.seen_at)
        named_off_route = {  # the checkpoint an off-route-sighting finding names
            _checkpoint_id(finding.facts.get("checkpoint"))
            for finding in self.findings
            if finding.rule == "off-route-sighting"
        }
        plausible = self.plan.plausible if self.plan is not None else None
        expected = set(self.plan.expected) if self.plan is not None else set()
        for checkpoint in sorted(checkpoints, key=lambda c: c.checkpoint_id):
            cid = checkpoint.checkpoint_id
            seen = first_seen.get(cid)
            if seen is None:
                state = "missed" if cid in expected else "idle"
            elif cid in named_off_route or (
                plausible is not None
                and (checkpoint.u, checkpoint.v) not in plausible
                and (checkpoint.v, checkpoint.u) not in plausible
            ):
                state = "off-route"
            else:
                state = "seen"
            self.checkpoints.append(_Checkpoint(checkpoint, state, seen))

    def add_finding(self, number: int, finding: Finding) -> None:
        """A finding's layers, sorted by how they are drawn, and where its number goes."""
        metric = {
            key: geometry
            for key, value in sorted(finding.layers.items())
            if (geometry := _metric(self.network, value)) is not None
        }
        stop = metric["stop"].centroid if "stop" in metric else None
        for key, geometry in metric.items():
            kind = next((k for k in _KINDS if key.startswith(k)), "other")
            if kind == "route":
                self.route = geometry if self.route is None else self.route
            elif kind == "corridor":
                self.corridor = geometry if self.corridor is None else self.corridor
            elif kind == "stop":
                centre = geometry.centroid
                self.stops.append(_Stop((centre.x, centre.y), _minutes(finding)))
            elif kind == "water" and stop is not None:
                water = geometry.representative_point()
                self.layers.setdefault("water", []).append(LineString([stop, water]))
            elif kind == "area":
                self.area_layers.append(geometry)
            else:
                self.layers.setdefault("marks" if kind in _MARKS else kind, []).append(geometry)
        self.badges.append(_Badge(number, finding.severity, _anchor(metric)))

    def extent(self) -> tuple[float, float, float, float]:
        """What the map shows: the trip and everything seen of it, with a margin around."""
        points = [self.origin, self.destination, *self.waypoints]
        points += [(x, y) for _, x, y in self.track]
        points += [(c.checkpoint.x, c.checkpoint.y) for c in self.checkpoints if c.state != "idle"]
        points += [stop.centre for stop in self.stops]
        shapes = [self.route, self.corridor, *(g for kind in self.layers.values() for g in kind)]
        for geometry in shapes:
            if geometry is not None and not geometry.is_empty:
                minx, miny, maxx, maxy = geometry.bounds
                points += [(minx, miny), (maxx, maxy)]
        xs, ys = [p[0] for p in points], [p[1] for p in points]
        minx, miny, maxx, maxy = min(xs), min(ys), max(xs), max(ys)
        margin = max(_MARGIN_SHARE * max(maxx - minx, maxy - miny), _MARGIN_MIN_M)
        width = max(maxx - minx + 2 * margin, _MIN_SPAN_M)
        height = maxy - miny + 2 * margin
        width = max(width, height / _ASPECT[1])  # too tall: widen
        height = min(max(height, width * _ASPECT[0]), width * _ASPECT[1])  # too flat: heighten
        cx, cy = (minx + maxx) / 2, (miny + maxy) / 2
        return cx - width / 2, cy - height / 2, cx + width / 2, cy + height / 2


def _route_line(network: RoadNetwork, nodes: Sequence[int]) -> Any:  # noqa: ANN401  # shapely
    lines = [network.edge(a, b)["geometry"] for a, b in itertools.pairwise(nodes)]
    return shapely.line_merge(MultiLineString(lines)) if lines else None


def _metric(network: RoadNetwork, value: object) -> Any:  # noqa: ANN401  # shapely
    """A GeoJSON geometry, Feature or FeatureCollection in WGS-84, in the network's metres."""
    if not isinstance(value, dict):
        return None
    if value.get("type") == "Feature":
        return _metric(network, value.get("geometry"))
    if value.get("type") == "FeatureCollection":
        parts = [_metric(network, feature) for feature in value.get("features") or []]
        parts = [part for part in parts if part is not None]
        return shapely.GeometryCollection(parts) if parts else None
    try:
        geometry = shape(value)
    except (
        ValueError,
        TypeError,
        KeyError,
        AttributeError,
        IndexError,
        shapely.errors.GEOSException,
    ):
        return None  # not a geometry: nothing to draw
    if geometry.is_empty:
        return None
    return shapely.transform(geometry, lambda coords: _projected(network, coords.tolist()))


def _projected(network: RoadNetwork, coords: list[list[float]]) -> list[tuple[float, float]]:
    xs, ys = network.project_many([c[0] for c in coords], [c[1] for c in coords])
    return list(zip(xs, ys, strict=True))


def _anchor(metric: Mapping[str, Any]) -> Any:  # noqa: ANN401  # shapely
    """Where a finding's number goes: where a deviation began, at a stop, on a gap ..."""
    key = next((k for k in _BADGE_LAYERS if k in metric), None)
    if key is None:
        key = next((k for k in metric if k not in {"route", "corridor"}), None)
    if key is None:
        return None
    geometry = metric[key]
    if key == "episode":
        first = next(_parts(geometry))
        return Point(first.coords[0]) if first.geom_type == "LineString" else first
    return geometry


def _checkpoint_id(fact: object) -> str | None:
    """The id in a finding's ``checkpoint`` fact: ``{"id": ...}`` as routes.checks writes it."""
    if isinstance(fact, dict):
        fact = fact.get("id")
    return fact if isinstance(fact, str) else None


def _minutes(finding: Finding) -> float | None:
    if finding.start is not None and finding.end is not None:
        return (finding.end - finding.start).total_seconds() / 60
    for key in ("duration_s", "dwell_s"):
        value = finding.facts.get(key)
        if isinstance(value, int | float):
            return float(value) / 60
    return None


# -- writing SVG -----------------------------------------------------------------------------------


def _num(value: float) -> str:
    """The one format of every number in the document: tenths of a pixel."""
    text = f"{value:.1f}"
    return "0.0" if text == "-0.0" else text


def _el(tag: str, content: str = "", /, **attributes: object) -> str:
    """An element; attribute names use _ for - (a trailing _ is dropped: ``class_``).

    Floats are written with :func:`_num`, everything else as text, escaped; ``content`` is
    markup (escape text with :func:`_text` first). None values are left out.
    """
    parts = [tag]
    for name, value in attributes.items():
        if value is None:
            continue
        text = _num(value) if isinstance(value, float) else str(value)
        parts.append(f"{name.rstrip('_').replace('_', '-')}={quoteattr(text)}")
    head = " ".join(parts)
    return f"<{head}>{content}</{tag}>" if content else f"<{head}/>"


_UNPRINTABLE = frozenset({"Cc", "Cf", "Cs", "Co", "Cn"})


def _text(value: object, limit: int = 300) -> str:
    """Text safe for XML: control and invisible characters dropped, markup escaped."""
    clean = "".join(
        " " if char.isspace() else char
        for char in unicodedata.normalize("NFC", str(value))[:limit]
        if char.isspace() or unicodedata.category(char) not in _UNPRINTABLE
    )
    return escape(" ".join(clean.split()))


def _ems(text: str) -> float:
    """The approximate advance of ``text`` in ems, for layout (no font is measured)."""
    wide = sum(1 for char in text if unicodedata.east_asian_width(char) in {"W", "F"})
    spaces = text.count(" ")
    return wide + 0.3 * spaces + 0.58 * (len(text) - wide - spaces)


# A line may break between CJK characters and at spaces, not inside a Latin word.
_TOKEN = re.compile(r"[\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef]|[^\s\u2e80-\u9fff\uff00-\uffef]+| ")


def _wrap(text: str, max_ems: float, max_lines: int) -> list[str]:
    """Break ``text`` into lines of at most ``max_ems``; cut with … after ``max_lines``."""
    lines: list[str] = []
    current = ""
    for token in _TOKEN.findall(" ".join(text.split())):
        if current and _ems(current + token) > max_ems:
            lines.append(current.rstrip())
            current = token.lstrip()
        else:
            current += token
    if current.strip():
        lines.append(current.rstrip())
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        last = lines[-1]
        while last and _ems(last + "…") > max_ems:
            last = last[:-1]
        lines[-1] = last + "…"
    return lines


def _parts(geometry: Any) -> Iterator[Any]:  # noqa: ANN401  # shapely
    """The simple parts of a geometry (points, lines, polygons), collections flattened."""
    if geometry is None or geometry.is_empty:
        return
    if hasattr(geometry, "geoms"):
        for part in geometry.geoms:
            yield from _parts(part)
    else:
        yield geometry


def _distance_text(metres: float) -> str:
    return f"{metres / 1000:g} km" if metres >= 1000 else f"{metres:g} m"


class _Drawing:
    """Turns a scene into SVG text: one instance per map.

    The page: a title band, the map (``map_w`` x ``map_h`` pixels at ``scale`` pixels per
    metre), and below it the legend and the findings. ``k`` scales every size with the width.
    """

    def __init__(self, scene: _Scene, width_px: int, *, road_names: bool) -> None:
        self.scene = scene
        self.network = scene.network
        self.road_names = road_names
        self.width = float(width_px)
        self.k = width_px / 1000
        self.pad = 14 * self.k
        self.top = 66 * self.k  # the title band
        self.minx, self.miny, self.maxx, self.maxy = scene.extent()
        self.map_w = self.width - 2 * self.pad
        self.scale = self.map_w / (self.maxx - self.minx)
        self.map_h = (self.maxy - self.miny) * self.scale
        self.label_size = 11 * self.k
        self.out: list[str] = []
        self.legend: list[tuple[str, str]] = []  # (symbol drawn around 0,0; text)
        self.occupied: list[tuple[float, float, float, float]] = []  # labels placed so far
        self.road_parts: list[tuple[int, str, Any]] = []  # (rank, name, clipped geometry)

    # -- coordinates ------------------------------------------------------------------------

    def px(self, x: float, y: float) -> tuple[float, float]:
        """Metres to pixels."""
        return self.pad + (x - self.minx) * self.scale, self.top + (self.maxy - y) * self.scale

    def inside(self, x: float, y: float) -> bool:
        """Whether a point in metres is on the map."""
        return self.minx <= x <= self.maxx and self.miny <= y <= self.maxy

    def clipped(self, geometry: Any) -> Any:  # noqa: ANN401  # shapely
        """The part of a geometry on the map, simplified to a third of a pixel."""
        part = shapely.clip_by_rect(geometry, self.minx, self.miny, self.maxx, self.maxy)
        return part if part.is_empty else part.simplify(0.3 / self.scale)

    def path(self, geometry: Any) -> str:  # noqa: ANN401  # shapely
        """SVG path data for the lines and polygon rings of a geometry in metres."""
        out = []
        for part in _parts(geometry):
            if part.geom_type in {"LineString", "LinearRing"}:
                out.append(self._run(part.coords, close=False))
            elif part.geom_type == "Polygon":
                out.extend(
                    self._run(r.coords, close=True) for r in (part.exterior, *part.interiors)
                )
            elif part.geom_type == "Point":  # a zero-length stroke shows as a round dot
                x, y = self.px(part.x, part.y)
                out.append(f"M{_num(x)} {_num(y)}h0.1")
        return "".join(out)

    def _run(self, coords: Iterable[tuple[float, ...]], *, close: bool) -> str:
        points: list[str] = []
        for x, y, *_ in coords:
            text = " ".join(_num(v) for v in self.px(x, y))
            if not points or points[-1] != text:
                points.append(text)
        if len(points) < 2:
            return ""
        return f"M{points[0]}L{' '.join(points[1:])}{'Z' if close else ''}"

    def reserve(self, left: float, top: float, width: float, height: float) -> bool:
        """Claim a box (pixels) for a label unless it leaves the map or overlaps another."""
        right, bottom = left + width, top + height
        if left < self.pad or top < self.top:
            return False
        if right > self.pad + self.map_w or bottom > self.top + self.map_h:
            return False
        for a in self.occupied:
            if left < a[2] and a[0] < right and top < a[3] and a[1] < bottom:
                return False
        self.occupied.append((left, top, right, bottom))
        return True

    def side_label(self, cx: float, cy: float, gap: float, text: str, **style: object) -> str:
        """A label beside a symbol: right of it if there is room on the map, else left."""
        size = self.label_size
        width, height = _ems(text) * size, size * 1.3
        anchor, x = "start", cx + gap
        if not self.reserve(x, cy - height / 2, width, height) and self.reserve(
            cx - gap - width, cy - height / 2, width, height
        ):
            anchor, x = "end", cx - gap
        return _el(
            "text",
            _text(text),
            class_="halo",
            x=x,
            y=cy,
            font_size=size,
            text_anchor=anchor,
            dominant_baseline="central",
            **style,
        )

    def when(self, moment: datetime | None) -> str:
        """A clock time as the findings write it: HH:MM, China Standard Time."""
        return "--:--" if moment is None else moment.astimezone(CHINA_TIME).strftime("%H:%M")

    # -- the document ----------------------------------------------------------------------

    def render(self) -> str:
        """The SVG document."""
        self.draw_map()
        map_part, self.out = self.out, []
        panel_top = self.top + self.map_h + 16 * self.k
        height = panel_top + self.draw_panel(panel_top) + self.pad
        return "".join([*self.head(height), *self.title(), *map_part, *self.out, "</svg>\n"])

    def head(self, height: float) -> list[str]:
        """The root element, title, description and styles."""
        k, trip = self.k, self.scene.trip
        css = "".join(f".{name}{{{rule}}}" for name, rule in self.styles().items())
        title = f"危险废物转移路线图 联单 {trip.trip_id} · Trip map {trip.trip_id} ({trip.vehicle})"
        desc = (
            f"Road data © OpenStreetMap contributors, ODbL. Drawn in {self.network.crs} at "
            f"{_num(1 / self.scale)} m per pixel."
        )
        root = _el(
            "svg",
            "",
            xmlns="http://www.w3.org/2000/svg",
            width=self.width,
            height=height,
            viewBox=f"0 0 {_num(self.width)} {_num(height)}",
            font_family=_FONT_FAMILY,
            font_size=12 * k,
            fill=_INK,
        )
        return [
            '<?xml version="1.0" encoding="UTF-8"?>\n',
            root.removesuffix("/>") + ">\n",
            f"<title>{_text(title)}</title>\n<desc>{_text(desc)}</desc>\n",
            f"<style>{css}path{{stroke-linecap:round;stroke-linejoin:round}}</style>\n",
            _el("rect", width=self.width, height=height, fill="#fff") + "\n",
        ]

    def styles(self) -> dict[str, str]:
        """The CSS classes of the map, sized for its width."""
        k = self.k

        def line(colour: str, width: float, extra: str = "") -> str:
            return f"fill:none;stroke:{colour};stroke-width:{_num(width * k)}{extra}"

        def dashes(on: float, off: float) -> str:
            return f";stroke-dasharray:{_num(on * k)} {_num(off * k)}"

        return {
            "bg": "fill:#f6f4ef;stroke:#999;stroke-width:1",
            "rd0": line("#d9d9d9", 0.9),
            "rd1": line("#c2c2c2", 1.5),
            "rd2": line("#a6a6a6", 2.2),
            "rd3": line("#8a8a8a", 3.8),
            "wl": line(_WATER, 1.6),
            "wa": f"fill:{_WATER_FILL};stroke:{_WATER};stroke-width:{_num(0.8 * k)}",
            "ar": f"fill:{_AREA};fill-opacity:0.22;stroke:{_AREA_EDGE};"
            f"stroke-width:{_num(1.4 * k)}{dashes(6, 3)}",
            "co": f"fill:{_CORRIDOR};fill-opacity:0.15;stroke:{_CORRIDOR};stroke-opacity:0.5;"
            f"stroke-width:{_num(0.8 * k)}",
            "rt": line(_ROUTE, 4.5, ";stroke-opacity:0.85"),
            "vr": line(_VIA, 3, dashes(8, 5)),
            "dv": line(_DEVIATION, 9, ";stroke-opacity:0.7"),
            "lp": line("#3f5a7a", 2.5, dashes(6, 3)),
            "wk": line(_WATER, 1.5, dashes(2, 2)),
            "ot": line("#636363", 2, dashes(2, 3)),
            "mk": line("#636363", 7),
            "tk": line(_TRACK, 2),
            "tg": line(_TRACK, 2, dashes(5, 4)),
            "fx": f"fill:#fff;stroke:{_TRACK};stroke-width:{_num(k)}",
            "st": f"fill:{_STOP};fill-opacity:0.35;stroke:#b35806;stroke-width:{_num(1.5 * k)}",
            "halo": f"paint-order:stroke;stroke:#fff;stroke-width:{_num(3 * k)};"
            "stroke-linejoin:round",
        }

    def title(self) -> list[str]:
        """Trip, vehicle, the declared window, and the network the map was drawn on."""
        trip, k, network = self.scene.trip, self.k, self.network
        window = ""
        if trip.depart_after is not None or trip.arrive_before is not None:
            declared = f"{self.when(trip.depart_after)}–{self.when(trip.arrive_before)}"
            window = f" · 申报时段 Declared {declared}"
        first = (
            f"危险废物转移路线核查 Route check · 联单 Trip {trip.trip_id} · "
            f"车辆 Vehicle {trip.vehicle}"
        )
        second = (
            f"路网 Network {network.identity[:12] or '-'} ({network.crs}) · "
            f"北京时间 China Standard Time, UTC+8{window}"
        )
        return [
            '<g id="title">',
            _el("text", _text(first), x=self.pad, y=28 * k, font_size=19 * k, font_weight="bold"),
            _el("text", _text(second), x=self.pad, y=50 * k, fill=_GREY),
            "</g>\n",
        ]

    def draw_map(self) -> None:
        """Everything inside the map frame, then the scale bar and the north arrow."""
        frame = {"x": self.pad, "y": self.top, "width": self.map_w, "height": self.map_h}
        self.out.append(_el("clipPath", _el("rect", **frame), id="map-clip") + "\n")
        self.out.append(_el("rect", class_="bg", **frame) + "\n")
        self.out.append('<g id="map" clip-path="url(#map-clip)">\n')
        self.draw_roads()
        self.draw_water()
        self.draw_areas()
        self.draw_corridor()
        self.draw_lines(_UNDER_ROUTE)
        self.draw_route()
        self.draw_lines(_OVER_ROUTE)
        self.draw_track()
        self.draw_stops()
        self.draw_checkpoints()
        self.draw_places()
        self.draw_badges()
        self.draw_road_names()
        self.out.append("</g>\n")
        self.draw_scale_bar()
        self.draw_north_arrow()
        self.out.append(
            _el(
                "text",
                "路网数据 Road data © OpenStreetMap contributors, ODbL",
                id="attribution",
                class_="halo",
                x=self.pad + self.map_w - 4 * self.k,
                y=self.top + self.map_h - 5 * self.k,
                font_size=9 * self.k,
                fill=_GREY,
                text_anchor="end",
            )
            + "\n"
        )

    def group(self, group_id: str, items: Sequence[str]) -> None:
        """A layer as one group, if it has anything in it."""
        if items:
            self.out.append(_el("g", "".join(items), id=group_id) + "\n")

    # -- the base map ----------------------------------------------------------------------------

    def draw_roads(self) -> None:
        """Roads in the map's extent, each two-way road once, one path per class."""
        graph = self.network.graph
        edges = sorted((u, v) for u, v in graph.edges if u < v or not graph.has_edge(v, u))
        geometries = [graph.edges[e]["geometry"] for e in edges]
        visible = shapely.intersects(geometries, box(self.minx, self.miny, self.maxx, self.maxy))
        by_class: dict[str, list[str]] = {"rd0": [], "rd1": [], "rd2": [], "rd3": []}
        for (u, v), geometry, shown in zip(edges, geometries, visible, strict=True):
            if not shown:
                continue
            data = graph.edges[u, v]
            style, rank = _ROAD_CLASS.get(data["highway"], ("rd0", 0))
            part = self.clipped(geometry)
            by_class[style].append(self.path(part))
            name = " ".join(t for t in (data["ref"], data["name"]) if t)
            if name and rank:
                self.road_parts.append((rank, name, part))
        paths = [_el("path", class_=style, d="".join(p)) for style, p in by_class.items() if p]
        self.group("roads", paths)
        self.legend.append((self.line_symbol("rd3"), "高速公路 Motorway"))
        self.legend.append((self.line_symbol("rd1"), "道路 Road"))

    def draw_road_names(self) -> None:
        """Main roads' names, each once, along its longest visible stretch, kept upright."""
        if not self.road_names:
            return
        stretches: dict[str, tuple[int, list[Any]]] = {}
        for rank, name, part in self.road_parts:
            stretches.setdefault(name, (rank, []))[1].extend(_parts(part))
        candidates = []
        for name, (rank, parts) in stretches.items():
            lines = list(_parts(shapely.line_merge(MultiLineString(parts))))
            longest = max(lines, key=lambda line: line.length, default=None)
            if longest is not None:
                candidates.append((-rank, -longest.length, name, longest))
        placed = [label for c in sorted(candidates) if (label := self.road_name(c[2], c[3]))]
        self.group("road-names", placed[:_MAX_ROAD_LABELS])

    def road_name(self, name: str, line: Any) -> str:  # noqa: ANN401  # shapely
        """A road's name along the middle of ``line``, or "" if it does not fit."""
        size = 10 * self.k
        width = _ems(name) * size
        if line.length * self.scale < width * 1.2:
            return ""
        half = width / 2 / self.scale
        a = line.interpolate(max(0.0, line.length / 2 - half))
        b = line.interpolate(min(line.length, line.length / 2 + half))
        (ax, ay), (bx, by) = self.px(a.x, a.y), self.px(b.x, b.y)
        angle = math.degrees(math.atan2(by - ay, bx - ax))
        angle = angle - 180 if angle > 90 else angle + 180 if angle < -90 else angle
        cx, cy = self.px(*line.interpolate(0.5, normalized=True).coords[0])
        reach = abs(math.cos(math.radians(angle))) * width + size
        rise = abs(math.sin(math.radians(angle))) * width + size
        if not self.reserve(cx - reach / 2, cy - rise / 2, reach, rise):
            return ""
        return _el(
            "text",
            _text(name),
            class_="halo",
            x=cx,
            y=cy,
            font_size=size,
            fill=_GREY,
            text_anchor="middle",
            dominant_baseline="central",
            transform=f"rotate({_num(angle)} {_num(cx)} {_num(cy)})",
        )

    def draw_water(self) -> None:
        """Rivers, streams, lakes and the coastline, named once each."""
        frame = box(self.minx, self.miny, self.maxx, self.maxy)
        lines: list[str] = []
        areas: list[str] = []
        names: list[str] = []
        named: set[str] = set()
        for water in self.network.water:
            if not water.geometry.intersects(frame):
                continue
            part = self.clipped(water.geometry)
            is_area = water.geometry.geom_type in {"Polygon", "MultiPolygon"}
            (areas if is_area else lines).append(self.path(part))
            if water.name and water.name not in named:
                named.add(water.name)
                names.append(self.name_on(part, water.name, fill=_WATER, font_style="italic"))
        if areas:
            names.insert(0, _el("path", class_="wa", d="".join(areas)))
        if lines:
            names.insert(0, _el("path", class_="wl", d="".join(lines)))
        if lines or areas:
            self.group("water", names)
            self.legend.append((self.line_symbol("wl"), "水体 Water: river, stream, coast"))

    def draw_areas(self) -> None:
        """Sensitive areas, shaded and named."""
        shown = []
        if not self.scene.areas:  # only what the findings say was entered, unnamed
            data = "".join(self.path(self.clipped(g)) for g in self.scene.area_layers)
            if data:
                shown.append(_el("path", class_="ar", fill_rule="evenodd", d=data))
        for area in self.scene.areas:
            part = self.clipped(area.geometry)
            if part.is_empty:
                continue
            shown.append(_el("path", class_="ar", fill_rule="evenodd", d=self.path(part)))
            shown.append(
                self.name_on(part, area.name or area.kind, fill=_AREA_EDGE, font_weight="bold")
            )
        if shown:
            self.group("areas", shown)
            self.legend.append((self.area_symbol("ar"), "敏感区域 Sensitive area"))

    def name_on(self, geometry: Any, name: str, **style: object) -> str:  # noqa: ANN401  # shapely
        """A name in an area or on a line: in the middle, else below or above it, on the map."""
        parts = list(_parts(geometry))
        if not parts:
            return ""
        largest = max(parts, key=lambda p: (p.area, p.length))
        if largest.area:
            anchor = largest.point_on_surface()
        else:
            anchor = largest.interpolate(0.5, normalized=True)
        size = self.label_size
        width, height = _ems(name) * size, size * 1.3
        cx, cy = self.px(anchor.x, anchor.y)
        left, right = self.pad + width / 2, self.pad + self.map_w - width / 2
        cx = min(max(cx, left), right)  # a long name near the edge moves in
        _, below = self.px(*largest.bounds[:2])  # the pixel rows under and over the part
        _, above = self.px(*largest.bounds[2:])
        for y in (cy, below + height, above - height):
            if self.reserve(cx - width / 2, y - height / 2, width, height):
                return _el(
                    "text",
                    _text(name),
                    class_="halo",
                    x=cx,
                    y=y,
                    font_size=size,
                    text_anchor="middle",
                    dominant_baseline="central",
                    **style,
                )
        return ""

    # -- the plan and what was seen --------------------------------------------------------------

    def draw_corridor(self) -> None:
        """The plausible corridor."""
        corridor = self.clipped(self.scene.corridor) if self.scene.corridor is not None else None
        if corridor is not None and not corridor.is_empty:
            path = _el("path", class_="co", fill_rule="evenodd", d=self.path(corridor))
            self.group("corridor", [path])
            self.legend.append((self.area_symbol("co"), "合理路线走廊 Plausible corridor"))

    def draw_route(self) -> None:
        """The fastest legal route of the plan."""
        route = self.clipped(self.scene.route) if self.scene.route is not None else None
        if route is not None and not route.is_empty:
            self.group("route", [_el("path", class_="rt", d=self.path(route))])
            self.legend.append((self.line_symbol("rt"), "计划最快路线 Planned fastest route"))

    def draw_lines(self, kinds: Sequence[tuple[str, str, str, str]]) -> None:
        """Lines of evidence from the findings, one group per kind."""
        for kind, group_id, style, legend in kinds:
            if kind == "marks" and self.scene.checkpoints:
                continue  # the checkpoints themselves are drawn, with what happened there
            data = "".join(self.path(self.clipped(g)) for g in self.scene.layers.get(kind, []))
            if data:
                self.group(group_id, [_el("path", class_=style, d=data)])
                self.legend.append((self.line_symbol(style), legend))

    def draw_track(self) -> None:
        """The GPS track: a line through the fixes, dashed across gaps, a dot per fix."""
        track = self.scene.track
        gaps = [g for g in self.scene.layers.get("gap", []) if g.geom_type != "Point"]
        runs: list[list[tuple[float, float]]] = [[]]
        for i, (at, x, y) in enumerate(track):
            if i and (at - track[i - 1][0]).total_seconds() > self.scene.gap_s:
                gaps.append(LineString([track[i - 1][1:], (x, y)]))
                runs.append([])
            runs[-1].append((x, y))
        solid = "".join(self.path(self.clipped(LineString(run))) for run in runs if len(run) > 1)
        r = 1.9 * self.k
        dots = [
            _el("circle", class_="fx", cx=cx, cy=cy, r=r)
            for _, x, y in track
            if self.inside(x, y)
            for cx, cy in [self.px(x, y)]
        ]
        if track:
            self.group("track", [_el("path", class_="tk", d=solid) if solid else "", *dots])
            self.legend.append(
                (self.track_symbol(), "GPS 轨迹（圆点为定位点）GPS track; dots are fixes")
            )
        dashed = "".join(self.path(self.clipped(gap)) for gap in gaps)
        if dashed:
            self.group("gaps", [_el("path", class_="tg", d=dashed)])
            self.legend.append((self.line_symbol("tg"), "GPS 信号中断 GPS gap: no fixes"))

    def draw_stops(self) -> None:
        """Stops: a circle that grows with the duration, the minutes beside it."""
        k = self.k
        items = []
        for stop in self.scene.stops:
            if not self.inside(*stop.centre):
                continue
            cx, cy = self.px(*stop.centre)
            minutes = max(stop.minutes or 0.0, 0.0)
            r = (6 + 2.2 * math.sqrt(minutes)) * k
            items.append(_el("circle", class_="st", cx=cx, cy=cy, r=r))
            if stop.minutes is not None:
                text = f"停车 {minutes:.0f} 分钟 · stopped {minutes:.0f} min"
                items.append(
                    self.side_label(cx, cy, r + 4 * k, text, font_weight="bold", fill=_STOP_INK)
                )
        if items:
            self.group("stops", items)
            symbol = _el("circle", class_="st", cx=10 * k, cy=0.0, r=7 * k)
            self.legend.append((symbol, "停车，圆越大停得越久 Stop; the larger, the longer"))

    def draw_checkpoints(self) -> None:
        """Checkpoints by what happened there, named, with the time the vehicle was seen."""
        k = self.k
        items, states = [], set()
        for entry in self.scene.checkpoints:
            checkpoint, state = entry.checkpoint, entry.state
            if not self.inside(checkpoint.x, checkpoint.y):
                continue
            states.add(state)
            cx, cy = self.px(checkpoint.x, checkpoint.y)
            items.append(_checkpoint_symbol(state, cx, cy, k))
            text = " ".join(dict.fromkeys([checkpoint.checkpoint_id, checkpoint.name]))
            if state in {"seen", "off-route"}:
                text += f" {self.when(entry.seen)}"
            elif state == "missed":
                text += " 未识别 not seen"
            colour = _DEVIATION if state in {"off-route", "missed"} else _CHECKPOINT
            items.append(self.side_label(cx, cy, 9 * k, text.strip(), fill=colour))
        self.group("checkpoints", items)
        for state, text in _CHECKPOINT_LEGEND:
            if state in states:
                self.legend.append((_checkpoint_symbol(state, 10 * k, 0.0, k), text))

    def draw_places(self) -> None:
        """Origin, destination, declared waypoints and authorised stops."""
        k, trip, scene = self.k, self.scene.trip, self.scene
        items = []
        for (x, y), mark, colour in [
            *((p, "P", _AUTHORISED) for p in scene.authorised),
            *((p, str(i), _WAYPOINT) for i, p in enumerate(scene.waypoints, start=1)),
        ]:
            if self.inside(x, y):
                items.append(_pin(mark, *self.px(x, y), colour, 7 * k))
        for mark, (x, y), colour, place, word in (
            ("起", scene.origin, _ORIGIN, trip.origin, "起点 Origin"),
            ("终", scene.destination, _DESTINATION, trip.destination, "终点 Destination"),
        ):
            if self.inside(x, y):
                cx, cy = self.px(x, y)
                items.append(_pin(mark, cx, cy, colour, 11 * k))
                text = f"{word}: {place.name}" if place.name else word
                items.append(self.side_label(cx, cy, 14 * k, text, font_weight="bold"))
        self.group("places", items)
        self.legend.append((_pin("起", 10 * k, 0.0, _ORIGIN, 7 * k), "起点 Origin"))
        self.legend.append((_pin("终", 10 * k, 0.0, _DESTINATION, 7 * k), "终点 Destination"))
        if scene.waypoints:
            symbol = _pin("1", 10 * k, 0.0, _WAYPOINT, 7 * k)
            self.legend.append((symbol, "申报途经点 Declared waypoint"))
        if scene.authorised:
            symbol = _pin("P", 10 * k, 0.0, _AUTHORISED, 7 * k)
            self.legend.append((symbol, "批准停靠点 Authorised stop"))

    def draw_badges(self) -> None:
        """Each finding's number where it happened, as in the list below the map.

        A number goes up and to the right of its place, or to another side where that would
        cover a label or another number.
        """
        k, r = self.k, 8 * self.k
        items: list[str] = []
        for badge in self.scene.badges:
            parts = list(_parts(self.clipped(badge.anchor))) if badge.anchor is not None else []
            if not parts:
                continue
            first = parts[0]
            if first.geom_type == "Point":
                point = first
            elif first.geom_type == "LineString":
                point = first.interpolate(0.5, normalized=True)
            else:
                point = first.point_on_surface()
            x, y = self.px(point.x, point.y)
            spots = [(x + dx * k, y + dy * k) for dx, dy in _BADGE_SPOTS]
            cx, cy = next(
                ((sx, sy) for sx, sy in spots if self.reserve(sx - r, sy - r, 2 * r, 2 * r)),
                spots[0],
            )
            items.append(_badge(badge.number, badge.severity, cx, cy, k))
        self.group("badges", items)

    # -- furniture ---------------------------------------------------------------------------

    def draw_scale_bar(self) -> None:
        """A bar of a round length, about a quarter of the map's width, in its lower left."""
        k = self.k
        quarter = self.map_w / 4 / self.scale
        metres = max((s for s in _SCALE_STEPS if s <= quarter), default=_SCALE_STEPS[0])
        length = metres * self.scale
        x, y = self.pad + 14 * k, self.top + self.map_h - 16 * k
        half, bar = length / 2, 4 * k
        self.group(
            "scale-bar",
            [
                _el(
                    "rect",
                    x=x - 6 * k,
                    y=y - 20 * k,
                    width=length + 12 * k,
                    height=28 * k,
                    fill="#fff",
                    fill_opacity="0.8",
                ),
                _el("rect", x=x, y=y, width=half, height=bar, fill=_INK),
                _el(
                    "rect",
                    x=x + half,
                    y=y,
                    width=half,
                    height=bar,
                    fill="#fff",
                    stroke=_INK,
                    stroke_width=k,
                ),
                _el("text", "0", x=x, y=y - 5 * k, font_size=10 * k),
                _el(
                    "text",
                    _distance_text(metres),
                    x=x + length,
                    y=y - 5 * k,
                    font_size=10 * k,
                    text_anchor="end",
                ),
            ],
        )

    def draw_north_arrow(self) -> None:
        """An arrow to true north: turned from the grid's up by the UTM meridian convergence."""
        k = self.k
        cx, cy = (self.minx + self.maxx) / 2, (self.miny + self.maxy) / 2
        lon, lat = self.network.to_wgs84(cx, cy)
        nx_, ny_ = self.network.project(lon, min(lat + 0.01, 89.9))
        angle = math.degrees(math.atan2(nx_ - cx, ny_ - cy))
        x, y = self.pad + self.map_w - 26 * k, self.top + 34 * k
        arrow = (
            f"M0.0 {_num(-15 * k)}L{_num(6 * k)} {_num(6 * k)} 0.0 {_num(2 * k)} "
            f"{_num(-6 * k)} {_num(6 * k)}Z"
        )
        self.out.append(
            _el(
                "g",
                "".join(
                    [
                        _el(
                            "circle",
                            r=20 * k,
                            fill="#fff",
                            fill_opacity="0.8",
                            stroke="#999",
                            stroke_width=0.8 * k,
                        ),
                        _el("path", d=arrow, fill=_INK, transform=f"rotate({_num(angle)})"),
                        _el(
                            "text",
                            "北 N",
                            y=32 * k,
                            font_size=10 * k,
                            text_anchor="middle",
                            font_weight="bold",
                        ),
                    ]
                ),
                id="north-arrow",
                transform=f"translate({_num(x)} {_num(y)})",
            )
            + "\n"
        )

    def draw_panel(self, top: float) -> float:
        """The legend and the numbered findings below the map; returns the height used."""
        k = self.k
        row, heading = 19 * k, top + 12 * k
        items = [
            _el("text", "图例 Legend", x=self.pad, y=heading, font_size=13 * k, font_weight="bold")
        ]
        y = heading + row
        for symbol, text in self.legend:
            transform = f"translate({_num(self.pad)} {_num(y - 4 * k)})"
            items.append(_el("g", symbol, transform=transform))
            items.append(_el("text", _text(text), x=self.pad + 30 * k, y=y))
            y += row
        self.group("legend", items)
        legend_height = y - top

        x = self.pad + 400 * k
        width_ems = (self.width - self.pad - x - 24 * k) / (12 * k)
        count = len(self.scene.findings)
        items = [
            _el(
                "text",
                f"发现 Findings ({count})",
                x=x,
                y=heading,
                font_size=13 * k,
                font_weight="bold",
            )
        ]
        y = heading + row
        if not count:
            items.append(_el("text", "未发现问题 · No findings", x=x, y=y))
            y += row
        for number, finding in enumerate(self.scene.findings, start=1):
            word, _ = _SEVERITY[finding.severity]
            span = ""
            if finding.start is not None:
                span = f" · {self.when(finding.start)}"
                if finding.end is not None and finding.end != finding.start:
                    span += f"–{self.when(finding.end)}"
            head = f"{word} {finding.severity.value.upper()} · {finding.rule}{span}"
            items.append(_badge(number, finding.severity, x + 9 * k, y - 4 * k, k))
            items.append(_el("text", _text(head), x=x + 24 * k, y=y, font_weight="bold"))
            y += row * 0.95
            for text, colour in ((finding.summary_zh, _INK), (finding.summary, _GREY)):
                for line in _wrap(text, width_ems, 6):
                    items.append(_el("text", _text(line), x=x + 24 * k, y=y, fill=colour))
                    y += row * 0.85
            y += row * 0.4
        self.group("findings", items)
        return max(legend_height, y - top)

    # -- legend symbols ---------------------------------------------------------------------

    def line_symbol(self, style: str) -> str:
        """A short stroke in a line style."""
        return _el("path", class_=style, d=f"M0.0 0.0L{_num(22 * self.k)} 0.0")

    def area_symbol(self, style: str) -> str:
        """A small patch in an area style."""
        k = self.k
        return _el("rect", class_=style, x=0.0, y=-6 * k, width=22 * k, height=12 * k)

    def track_symbol(self) -> str:
        """A stroke of track with three fixes on it."""
        dots = [
            _el("circle", class_="fx", cx=x * self.k, cy=0.0, r=1.9 * self.k) for x in (3, 11, 19)
        ]
        return self.line_symbol("tk") + "".join(dots)


def _checkpoint_symbol(state: str, cx: float, cy: float, k: float) -> str:
    """A square: filled when seen, red on yellow off the route, hollow and crossed if missed."""
    s = 5.5 * k
    square = {"x": cx - s, "y": cy - s, "width": 2 * s, "height": 2 * s}
    if state == "seen":
        return _el("rect", **square, fill=_CHECKPOINT, stroke="#fff", stroke_width=k)
    if state == "off-route":
        halo = _el("circle", cx=cx, cy=cy, r=2 * s, fill="#ffeb3b", fill_opacity="0.85")
        return halo + _el("rect", **square, fill=_DEVIATION, stroke="#fff", stroke_width=k)
    if state == "missed":
        cross = (
            f"M{_num(cx - s)} {_num(cy - s)}L{_num(cx + s)} {_num(cy + s)}"
            f"M{_num(cx + s)} {_num(cy - s)}L{_num(cx - s)} {_num(cy + s)}"
        )
        return _el("rect", **square, fill="#fff", stroke=_CHECKPOINT, stroke_width=1.5 * k) + _el(
            "path", d=cross, stroke=_DEVIATION, stroke_width=1.8 * k
        )
    return _el("rect", **square, fill="#fff", stroke="#9e9e9e", stroke_width=k)


def _pin(mark: str, cx: float, cy: float, colour: str, r: float) -> str:
    """A round marker with a character in it."""
    circle = _el("circle", cx=cx, cy=cy, r=r, fill=colour, stroke="#fff", stroke_width=r / 6)
    size = r * 1.15
    # On the baseline, 0.36 em below the centre: digits and CJK characters both sit centred,
    # where "dominant-baseline: central" differs between browsers for CJK.
    return circle + _el("text", _text(mark), x=cx, y=cy + 0.36 * size, font_size=size,
                        fill="#fff", font_weight="bold", text_anchor="middle")  # fmt: skip


def _badge(number: int, severity: Severity, cx: float, cy: float, k: float) -> str:
    """A finding's number in its severity's colour."""
    _, colour = _SEVERITY[severity]
    return _pin(str(number), cx, cy, colour, 8 * k)

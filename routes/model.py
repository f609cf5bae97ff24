"""What the route checks take in and give out: trips, observations, findings.

Inputs are plain values in WGS-84 and UTC; the checks project them onto a
:class:`~routes.network.RoadNetwork`. Every finding explains itself: a Chinese sentence first, an
English one, the numbers an officer can check on a map, the thresholds used, the observations it
rests on, and the identity of the road network, so the same inputs give the same finding.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

# One scale for custody alerts and route findings: a finding's severity is an alert's.
from custody.alerts import Severity
from custody.errors import CoordinateInvalid, RecordInvalid

__all__ = [
    "DeclaredTrip",
    "Finding",
    "Fix",
    "Place",
    "Severity",
    "Sighting",
    "Thresholds",
]


def _utc(when: datetime, what: str) -> datetime:
    if when.tzinfo is None:
        raise RecordInvalid(f"{what} needs a time zone", zh=f"{what} 须带时区")
    return when.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class Place:
    """A named WGS-84 point (a plant, a gate); converted from GCJ-02 before it gets here."""

    lon: float
    lat: float
    name: str = ""

    def __post_init__(self) -> None:
        if not (math.isfinite(self.lon) and math.isfinite(self.lat)
                and -180 <= self.lon <= 180 and -90 <= self.lat <= 90):  # fmt: skip
            raise CoordinateInvalid(f"({self.lon}, {self.lat}) is not a WGS-84 point",
                                    zh="坐标不是有效的 WGS-84 经纬度")  # fmt: skip


@dataclass(frozen=True, slots=True)
class DeclaredTrip:
    """A trip as the transfer manifest declares it."""

    trip_id: str  # the manifest number
    vehicle: str  # plate
    origin: Place
    destination: Place
    waypoints: tuple[Place, ...] = ()
    depart_after: datetime | None = None
    arrive_before: datetime | None = None
    authorised_stops: tuple[Place, ...] = ()  # service areas, registered parking


@dataclass(frozen=True, slots=True)
class Sighting:
    """A vehicle seen at a registered checkpoint: a camera read or a scan."""

    checkpoint_id: str
    seen_at: datetime
    source: str = "anpr"  # "anpr" or "scan"
    ref: str = ""  # where it came from: plate-read id, ledger index

    def __post_init__(self) -> None:
        object.__setattr__(self, "seen_at", _utc(self.seen_at, "sighting time"))


@dataclass(frozen=True, slots=True)
class Fix:
    """A GPS position of the vehicle (WGS-84)."""

    at: datetime
    lon: float
    lat: float
    speed_kmh: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "at", _utc(self.at, "fix time"))
        Place(self.lon, self.lat)  # the same coordinate checks


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Every tunable number of the route checks (the design's defaults); findings record them."""

    detour_eps: float = 0.30  # plausible routes: within 30 % of the fastest time ...
    detour_slack_s: float = 120.0  # ... plus two minutes
    corridor_m: float = 50.0  # corridor half-width around plausible roads
    travel_tolerance: float = 0.15  # impossible travel: faster than the legal limits allow by this
    clock_skew_s: float = 60.0
    slow_factor: float = 1.5  # unexplained time: slower than 1.5 x the fastest ...
    slow_allowance_s: float = 1800.0  # ... plus 30 minutes
    off_route_min_fixes: int = 3  # an off-route episode: this many fixes outside in a row ...
    off_route_min_s: float = 60.0  # ... spanning this long
    dwell_radius_m: float = 150.0  # a stop: fixes within this radius ...
    dwell_min_s: float = 1200.0  # ... for 20 minutes or more
    near_water_m: float = 300.0
    off_road_m: float = 50.0
    gps_interval_s: float = 30.0  # the terminal's reporting interval (JT/T 808 0x0029)
    gps_gap_factor: float = 10.0  # silent for longer than 10 intervals
    snap_max_m: float = 30.0  # a checkpoint further than this from any road needs confirming


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing the checks found, explained.

    ``facts`` hold the numbers (metres, seconds, ratios, times as ISO strings); ``layers`` hold
    GeoJSON geometries in WGS-84 for the map (route, corridor, episode, stop ...).
    """

    rule: str  # e.g. "off-route-sighting", "impossible-travel", "dwell"
    severity: Severity
    trip_id: str
    summary_zh: str
    summary: str
    facts: dict[str, Any] = field(default_factory=dict)
    observations: tuple[str, ...] = ()  # refs of the sightings or fixes it rests on
    start: datetime | None = None
    end: datetime | None = None
    network: str = ""  # RoadNetwork.identity
    thresholds: dict[str, float] = field(default_factory=dict)
    layers: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        """Canonical JSON: sorted keys, fixed float formatting; same inputs, same bytes."""
        body = asdict(self)
        body["severity"] = self.severity.value
        body["start"] = self.start.isoformat() if self.start else None
        body["end"] = self.end.isoformat() if self.end else None
        # Numbers to the millimetre or millisecond; map coordinates (degrees) to about 1 cm.
        layers = _rounded(body.pop("layers"), 7)
        body = _rounded(body) | {"layers": layers}
        return json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def _rounded(value: Any, digits: int = 3) -> Any:  # noqa: ANN401  # JSON values
    if isinstance(value, float):
        return round(value, digits)
    if isinstance(value, dict):
        return {k: _rounded(v, digits) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_rounded(v, digits) for v in value]
    return value

"""Transfer manifests as checked trips: route findings become alerts beside the custody rules'.

A manifest declares where a load is picked up and delivered; the ledger says when the trip
began (the first loading or departing event naming the manifest) and ended (the receiving
event). Between the two, the plate reads of the manifest's vehicles, the scans at registered
checkpoints and the vehicles' GPS fixes are checked with :func:`routes.checks.check_trip`, and
each finding becomes an :class:`~custody.alerts.Alert`:

- ``rule`` is the finding's rule (``off-route``, ``dwell``, ``gps-gap``, ``off-route-sighting``,
  ``impossible-travel``, ``unexplained-time``, ``missing-checkpoint``);
- ``subject`` is ``"<manifest number>/<rule>/<start>"``, the finding's start in UTC
  (``20261003T051500Z``; a finding with no start is counted instead), so checking the same
  trip again gives the same alert ids, and a finding that late data adds cannot take the id of
  one raised before;
- ``facts`` are the finding's facts plus ``manifest``, ``network``, ``thresholds``,
  ``observations`` and the map ``layers`` (GeoJSON, WGS-84).

A manifest whose declared places cannot be joined to the road network (more than 1 km from
every connected road) gives one ``route-unplannable`` alert of severity ``info`` instead.
Each manifest is checked on its own, even when one vehicle carries two at once.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from custody.alerts import Alert, Severity
from custody.errors import CoordinateInvalid
from custody.events import Step
from custody.facts import CheckSettings
from routes._evidence import iso
from routes.checks import check_trip
from routes.coords import CoordinateSystem, to_wgs84
from routes.corridor import PLACE_MAX_M
from routes.model import DeclaredTrip, Fix, Place, Sighting, Thresholds

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping, Sequence

    from custody.history import Record
    from custody.manifests import TransferManifest
    from custody.sightings import PlateRead, SightingStore
    from custody.tracks import TrackStore
    from routes.areas import SensitiveArea
    from routes.checkpoints import SnappedCheckpoint
    from routes.model import Finding
    from routes.network import RoadNetwork

    #: A vehicle's observations in a window: ``source(plate, since, until)``.
    ReadSource = Callable[[str, datetime, datetime], Sequence[PlateRead]]
    FixSource = Callable[[str, datetime, datetime], Sequence[Fix]]
    #: A vehicle's positions in a window, WGS-84 ``(lon, lat)``: ``source(plate, since, until)``.
    TrackSource = Callable[[str, datetime, datetime], Sequence[tuple[float, float]]]

__all__ = [
    "UNPLANNABLE",
    "TrackPoints",
    "check_manifests",
    "declared_trip",
    "fixes_from",
    "reads_from",
    "track_from",
    "trip_window",
    "trip_windows",
]

#: The rule of the alert raised when a manifest's places cannot be joined to the roads.
UNPLANNABLE = "route-unplannable"
#: With no receipt and no deadline, a trip is watched this long after loading (the custody
#: rules' default transit time, so both kinds of check look at the same window).
DEFAULT_TRANSIT = CheckSettings().default_transit

_STARTS = frozenset({Step.LOADING, Step.DEPARTING})
_WGS84 = CoordinateSystem.WGS84.value
_DEFAULTS = Thresholds()


def _no_reads(plate: str, since: datetime, until: datetime) -> Sequence[PlateRead]:  # noqa: ARG001  # the source's shape
    return ()


def _no_fixes(plate: str, since: datetime, until: datetime) -> Sequence[Fix]:  # noqa: ARG001  # the source's shape
    return ()


def declared_trip(
    manifest: TransferManifest, *, started: datetime | None, ended: datetime | None
) -> DeclaredTrip | None:
    """The trip a manifest declares, or ``None`` when it gives no origin or no destination.

    ``depart_after`` and ``arrive_before`` are the manifest's; where it gives none, the trip's
    observed ``started`` and ``ended`` stand in, so a map shows the window that was checked.
    The vehicle is the manifest's first plate.
    """
    if manifest.origin is None or manifest.destination is None:
        return None
    return DeclaredTrip(
        trip_id=manifest.number,
        vehicle=manifest.vehicles[0],
        origin=Place(manifest.origin.lon, manifest.origin.lat),
        destination=Place(manifest.destination.lon, manifest.destination.lat),
        depart_after=manifest.depart_after or started,
        arrive_before=manifest.arrive_before or ended,
    )


def trip_window(
    manifest: TransferManifest, records: Sequence[Record]
) -> tuple[datetime, datetime] | None:
    """When the trip ran, or ``None`` before it started.

    It runs from the first loading or departing event naming the manifest to its receipt. The
    receipt is the latest receiving event naming the manifest, or else the first receiving
    event after the start that names one of its containers and no other manifest. With no
    receipt yet the window ends at the manifest's deadline, or, without one (or with one
    before the start), :data:`DEFAULT_TRANSIT` after the start.
    """
    return _Trip.of(manifest, _Index(records)).window


def trip_windows(
    manifests: Iterable[TransferManifest], records: Sequence[Record]
) -> dict[str, tuple[datetime, datetime] | None]:
    """:func:`trip_window` of each manifest, by number, indexing ``records`` once for all."""
    index = _Index(records)
    return {manifest.number: _Trip.of(manifest, index).window for manifest in manifests}


@dataclass(frozen=True, slots=True)
class _Trip:
    """A manifest's window and the events it rests on."""

    window: tuple[datetime, datetime] | None
    events: tuple[Record, ...]  # naming the manifest, in the window; and the receipt

    @classmethod
    def of(cls, manifest: TransferManifest, index: _Index) -> _Trip:
        named = index.by_manifest.get(manifest.number, [])
        starts = [r for r in named if r.event.step in _STARTS]
        if not starts:
            return cls(None, ())
        start = min(r.event.event_time for r in starts)
        receipts = [r for r in named if r.event.step is Step.RECEIVING
                    and r.event.event_time >= start]  # fmt: skip
        if receipts:
            receipt: Record | None = max(receipts, key=lambda r: (r.event.event_time, r.index))
        else:
            loose = {
                r.event_hash: r
                for c in manifest.containers
                for r in index.loose_receipts.get(c, [])
                if r.event.event_time >= start
            }
            receipt = min(loose.values(), key=lambda r: (r.event.event_time, r.index), default=None)
        if receipt is not None:
            end = receipt.event.event_time
        elif manifest.arrive_before is not None and manifest.arrive_before > start:
            end = manifest.arrive_before
        else:
            end = start + DEFAULT_TRANSIT
        events = [r for r in named if start <= r.event.event_time <= end]
        if receipt is not None and receipt not in events:
            events.append(receipt)
        events.sort(key=lambda r: (r.event.event_time, r.index))
        return cls((start, end), tuple(events))


class _Index:
    """The records a manifest's window is read from, found once for all manifests."""

    def __init__(self, records: Iterable[Record]) -> None:
        self.by_manifest: dict[str, list[Record]] = defaultdict(list)
        # Receipts that name no manifest, by container: a disposer's scanner may not know it.
        self.loose_receipts: dict[str, list[Record]] = defaultdict(list)
        for record in records:
            event = record.event
            if event.manifest is not None:
                self.by_manifest[event.manifest].append(record)
            elif event.step is Step.RECEIVING:
                for container in event.containers:
                    self.loose_receipts[container].append(record)


def check_manifests(  # noqa: PLR0913  # every kind of observation, by keyword
    network: RoadNetwork,
    manifests: Iterable[TransferManifest],
    records: Sequence[Record],
    *,
    checkpoints: Sequence[SnappedCheckpoint] = (),
    reads: ReadSource = _no_reads,
    fixes: FixSource = _no_fixes,
    areas: Sequence[SensitiveArea] = (),
    thresholds: Thresholds = _DEFAULTS,
    as_of: datetime,
) -> list[Alert]:
    """Route-check every manifest whose trip has started by ``as_of``; its findings as alerts.

    ``reads(plate, since, until)`` and ``fixes(plate, since, until)`` give the observations of
    one vehicle in a window (:func:`reads_from` and :func:`fixes_from` adapt the stores).
    Observations are taken from the trip's start to its end or ``as_of``, whichever is first.
    Manifests without an origin or a destination are skipped. Alerts come by manifest number,
    each manifest's in the order of its findings (time, then rule).

    Raises:
        CoordinateInvalid: a checkpoint was snapped to another road network.
    """
    index = _Index(records)
    by_id = {c.checkpoint_id: c for c in checkpoints}
    work = []
    for manifest in manifests:
        trip = _Trip.of(manifest, index)
        if trip.window is None or trip.window[0] > as_of:
            continue
        declared = declared_trip(manifest, started=trip.window[0], ended=trip.window[1])
        if declared is not None:
            work.append((manifest, trip, declared))
    # Trips along the same road one after another, so the plan cache (64 plans) keeps hitting.
    work.sort(key=lambda w: (_places(w[2]), w[0].number))
    sources = _Sources(reads, fixes, areas, thresholds, as_of)
    found = {m.number: _check_one(network, m, trip, declared, by_id, sources)
             for m, trip, declared in work}  # fmt: skip
    return [alert for number in sorted(found) for alert in found[number]]


@dataclass(frozen=True, slots=True)
class _Sources:
    reads: ReadSource
    fixes: FixSource
    areas: Sequence[SensitiveArea]
    thresholds: Thresholds
    as_of: datetime


def _places(trip: DeclaredTrip) -> tuple[float, ...]:
    return (trip.origin.lon, trip.origin.lat, trip.destination.lon, trip.destination.lat)


def _check_one(  # noqa: PLR0913, PLR0917  # one trip's parts, computed by the caller
    network: RoadNetwork,
    manifest: TransferManifest,
    trip: _Trip,
    declared: DeclaredTrip,
    by_id: Mapping[str, SnappedCheckpoint],
    sources: _Sources,
) -> list[Alert]:
    assert trip.window is not None  # noqa: S101  # only started trips get here
    start, end = trip.window
    until = min(end, sources.as_of)
    sightings, unplaced = _sightings(manifest, trip, by_id, sources.reads, until)
    track = [f for plate in manifest.vehicles for f in sources.fixes(plate, start, until)]
    base = _Base(manifest, declared.vehicle, start, until,
                 tuple(sorted({r.index for r in trip.events if r.index >= 0})))  # fmt: skip
    try:
        report = check_trip(network, declared, checkpoints=list(by_id.values()),
                            sightings=sightings, fixes=track, areas=sources.areas,
                            thresholds=sources.thresholds)  # fmt: skip
    except CoordinateInvalid as exc:
        if "place" not in exc.context:  # not a declared place: a checkpoint on another network
            raise
        return [_unplannable(network, declared, base, exc)]
    counts: dict[str, int] = defaultdict(int)
    alerts = []
    for finding in report.findings:  # in time order, then rule
        counts[finding.rule] += 1
        # Named by when it began: a finding that late data adds before an earlier one must
        # not take that one's id (and be dropped as a duplicate of an alert already raised).
        when = f"{finding.start:%Y%m%dT%H%M%SZ}" if finding.start else str(counts[finding.rule])
        alerts.append(_alert(finding, when, base, unplaced))
    return alerts


@dataclass(frozen=True, slots=True)
class _Base:
    """What every alert of one trip shares."""

    manifest: TransferManifest
    plate: str
    start: datetime
    end: datetime
    entries: tuple[int, ...]

    def alert(self, rule: str, n: str, **fields: Any) -> Alert:  # noqa: ANN401  # Alert's fields
        m = self.manifest
        return Alert(
            rule=rule, subject=f"{m.number}/{rule}/{n}", containers=m.containers,
            vehicle=self.plate, parties=(m.generator, m.transporter, m.receiver),
            entries=self.entries, **fields,
        )  # fmt: skip


def _alert(finding: Finding, n: str, base: _Base, unplaced: Sequence[str]) -> Alert:
    facts: dict[str, Any] = dict(finding.facts)
    facts |= {
        "manifest": base.manifest.number,
        "network": finding.network,
        "thresholds": dict(finding.thresholds),
        "observations": list(finding.observations),
        "layers": finding.layers,
    }
    if unplaced:
        facts["unplaced_reads"] = list(unplaced)
    return base.alert(
        finding.rule, n, severity=finding.severity, summary_zh=finding.summary_zh,
        summary=finding.summary, start=finding.start or base.start,
        end=finding.end or finding.start or base.end, facts=facts,
    )  # fmt: skip


def _unplannable(
    network: RoadNetwork, trip: DeclaredTrip, base: _Base, exc: CoordinateInvalid
) -> Alert:
    number, role = base.manifest.number, str(exc.context.get("place"))
    places = {"origin": trip.origin, "destination": trip.destination}
    place = places.get(role)
    at = f"（{place.lon:.6f}, {place.lat:.6f}）" if place else ""
    at_en = f" ({place.lon:.6f}, {place.lat:.6f})" if place else ""
    return base.alert(
        UNPLANNABLE, "1", severity=Severity.INFO,
        summary_zh=f"联单 {number} 的申报{_ROLES_ZH.get(role, '地点')}{at}距路网中所有连通道路超过"
                   f" {PLACE_MAX_M:.0f} 米，无法规划路线，未做路线核查。",
        summary=f"The declared {role} of manifest {number}{at_en} is more than"
                f" {PLACE_MAX_M:.0f} m from every connected road of the network: its route"
                " cannot be planned and was not checked.",
        start=base.start, end=base.end,
        facts={
            "manifest": number, "network": network.identity, "crs": network.crs,
            "place": role, "place_max_m": PLACE_MAX_M,
            "places": {k: {"lon": p.lon, "lat": p.lat} for k, p in places.items()},
            "reason": exc.message, "reason_zh": exc.zh,
        },
    )  # fmt: skip


_ROLES_ZH = {"origin": "起点", "destination": "终点"}


def _sightings(
    manifest: TransferManifest,
    trip: _Trip,
    by_id: Mapping[str, SnappedCheckpoint],
    reads: ReadSource,
    until: datetime,
) -> tuple[list[Sighting], list[str]]:
    """The vehicles' plate reads and the trip's checkpoint scans; reads elsewhere apart.

    A read at a checkpoint that is not among the snapped ones cannot be placed on this road
    network; it is listed in the alerts' facts rather than dropped unseen.
    """
    assert trip.window is not None  # noqa: S101  # only started trips get here
    start = trip.window[0]
    out: list[Sighting] = []
    unplaced: list[str] = []
    for plate in manifest.vehicles:
        for read in reads(plate, start, until):
            ref = f"anpr:{read.checkpoint}:{read.plate}@{iso(read.seen_at)}"
            if read.checkpoint in by_id:
                out.append(Sighting(read.checkpoint, read.seen_at, "anpr", ref=ref))
            else:
                unplaced.append(ref)
    for record in trip.events:
        point = record.event.read_point
        if point is not None and point in by_id and record.event.event_time <= until:
            ref = f"ledger:{record.index}" if record.index >= 0 else \
                f"event:{record.event_hash.hex()}"  # fmt: skip
            out.append(Sighting(point, record.event.event_time, "scan", ref=ref))
    return out, sorted(unplaced)


# -- the stores as sources ----------------------------------------------------------------------


def reads_from(store: SightingStore) -> ReadSource:
    """A vehicle's plate reads in a window, from a sighting store."""

    def reads(plate: str, since: datetime, until: datetime) -> Sequence[PlateRead]:
        return store.reads(plate=plate, since=since, until=until)

    return reads


@runtime_checkable
class TrackPoints(Protocol):
    """A track store that also reads a plate's track lean (``SqlTrackStore`` does).

    ``track_points`` gives what ``fixes_for_plate`` gives, in the same order, as
    ``(fix_time, lon, lat, crs, speed_kmh)`` tuples of fixes validated when they were stored.
    """

    def track_points(
        self, plate: str, start: datetime, end: datetime
    ) -> Sequence[tuple[datetime, float, float, str, float]]:
        """The plate's stored fixes in the half-open window, as plain tuples."""
        ...

    def track_positions(
        self, plate: str, start: datetime, end: datetime
    ) -> Sequence[tuple[float, float, str]]:
        """Only ``(lon, lat, crs)`` of the same fixes, in the same order: what a map draws."""
        ...


def fixes_from(store: TrackStore) -> FixSource:
    """A vehicle's GPS fixes in a window, from a track store, converted to WGS-84.

    The window's end is included (a store's windows are half-open). A store with
    ``track_points`` (:class:`TrackPoints`) is read through it; others through
    ``fixes_for_plate``.
    """
    if isinstance(store, TrackPoints):
        lean: TrackPoints = store

        def points(plate: str, since: datetime, until: datetime) -> Sequence[Fix]:
            rows = lean.track_points(plate, since, until + timedelta(microseconds=1))
            return [Fix(at, *_wgs84(lon, lat, crs), speed) for at, lon, lat, crs, speed in rows]

        return points

    def fixes(plate: str, since: datetime, until: datetime) -> Sequence[Fix]:
        found = store.fixes_for_plate(plate, since, until + timedelta(microseconds=1))
        return [Fix(f.fix_time, *_wgs84(f.lon, f.lat, f.crs), f.speed_kmh) for f in found]

    return fixes


def track_from(store: TrackStore) -> TrackSource:
    """A vehicle's track in a window as WGS-84 ``(lon, lat)`` pairs, to draw it.

    The positions :func:`fixes_from` gives, in the same order and window, without a
    :class:`~routes.model.Fix` (time, speed, checks) built for each of thousands of points.
    """
    if isinstance(store, TrackPoints):
        lean: TrackPoints = store

        def points(plate: str, since: datetime, until: datetime) -> list[tuple[float, float]]:
            rows = lean.track_positions(plate, since, until + timedelta(microseconds=1))
            return [(lon, lat) if crs == _WGS84 else to_wgs84(lon, lat, crs)
                    for lon, lat, crs in rows]  # fmt: skip

        return points

    def track(plate: str, since: datetime, until: datetime) -> list[tuple[float, float]]:
        found = store.fixes_for_plate(plate, since, until + timedelta(microseconds=1))
        return [_wgs84(f.lon, f.lat, f.crs) for f in found]

    return track


def _wgs84(lon: float, lat: float, crs: str) -> tuple[float, float]:
    """A stored fix's ``(lon, lat)`` in WGS-84: as it is when it came in WGS-84 (most do)."""
    return (lon, lat) if crs == _WGS84 else to_wgs84(lon, lat, crs)

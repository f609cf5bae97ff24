"""Read queries for officers: a container's timeline, a vehicle's trips, a party's balance.

Read only: nothing here writes. Each answer holds only what the caller may see (api/scope.py).
Errors are RFC 9457 problem details, Chinese first in ``title_zh``/``detail_zh``.

The timeline, the trips and the area are index lookups (the ledger's container index, the
manifests' plate table, the alerts' place table): their cost follows what they return, not
the size of the ledger (``bench/bench_queries.py`` measures them on a million events).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, Query, Request
from shapely.geometry import Polygon
from sqlmodel import Session

from api.endpoints.deps import RegistryDep
from api.endpoints.guards import ReadableContainerDep, ReaderDep
from api.paging import start_after
from api.schemas.checker import AlertPublic, ManifestPublic
from api.schemas.queries import (
    AlertNearPage,
    BalanceRowPublic,
    JumpPublic,
    PartyBalance,
    SightingPublic,
    SpanPublic,
    Timeline,
    TimelineEvent,
    TrackPublic,
    TripPublic,
    VehicleTrips,
)
from api.schemas.times import Instant
from api.scope import ensure_party, manifest_parties
from custody.alerts import AlertFilter, AlertState, Severity
from custody.errors import PlateInvalid, RecordInvalid
from custody.facts import Facts
from custody.history import histories
from custody.plates import parse_plate
from custody.rules.mass import monthly_balance
from routes.trips import track_from, trip_windows
from storage.alert_store import SqlAlertStore
from storage.facts_loader import load_party_facts, load_records
from storage.manifest_store import SqlManifestStore
from storage.registry_store import SqlRegistryStore
from storage.sighting_store import SqlSightingStore
from storage.track_store import SqlTrackStore

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from custody.history import ContainerHistory, Record
    from custody.parties import Party

router = APIRouter(tags=["queries"])

#: Alerts shown with a timeline or a vehicle's trips; the rest through ``GET /alerts``.
ALERTS_SHOWN = 100
MAX_TRIPS_PAGE = 100
MAX_MONTHS = 36
_CHINA = timezone(timedelta(hours=8))
_BBOX = "最小经度,最小纬度,最大经度,最大纬度（WGS-84）· minLon,minLat,maxLon,maxLat"
_POLYGON = "多边形顶点：经度,纬度;经度,纬度;…（WGS-84，至少三个）· lon,lat;lon,lat;… (3 or more)"
_CORNERS = 3

_NOT_FOUND = "未登记 · Not registered (problem details)"
_INVALID = "标识、参数或游标无效 · Bad identifier, parameter or cursor (problem details)"


def _now() -> datetime:
    """The queries' clock (tests replace it)."""
    return datetime.now(UTC)


def _problems(*statuses: int) -> dict[int | str, dict[str, object]]:
    texts = {404: _NOT_FOUND, 422: _INVALID}
    return {status: {"description": texts[status]} for status in statuses}


def _engine(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def _alert_page(engine: Engine, where: AlertFilter) -> tuple[list[AlertPublic], str | None]:
    """The first alerts matching ``where`` (which carries the caller's reach)."""
    found = SqlAlertStore(engine).list_alerts(where, limit=ALERTS_SHOWN + 1)
    shown = found[:ALERTS_SHOWN]
    more = len(found) > ALERTS_SHOWN
    return [AlertPublic.of(a) for a in shown], shown[-1].alert_id if more else None


# -- a container --------------------------------------------------------------------------------


@router.get("/containers/{digital_id}/timeline", responses=_problems(404, 422))  # noqa: FAST003  # read by the guard
def container_timeline(
    request: Request, container: ReadableContainerDep, principal: ReaderDep
) -> Timeline:
    """容器交接时间线 · A container's custody timeline for an officer.

    Its ledger events in the order the devices claim (the ledger index breaking ties), with
    the step's Chinese name and the parties' registered names; the custody spans and jumps
    (missing hand-offs, conflicts) of ``custody.history``; and the first alerts naming it.
    Reads the entries naming the container (the ledger's container index) and the parties
    they name, not the whole registry and manifests the checker's snapshot holds.
    """
    code = container.digital_id.text
    engine = _engine(request)
    generator = container.facts.generator
    history = histories(load_records(engine, [code])).get(code)
    facts = Facts(histories={}, as_of=_now(), parties=_parties(engine, generator, history))
    records = history.records if history else []
    alerts, alerts_next = _alert_page(engine, AlertFilter(container=code, reach=principal.reach))
    return Timeline(
        container=code,
        generator=generator,
        generator_name=facts.name(generator) if generator in facts.parties else None,
        waste_code=container.facts.waste_code,
        declared_kg=container.facts.declared_net_mass_g / 1000,
        events=[TimelineEvent.of(r, facts) for r in records],
        spans=[SpanPublic.of(s, facts) for s in history.spans] if history else [],
        jumps=[JumpPublic.of(j, facts) for j in history.jumps] if history else [],
        alerts=alerts,
        alerts_next=alerts_next,
    )


def _parties(engine: Engine, generator: str, history: ContainerHistory | None) -> dict[str, Party]:
    """The registered parties a timeline names: its generator, actors and holders."""
    named = {generator}
    if history is not None:
        records: list[Record] = [*history.records, *(j.record for j in history.jumps)]
        named |= {c for r in records for c in (r.event.party, r.event.counterparty) if c}
        named |= {s.holder for s in history.spans} | {j.holder for j in history.jumps}
    with Session(engine) as session:
        return SqlRegistryStore(session).parties_by_code(named)


# -- a vehicle ----------------------------------------------------------------------------------


def _plate(text: str) -> str:
    try:
        return parse_plate(text).text
    except PlateInvalid as exc:  # name the plate: the parser's text only names a position
        raise PlateInvalid(f"plate {text!r}: {exc.message}", zh=f"车牌号“{text}”无效：{exc.zh}",
                           **exc.context, plate=text) from exc  # fmt: skip


@router.get("/vehicles/{plate}/trips", responses=_problems(422))
def vehicle_trips(  # noqa: PLR0913, PLR0917  # FastAPI passes one parameter per filter
    plate: str,
    request: Request,
    principal: ReaderDep,
    since: Annotated[Instant | None, Query(description="联单开具于此时或之后.")] = None,
    until: Annotated[Instant | None, Query(description="联单开具于此时之前.")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_TRIPS_PAGE)] = 10,
    cursor: Annotated[str | None, Query(max_length=20, description="上一页的 `next`.")] = None,
) -> VehicleTrips:
    """车辆行程 · A vehicle's trips: every manifest listing the plate, issued in the window.

    Per trip: its window (``routes.trips.trip_windows`` on the ledger events naming the
    manifest's containers: first loading or departure to receipt, or to the deadline), the
    plate's checkpoint reads in that window and its GPS track there (a GeoJSON LineString,
    thinned evenly beyond 5,000 points; ``fixes`` counts them all). A trip not begun has no
    window, reads or track. Alerts are those whose vehicle is the plate and whose window
    overlaps ``[since, until)``. The manifests are found by the plate's index
    (``transfer_manifest_vehicle``, see ``SqlManifestStore.manifests_for_vehicle``); only the
    page's containers' ledger entries are read and decoded. Only manifests and alerts naming a
    party in the caller's reach are listed: a transporter sees its own trips, not a rival's.
    """
    canonical = _plate(plate)
    engine = _engine(request)
    with Session(engine) as session:
        manifests = SqlManifestStore(session).manifests_for_vehicle(
            canonical, since=since, until=until
        )
    manifests = [m for m in manifests if principal.covers_any(manifest_parties(m))]
    first = start_after([m.number for m in manifests], cursor)
    page = manifests[first : first + limit]
    more = first + limit < len(manifests)
    records = load_records(engine, {c for m in page for c in m.containers})
    windows = trip_windows(page, records)  # the records indexed once for the whole page
    track = track_from(SqlTrackStore(engine))
    # The plate's reads over the whole page in one query, then shared out by trip.
    spans = [w for w in windows.values() if w is not None]
    page_reads = SqlSightingStore(engine).reads(
        plate=canonical, since=min(s for s, _ in spans),
        until=max(e for _, e in spans) + timedelta(microseconds=1),
    ) if spans else []  # fmt: skip
    trips = []
    for manifest in page:
        window = windows[manifest.number]
        if window is None:
            empty = TrackPublic.of_points([])
            trips.append(TripPublic(manifest=ManifestPublic.of(manifest), started=None,
                                    ended=None, sightings=[], track=empty))  # fmt: skip
            continue
        start, end = window
        # The window's end is the receipt: a read at that instant belongs to the trip.
        seen = [r for r in page_reads if start <= r.seen_at <= end]
        trips.append(
            TripPublic(
                manifest=ManifestPublic.of(manifest),
                started=start,
                ended=end,
                sightings=[SightingPublic.of(r) for r in seen],
                track=TrackPublic.of_points(track(canonical, start, end)),
            )
        )
    alerts, alerts_next = _alert_page(
        engine, AlertFilter(vehicle=canonical, since=since, until=until, reach=principal.reach)
    )
    return VehicleTrips(plate=canonical, items=trips,
                        next=page[-1].number if more else None, alerts=alerts,
                        alerts_next=alerts_next)  # fmt: skip


# -- a party ------------------------------------------------------------------------------------


def _months_back(now: datetime, months: int) -> datetime:
    """The start of China's month ``months - 1`` months before ``now``'s."""
    local = now.astimezone(_CHINA)
    total = local.year * 12 + local.month - 1 - (months - 1)
    return datetime(total // 12, total % 12 + 1, 1, tzinfo=_CHINA)


@router.get("/parties/{credit_code}/balance", responses=_problems(404, 422))
def party_balance(
    credit_code: str,
    request: Request,
    registry: RegistryDep,
    principal: ReaderDep,
    months: Annotated[int, Query(ge=1, le=MAX_MONTHS, description="最近几个月（含本月）.")] = 6,
) -> PartyBalance:
    """单位月度重量平衡 · A party's monthly mass balance, as generator and as disposer.

    The rows of ``custody.rules.mass.monthly_balance`` for the party over the last ``months``
    months of China's calendar, this month included, computed on the party's containers only
    (``storage.facts_loader.load_party_facts``: those it generated or scanned, and those named
    beside them), each history whole. A container with no event at all in the window is not
    counted.
    """
    party = registry.party(credit_code)  # 422 for a bad code, 404 when not registered
    ensure_party(principal, party.credit_code)  # a party its own, an officer their districts
    now = _now()
    start = _months_back(now, months)
    facts = load_party_facts(_engine(request), party.credit_code, as_of=now, since=start)
    first = f"{start:%Y-%m}"
    rows = [r for r in monthly_balance(facts)
            if r.party == party.credit_code and r.month >= first]  # fmt: skip
    return PartyBalance(party=party.credit_code, name=party.name, months=months, since=start,
                        as_of=now, rows=[BalanceRowPublic.of(r) for r in rows])  # fmt: skip


# -- alerts in an area --------------------------------------------------------------------------


def _bbox(text: str) -> tuple[float, float, float, float]:
    parts = text.split(",")
    try:
        west, south, east, north = (float(p) for p in parts)
    except ValueError:
        west = south = east = north = float("nan")
    valid = len(parts) == 4 and -180 <= west <= east <= 180 and -90 <= south <= north <= 90
    if not valid:
        raise RecordInvalid(
            f"bbox {text!r} is not minLon,minLat,maxLon,maxLat in WGS-84 degrees",
            zh=f"范围 bbox“{text}”无效：应为 最小经度,最小纬度,最大经度,最大纬度（WGS-84）",
            field="bbox",
        )
    return west, south, east, north


def _ring(text: str) -> list[tuple[float, float]]:
    """``lon,lat;lon,lat;...``: at least three corners of a simple polygon, WGS-84 degrees."""
    try:
        ring = [(float(lon), float(lat)) for lon, lat in
                (corner.split(",") for corner in text.split(";"))]  # fmt: skip
    except ValueError:
        ring = []
    inside = all(-180 <= lon <= 180 and -90 <= lat <= 90 for lon, lat in ring)
    if len(ring) < _CORNERS or not inside or not Polygon(ring).is_valid:
        raise RecordInvalid(
            f"polygon {text[:80]!r} is not three or more lon,lat corners separated by ';' "
            "outlining a simple area in WGS-84 degrees",
            zh="多边形 polygon 无效：应为至少三个以分号分隔的“经度,纬度”顶点（WGS-84），且边不自交",
            field="polygon",
        )
    return ring


@router.get("/alerts/near", responses=_problems(422))
def alerts_near(  # noqa: PLR0913, PLR0917  # FastAPI passes one parameter per filter
    request: Request,
    principal: ReaderDep,
    bbox: Annotated[
        str | None,
        Query(
            max_length=100,
            examples=["103.9,30.5,104.2,30.8"],
            description=_BBOX,
        ),
    ] = None,
    polygon: Annotated[
        str | None,
        Query(
            max_length=4000,
            examples=["104.0,30.6;104.2,30.6;104.1,30.8"],
            description=_POLYGON,
        ),
    ] = None,
    rule: Annotated[str | None, Query(max_length=64)] = None,
    state: Annotated[AlertState | None, Query()] = None,
    min_severity: Annotated[Severity | None, Query()] = None,
    since: Annotated[Instant | None, Query(description="Window ends at or after.")] = None,
    until: Annotated[Instant | None, Query(description="Window starts before.")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=64, description="上一页的 `next`.")] = None,
) -> AlertNearPage:
    """区域内告警 · Alerts with a ledger event, or a point of their map, inside an area.

    The area is a box (``bbox``) or a polygon drawn on the map (``polygon``, edges inside),
    exactly one of them.

    A SQL filter on the places stored with each alert when it was raised (``alert_place``,
    indexed by latitude and longitude): the locations (the scanner's GPS) of the ledger
    events it rests on, and the points of a route alert's map layers (stops, checkpoints,
    sightings; not its lines or areas). In the order of ``GET /alerts`` (most severe first,
    then the latest window), keyset-paged. ``scanned`` counts the alerts matching the other
    filters (all of them are looked at); ``capped`` is always false (there is no cap any more).
    """
    if (bbox is None) == (polygon is None):
        raise RecordInvalid("give an area: bbox or polygon, not both", field="bbox",
                            zh="请给出一个区域：bbox 或 polygon，二者选一")  # fmt: skip
    store = SqlAlertStore(_engine(request))
    where = AlertFilter(rule=rule, state=state, min_severity=min_severity, since=since,
                        until=until, reach=principal.reach)  # fmt: skip
    if polygon is not None:  # one more than the page: is there a next?
        found = store.list_in_area(_ring(polygon), where, limit=limit + 1, after=cursor)
    else:
        found = store.list_near(_bbox(bbox or ""), where, limit=limit + 1, after=cursor)
    page = found[:limit]
    more = len(found) > limit
    return AlertNearPage(items=[AlertPublic.of(a) for a in page],
                         next=page[-1].alert_id if more else None,
                         scanned=store.count_alerts(where), capped=False)  # fmt: skip

"""Alerts and their state changes in SQL, behind :class:`custody.alerts.AlertStore`.

Thread-safe: each call takes its own connection from the engine (the checker and the service
may run at once). Raising is ``INSERT .. ON CONFLICT DO NOTHING RETURNING`` (SQLite and
PostgreSQL both have it), so an alert raised by two runs at once is stored once and the
loser's batch still succeeds; rows go in id order so two overlapping batches on PostgreSQL
take their row locks in the same order and cannot deadlock.

Listing is keyset-paginated in SQL: most severe first, then the latest window end, then id.
The containers and parties an alert names are kept twice: in order on the alert (what is
shown) and in the ``alert_container``/``alert_party`` link tables (what is filtered on).

Where an alert's evidence lies is kept in ``alert_place`` when the alert is stored: the
locations of its ledger events (read from the ``ledger_entry`` rows it names and decoded, in
the storing transaction; an alert has a few) and the points of its map layers (a route
alert's stops, checkpoints and sightings; its lines and areas are not read). ``list_near``
selects alerts by area with that table's (lat, lon) index. Migration 0007 filled it for the
alerts stored before.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from shapely.geometry import Point, Polygon
from shapely.prepared import prep
from sqlalchemy import and_, bindparam, false, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from custody.alerts import Alert, AlertChange, AlertState, Severity
from custody.errors import AlertNotFound, RecordInvalid, StorageError
from custody.history import record_of
from custody.ports import StoredEntry
from storage.container_store import IN_CHUNK
from storage.engine import SQLITE_IMMEDIATE
from storage.tables import (
    AlertChangeRow,
    AlertContainerRow,
    AlertPartyRow,
    AlertPlaceRow,
    AlertRow,
    LedgerEntryRow,
    metadata,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence

    from sqlalchemy.engine import Connection, Engine

    from custody.access import Reach
    from custody.alerts import AlertFilter

__all__ = ["Box", "SqlAlertStore", "map_points"]

#: An area: west, south, east, north (WGS-84 degrees; longitudes, then latitudes).
Box = tuple[float, float, float, float]
Place = tuple[float, float]  # (lat, lon)

_ALERT = metadata.tables[AlertRow.__tablename__]
_CHANGE = metadata.tables[AlertChangeRow.__tablename__]
_CONTAINER = metadata.tables[AlertContainerRow.__tablename__]
_PARTY = metadata.tables[AlertPartyRow.__tablename__]
_PLACE = metadata.tables[AlertPlaceRow.__tablename__]
_ENTRY = metadata.tables[LedgerEntryRow.__tablename__]
_ENTRY_COLUMNS = (_ENTRY.c.idx, _ENTRY.c.event_id, _ENTRY.c.event_hash, _ENTRY.c.entry,
                  _ENTRY.c.leaf_hash)  # fmt: skip


def _plain(value: object) -> object:
    """What JSON cannot hold as is: times as ISO 8601, everything else as its text."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


def _dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=_plain)


def _values(alert: Alert, raised_at: datetime) -> dict[str, Any]:
    return {
        "alert_id": alert.alert_id,
        "rule": alert.rule,
        "subject": alert.subject,
        "severity": alert.severity.value,
        "severity_rank": alert.severity.rank,
        "state": alert.state.value,
        "summary_zh": alert.summary_zh,
        "summary": alert.summary,
        "start": alert.start,
        "end": alert.end,
        "vehicle": alert.vehicle,
        "containers": _dumps(list(alert.containers)),
        "parties": _dumps(list(alert.parties)),
        "entries": _dumps(list(alert.entries)),
        "facts": _dumps(alert.facts),
        "raised_at": raised_at,
    }


def _alert(row: Any) -> Alert:  # noqa: ANN401  # a SQLAlchemy Row, or the values inserted
    return Alert(
        rule=row["rule"],
        subject=row["subject"],
        severity=Severity(row["severity"]),
        summary_zh=row["summary_zh"],
        summary=row["summary"],
        start=row["start"],
        end=row["end"],
        containers=tuple(json.loads(row["containers"])),
        vehicle=row["vehicle"],
        parties=tuple(json.loads(row["parties"])),
        entries=tuple(json.loads(row["entries"])),
        facts=json.loads(row["facts"]),
        state=AlertState(row["state"]),
        raised_at=row["raised_at"],
    )


def _named(link: Any, column: str, value: str) -> Any:  # noqa: ANN401  # SQLAlchemy
    """Alerts whose link table row names ``value``: a lookup on the link's primary key."""
    return _ALERT.c.alert_id.in_(select(link.c.alert_id).where(link.c[column] == value))


def _of_waste(code: str) -> Any:  # noqa: ANN401  # a SQL expression
    """Alerts naming a container of the waste code: its 8 digits sit at 19-26 of an HJ 1276 id."""
    c = _CONTAINER.c
    digits = code.replace("-", "")
    return _ALERT.c.alert_id.in_(
        select(c.alert_id).where(func.substr(c.container, 19, 8) == digits)
    )


def _conditions(where: AlertFilter) -> list[Any]:
    """The filter as SQL conditions; a field left ``None`` does not filter."""
    a = _ALERT.c
    builders: list[tuple[object, Callable[[Any], Any]]] = [
        (where.rule, lambda v: a.rule == v),
        (where.state, lambda v: a.state == AlertState(v).value),
        (where.min_severity, lambda v: a.severity_rank >= Severity(v).rank),
        (where.vehicle, lambda v: a.vehicle == v),
        (where.container, lambda v: _named(_CONTAINER, "container", v)),
        (where.party, lambda v: _named(_PARTY, "party", v)),
        (where.waste_code, _of_waste),
        (where.since, lambda v: a.end >= v),  # the window ends at or after ``since`` ...
        (where.until, lambda v: a.start < v),  # ... and starts before ``until``
    ]
    conditions = [build(value) for value, build in builders if value is not None]
    if where.reach is not None:
        conditions.append(_within(where.reach))
    return conditions


def _within(reach: Reach) -> Any:  # noqa: ANN401  # a SQL expression
    """Alerts naming a party in reach: by code, or by the division inside the code."""
    p = _PARTY.c
    named: list[Any] = [p.party.in_(reach.parties)] if reach.parties else []
    named += [func.substr(p.party, 3, len(d)) == d for d in reach.divisions]
    if not named:
        return false()
    return _ALERT.c.alert_id.in_(select(p.alert_id).where(or_(*named)))


def _points(geometry: object) -> Iterator[Place]:
    """The points of a GeoJSON value: Point and MultiPoint geometries, in collections too."""
    if isinstance(geometry, list):
        for item in geometry:
            yield from _points(item)
        return
    if not isinstance(geometry, dict):
        return
    kind, coordinates = geometry.get("type"), geometry.get("coordinates")
    pairs = [coordinates] if kind == "Point" else coordinates if kind == "MultiPoint" else []
    for pair in pairs or []:
        if isinstance(pair, list | tuple) and len(pair) >= 2:  # GeoJSON: [lon, lat, ...]
            lon, lat = pair[0], pair[1]
            if isinstance(lon, int | float) and isinstance(lat, int | float):
                yield float(lat), float(lon)
    for key in ("geometry", "geometries", "features"):
        yield from _points(geometry.get(key))


def map_points(facts: Mapping[str, Any]) -> set[Place]:
    """The points (lat, lon) of an alert's map layers (``facts["layers"]``), if it has any."""
    layers = facts.get("layers")
    if not isinstance(layers, dict):
        return set()
    return {p for layer in layers.values() for p in _points(layer)
            if -90 <= p[0] <= 90 and -180 <= p[1] <= 180}  # fmt: skip


def _event_locations(conn: Connection, indices: Iterable[int]) -> dict[int, Place]:
    """The located events among the ledger entries ``indices`` (read and decoded here)."""
    wanted = sorted(set(indices))
    found: dict[int, Place] = {}
    for start in range(0, len(wanted), IN_CHUNK):
        query = select(*_ENTRY_COLUMNS).where(_ENTRY.c.idx.in_(wanted[start : start + IN_CHUNK]))
        for idx, event_id, event_hash, entry, leaf in conn.execute(query):
            stored = StoredEntry(idx, event_id, bytes(event_hash), bytes(entry), bytes(leaf))
            location = record_of(stored).event.location
            if location is not None:
                found[idx] = location
    return found


def _places(conn: Connection, alerts: Sequence[Alert]) -> list[dict[str, Any]]:
    """The ``alert_place`` rows of ``alerts``: their events' locations and map points."""
    located = _event_locations(conn, (i for a in alerts for i in a.entries))
    rows = []
    for alert in alerts:
        points = {located[i] for i in alert.entries if i in located} | map_points(alert.facts)
        rows += [{"alert_id": alert.alert_id, "lat": lat, "lon": lon}
                 for lat, lon in sorted(points)]  # fmt: skip
    return rows


def _change(row: Any) -> AlertChange:  # noqa: ANN401  # a SQLAlchemy Row
    return AlertChange(row.alert_id, row.at, row.by, AlertState(row.state), row.reason)


class SqlAlertStore:
    """Alerts in the ``alert`` table, changes in ``alert_change`` (SQLite or PostgreSQL)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert

    @contextmanager
    def _write(self, what: str, what_zh: str) -> Iterator[Connection]:
        """One write transaction; on SQLite it takes the write lock first (BEGIN IMMEDIATE)."""
        try:
            with (
                self._engine.connect().execution_options(**{SQLITE_IMMEDIATE: True}) as conn,
                conn.begin(),
            ):
                yield conn
        except SQLAlchemyError as exc:
            raise StorageError(f"could not {what}: {exc.__class__.__name__}",
                               zh=f"无法{what_zh}") from exc  # fmt: skip

    def _read(self, query: Any) -> list[Any]:  # noqa: ANN401  # SQLAlchemy statements
        try:
            with self._engine.connect() as conn:
                return list(conn.execute(query).mappings())
        except SQLAlchemyError as exc:
            raise StorageError(f"reading alerts failed: {exc.__class__.__name__}",
                               zh="读取告警失败") from exc  # fmt: skip

    def add_alerts(self, alerts: Sequence[Alert], raised_at: datetime) -> list[Alert]:
        if raised_at.tzinfo is None:
            raise RecordInvalid("raised_at needs a time zone", zh="告警时间须带时区")
        raised_at = raised_at.astimezone(UTC)
        unique: dict[str, Alert] = {}
        for alert in alerts:  # the first of an id wins, within a batch as across batches
            unique.setdefault(alert.alert_id, alert)
        if not unique:
            return []
        rows = [_values(unique[key], raised_at) for key in sorted(unique)]
        statement = (
            self._insert(_ALERT)
            .on_conflict_do_nothing(index_elements=[_ALERT.c.alert_id])
            .returning(_ALERT.c.alert_id)
        )
        with self._write(f"store {len(rows)} alerts", f"保存 {len(rows)} 条告警") as conn:
            # executemany with RETURNING: only the rows this call inserted come back.
            new = {row.alert_id for row in conn.execute(statement, rows)}
            stored = [unique[key] for key in sorted(new)]
            containers = [{"container": c, "alert_id": a.alert_id}
                          for a in stored for c in dict.fromkeys(a.containers)]  # fmt: skip
            parties = [{"party": p, "alert_id": a.alert_id}
                       for a in stored for p in dict.fromkeys(a.parties)]  # fmt: skip
            if containers:
                conn.execute(insert(_CONTAINER), containers)
            if parties:
                conn.execute(insert(_PARTY), parties)
            places = _places(conn, stored)
            if places:
                conn.execute(insert(_PLACE), places)
        by_id = {row["alert_id"]: row for row in rows}
        return [_alert(by_id[key]) for key in unique if key in new]

    def get_alert(self, alert_id: str) -> Alert | None:
        rows = self._read(select(_ALERT).where(_ALERT.c.alert_id == alert_id))
        return _alert(rows[0]) if rows else None

    def list_alerts(
        self, where: AlertFilter, *, limit: int = 100, after: str | None = None
    ) -> list[Alert]:
        return self._listing(_conditions(where), limit, after)

    def list_near(
        self, box: Box, where: AlertFilter, *, limit: int = 100, after: str | None = None
    ) -> list[Alert]:
        """Alerts matching ``where`` with a place inside ``box``, in the order of the listing.

        A place is where one of the alert's ledger events is located, or a point of its map
        (see the module's docstring); the box's edges are inside. Keyset-paginated like
        :meth:`list_alerts`.
        """
        west, south, east, north = box
        p = _PLACE.c
        inside = select(p.alert_id).where(p.lat >= south, p.lat <= north, p.lon >= west,
                                          p.lon <= east)  # fmt: skip
        return self._listing([*_conditions(where), _ALERT.c.alert_id.in_(inside)], limit, after)

    def list_in_area(
        self,
        ring: Sequence[tuple[float, float]],
        where: AlertFilter,
        *,
        limit: int = 100,
        after: str | None = None,
    ) -> list[Alert]:
        """Like :meth:`list_near`, inside a polygon: ``ring`` is its (lon, lat) corners.

        The places in the polygon's bounding box come through the place index; those inside
        the polygon itself (edges included) are kept by shapely, and the listing is then that
        of :meth:`list_near` over their alerts.
        """
        shape = Polygon(ring)
        area, (west, south, east, north) = prep(shape), shape.bounds
        p = _PLACE.c
        boxed = select(p.alert_id, p.lon, p.lat).where(p.lat >= south, p.lat <= north,
                                                       p.lon >= west, p.lon <= east)  # fmt: skip
        inside = sorted({row["alert_id"] for row in self._read(boxed)
                         if area.covers(Point(row["lon"], row["lat"]))})  # fmt: skip
        if not inside:
            return []
        kept = _ALERT.c.alert_id.in_(bindparam(None, inside, expanding=True))
        return self._listing([*_conditions(where), kept], limit, after)

    def count_alerts(self, where: AlertFilter) -> int:
        """How many alerts match ``where``."""
        query = select(func.count().label("n")).select_from(_ALERT).where(*_conditions(where))
        count: int = self._read(query)[0]["n"]
        return count

    def _listing(self, conditions: list[Any], limit: int, after: str | None) -> list[Alert]:
        if limit < 1:
            raise RecordInvalid("limit must be at least 1", zh="每页条数至少为 1", field="limit")
        a = _ALERT.c
        query = select(_ALERT).where(*conditions)
        query = query.order_by(a.severity_rank.desc(), a.end.desc(), a.alert_id).limit(limit)
        try:
            with self._engine.connect() as conn:
                if after is not None:
                    query = query.where(self._after(conn, after))
                rows = conn.execute(query).mappings().all()
        except SQLAlchemyError as exc:
            raise StorageError(f"listing alerts failed: {exc.__class__.__name__}",
                               zh="查询告警失败") from exc  # fmt: skip
        return [_alert(row) for row in rows]

    @staticmethod
    def _after(conn: Connection, after: str) -> Any:  # noqa: ANN401  # a SQL expression
        """Rows that come after the alert ``after`` in the listing order."""
        a = _ALERT.c
        last = conn.execute(select(a.severity_rank, a.end).where(a.alert_id == after)).one_or_none()
        if last is None:
            raise RecordInvalid(f"the page cursor {after!r} names no alert",
                                zh="分页游标无效：没有该告警", field="after")  # fmt: skip
        rank, end = last
        return or_(
            a.severity_rank < rank,
            and_(a.severity_rank == rank, a.end < end),
            and_(a.severity_rank == rank, a.end == end, a.alert_id > after),
        )

    def change_state(self, change: AlertChange, expected: AlertState) -> bool:
        state = AlertState(change.state).value
        with self._write(f"change alert {change.alert_id}",
                         f"变更告警 {change.alert_id} 的状态") as conn:  # fmt: skip
            # Compare and set: the update only applies while the alert is still as it was read.
            updated = conn.execute(
                update(_ALERT)
                .where(_ALERT.c.alert_id == change.alert_id)
                .where(_ALERT.c.state == AlertState(expected).value)
                .values(state=state)
            )
            if updated.rowcount != 1:
                found = conn.execute(
                    select(_ALERT.c.alert_id).where(_ALERT.c.alert_id == change.alert_id)
                ).first()
                if found is None:  # rolls the transaction back
                    raise AlertNotFound(f"no alert {change.alert_id}",
                                        zh=f"未找到告警 {change.alert_id}")  # fmt: skip
                return False
            row = {"alert_id": change.alert_id, "at": change.at, "by": change.by,
                   "state": state, "reason": change.reason}  # fmt: skip
            conn.execute(insert(_CHANGE), [row])
        return True

    def changes(self, alert_id: str) -> list[AlertChange]:
        query = (
            select(_CHANGE)
            .where(_CHANGE.c.alert_id == alert_id)
            .order_by(_CHANGE.c.at, _CHANGE.c.id)
        )
        try:
            with self._engine.connect() as conn:
                return [_change(row) for row in conn.execute(query)]
        except SQLAlchemyError as exc:
            raise StorageError(f"reading alert changes failed: {exc.__class__.__name__}",
                               zh="读取告警变更记录失败") from exc  # fmt: skip

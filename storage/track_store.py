"""Vehicle terminals and their GPS fixes in SQL, behind :class:`custody.tracks.TrackStore`.

Thread-safe: each call takes its own connection from the engine, so the gateway can run calls
in worker threads. Fixes go in one ``INSERT .. ON CONFLICT DO NOTHING`` per batch (SQLite and
PostgreSQL both have it), so a re-sent fix is skipped by the database itself, also when two
connections deliver it at once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from custody.errors import StorageError
from custody.tracks import GpsFix, Terminal
from storage.tables import GpsFixRow, TerminalRow, metadata

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime

    from sqlalchemy.engine import Engine

__all__ = ["SqlTrackStore", "TrackPoint"]

_TERMINAL = metadata.tables[TerminalRow.__tablename__]
_FIX = metadata.tables[GpsFixRow.__tablename__]


class TrackPoint(NamedTuple):
    """A stored fix as a track needs it: when, where (in the system it came in), how fast."""

    fix_time: datetime
    lon: float
    lat: float
    crs: str
    speed_kmh: float


def _terminal(row: Any) -> Terminal:  # noqa: ANN401  # a SQLAlchemy Row
    return Terminal(
        phone=row.phone,
        plate=row.plate,
        plate_colour=row.plate_colour,
        manufacturer=row.manufacturer,
        model=row.model,
        terminal_id=row.terminal_id,
        auth_code=row.auth_code,
        registered_at=row.registered_at,
    )


def _fix(row: Any) -> GpsFix:  # noqa: ANN401  # a SQLAlchemy Row
    return GpsFix(
        terminal=row.terminal,
        plate=row.plate,
        fix_time=row.fix_time,
        lat=row.lat,
        lon=row.lon,
        crs=row.crs,
        altitude_m=row.altitude_m,
        speed_kmh=row.speed_kmh,
        heading=row.heading,
        alarm=row.alarm,
        status=row.status,
        received_at=row.received_at,
    )


def _fix_values(fix: GpsFix) -> dict[str, object]:
    return {
        "terminal": fix.terminal,
        "fix_time": fix.fix_time,
        "plate": fix.plate,
        "lat": fix.lat,
        "lon": fix.lon,
        "crs": fix.crs,
        "altitude_m": fix.altitude_m,
        "speed_kmh": fix.speed_kmh,
        "heading": fix.heading,
        "alarm": fix.alarm,
        "status": fix.status,
        "received_at": fix.received_at,
    }


class SqlTrackStore:
    """Terminals and fixes in the ``terminal`` and ``gps_fix`` tables (SQLite or PostgreSQL)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert

    def register_terminal(self, terminal: Terminal) -> tuple[Terminal, bool]:
        statement = (
            self._insert(_TERMINAL)
            .values(
                phone=terminal.phone,
                plate=terminal.plate,
                plate_colour=terminal.plate_colour,
                manufacturer=terminal.manufacturer,
                model=terminal.model,
                terminal_id=terminal.terminal_id,
                auth_code=terminal.auth_code,
                registered_at=terminal.registered_at,
            )
            .on_conflict_do_nothing(index_elements=[_TERMINAL.c.phone])
            .returning(_TERMINAL.c.phone)
        )
        try:
            with self._engine.begin() as conn:
                new = conn.execute(statement).first() is not None
                row = conn.execute(
                    select(_TERMINAL).where(_TERMINAL.c.phone == terminal.phone)
                ).one()
        except SQLAlchemyError as exc:
            raise StorageError(
                f"could not register terminal {terminal.phone}: {exc.__class__.__name__}",
                zh=f"无法登记终端 {terminal.phone}",
            ) from exc
        return _terminal(row), new

    def get_terminal(self, phone: str) -> Terminal | None:
        rows = self._read(select(_TERMINAL).where(_TERMINAL.c.phone == phone))
        return _terminal(rows[0]) if rows else None

    def add_fixes(self, fixes: Sequence[GpsFix]) -> int:
        unique: dict[tuple[str, datetime], GpsFix] = {}
        for fix in fixes:  # the first fix for a key wins, within a batch as across batches
            unique.setdefault((fix.terminal, fix.fix_time), fix)
        if not unique:
            return 0
        statement = (
            self._insert(_FIX)
            .on_conflict_do_nothing(index_elements=[_FIX.c.terminal, _FIX.c.fix_time])
            .returning(_FIX.c.terminal)
        )
        rows = [_fix_values(fix) for fix in unique.values()]
        try:
            with self._engine.begin() as conn:
                # executemany with RETURNING: only inserted rows come back, batched by SQLAlchemy.
                return len(conn.execute(statement, rows).all())
        except SQLAlchemyError as exc:
            raise StorageError(
                f"could not store {len(rows)} GPS fixes: {exc.__class__.__name__}",
                zh=f"无法保存 {len(rows)} 条定位数据",
            ) from exc

    def fixes_for_terminal(self, phone: str, start: datetime, end: datetime) -> list[GpsFix]:
        query = (
            select(_FIX)
            .where(_FIX.c.terminal == phone, _FIX.c.fix_time >= start, _FIX.c.fix_time < end)
            .order_by(_FIX.c.fix_time)
        )
        return [_fix(row) for row in self._read(query)]

    def fixes_for_plate(self, plate: str, start: datetime, end: datetime) -> list[GpsFix]:
        query = (
            select(_FIX)
            .where(_FIX.c.plate == plate, _FIX.c.fix_time >= start, _FIX.c.fix_time < end)
            .order_by(_FIX.c.fix_time, _FIX.c.terminal)
        )
        return [_fix(row) for row in self._read(query)]

    def track_points(self, plate: str, start: datetime, end: datetime) -> list[TrackPoint]:
        """The plate's fixes in the window, as :meth:`fixes_for_plate` orders them, but lean.

        Five columns as plain tuples, not a validated :class:`GpsFix` each (with its plate
        parsed again): every row was a valid ``GpsFix`` when it was stored. For reading
        tracks back in bulk (an officer's page of trips, the route checks).
        """
        f = _FIX.c
        query = (
            select(f.fix_time, f.lon, f.lat, f.crs, f.speed_kmh)
            .where(f.plate == plate, f.fix_time >= start, f.fix_time < end)
            .order_by(f.fix_time, f.terminal)
        )
        return [TrackPoint._make(row) for row in self._read(query)]

    def track_positions(
        self, plate: str, start: datetime, end: datetime
    ) -> list[tuple[float, float, str]]:
        """Only ``(lon, lat, crs)`` of :meth:`track_points`' fixes, in the same order.

        What a map draws: no time is parsed, and the covering index (plate, fix time,
        terminal, lon, lat, crs, speed) answers it without reading the table.
        """
        f = _FIX.c
        query = (
            select(f.lon, f.lat, f.crs)
            .where(f.plate == plate, f.fix_time >= start, f.fix_time < end)
            .order_by(f.fix_time, f.terminal)
        )
        try:
            with self._engine.connect() as conn:
                return [tuple(row) for row in conn.execute(query)]
        except SQLAlchemyError as exc:
            raise StorageError(
                f"reading tracks failed: {exc.__class__.__name__}", zh="读取轨迹数据失败"
            ) from exc

    def _read(self, query: Any) -> list[Any]:  # noqa: ANN401  # SQLAlchemy statements
        try:
            with self._engine.connect() as conn:
                return list(conn.execute(query))
        except SQLAlchemyError as exc:
            raise StorageError(
                f"reading tracks failed: {exc.__class__.__name__}", zh="读取轨迹数据失败"
            ) from exc

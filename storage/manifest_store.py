"""Transfer manifests in SQL, behind :class:`custody.manifests.ManifestStore`.

A manifest's lists are JSON on its row (it is always read whole); its plates are also kept in
``transfer_manifest_vehicle`` (plate, number, issue time), written in the manifest's own
transaction, so a vehicle's manifests are an index lookup.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import TYPE_CHECKING

from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, col, select

from custody.errors import StorageError
from custody.manifests import TransferManifest
from custody.parties import WGS84Point
from storage._sql import commit_insert
from storage.tables import ManifestRow, ManifestVehicleRow

if TYPE_CHECKING:
    from collections.abc import Iterator
    from datetime import datetime

    from sqlalchemy.engine import Engine

__all__ = ["SqlManifestStore"]


class SqlManifestStore:
    """Manifests in one table. Each insert is its own committed transaction; none is updated."""

    def __init__(self, bind: Engine | Session) -> None:
        self._session = bind if isinstance(bind, Session) else Session(bind)

    def insert_manifest(self, manifest: TransferManifest) -> None:
        m = manifest
        row = ManifestRow(
            number=m.number,
            generator=m.generator,
            transporter=m.transporter,
            receiver=m.receiver,
            vehicles=list(m.vehicles),
            waste_codes=list(m.waste_codes),
            containers=list(m.containers),
            declared_mass_g=m.declared_mass_g,
            created_at=m.created_at,
            origin_lat=m.origin.lat if m.origin else None,
            origin_lon=m.origin.lon if m.origin else None,
            destination_lat=m.destination.lat if m.destination else None,
            destination_lon=m.destination.lon if m.destination else None,
            depart_after=m.depart_after,
            arrive_before=m.arrive_before,
        )
        # Added before the manifest, committed with it (the flush inserts the manifest first).
        self._session.add_all(
            ManifestVehicleRow(vehicle=plate, number=m.number, created_at=m.created_at)
            for plate in dict.fromkeys(m.vehicles)
        )
        commit_insert(self._session, row, m.number, f"manifest {m.number}")

    def get_manifest(self, number: str) -> TransferManifest | None:
        with _reading():
            row = self._session.get(ManifestRow, number)
        return None if row is None else _manifest(row)

    def list_manifests(
        self, *, since: datetime | None = None, until: datetime | None = None
    ) -> list[TransferManifest]:
        query = select(ManifestRow).order_by(col(ManifestRow.created_at), col(ManifestRow.number))
        if since is not None:
            query = query.where(col(ManifestRow.created_at) >= since)
        if until is not None:
            query = query.where(col(ManifestRow.created_at) < until)
        with _reading():
            rows = list(self._session.exec(query))
        return [_manifest(row) for row in rows]

    def manifests_for_vehicle(
        self, plate: str, *, since: datetime | None = None, until: datetime | None = None
    ) -> list[TransferManifest]:
        link = ManifestVehicleRow
        query = (
            select(ManifestRow)
            .join(link, col(link.number) == col(ManifestRow.number))
            .where(col(link.vehicle) == plate)
            .order_by(col(link.created_at), col(link.number))
        )
        if since is not None:
            query = query.where(col(link.created_at) >= since)
        if until is not None:
            query = query.where(col(link.created_at) < until)
        with _reading():
            rows = list(self._session.exec(query))
        return [_manifest(row) for row in rows]


@contextmanager
def _reading() -> Iterator[None]:
    try:
        yield
    except SQLAlchemyError as exc:
        raise StorageError(f"reading manifests failed: {exc.__class__.__name__}",
                           zh="读取转移联单失败") from exc  # fmt: skip


def _point(lat: float | None, lon: float | None) -> WGS84Point | None:
    return None if lat is None or lon is None else WGS84Point(lat, lon)


def _manifest(row: ManifestRow) -> TransferManifest:
    return TransferManifest(
        number=row.number,
        generator=row.generator,
        transporter=row.transporter,
        receiver=row.receiver,
        vehicles=tuple(row.vehicles),
        waste_codes=tuple(row.waste_codes),
        containers=tuple(row.containers),
        declared_mass_g=row.declared_mass_g,
        created_at=row.created_at,
        origin=_point(row.origin_lat, row.origin_lon),
        destination=_point(row.destination_lat, row.destination_lon),
        depart_after=row.depart_after,
        arrive_before=row.arrive_before,
    )

"""Enrolled devices and ingest anomalies in SQL, behind :class:`custody.ports.DeviceStore`."""

from __future__ import annotations

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, col, select

from custody.devices import Anomaly, AnomalyKind, Device, DeviceKind
from custody.errors import StorageError
from storage._sql import commit_insert
from storage.tables import DeviceRow, IngestAnomalyRow

__all__ = ["SqlDeviceStore"]

_ANOMALY = IngestAnomalyRow.__table__  # type: ignore[attr-defined]


class SqlDeviceStore:
    """Devices and anomalies in SQL tables; each write is its own transaction."""

    def __init__(self, bind: Engine | Session) -> None:
        self._session = bind if isinstance(bind, Session) else Session(bind)

    def insert_device(self, device: Device) -> None:
        row = DeviceRow(name=device.name, kind=device.kind.value, owner=device.owner,
                        description=device.description, enrolled_at=device.enrolled_at)  # fmt: skip
        commit_insert(self._session, row, device.name, f"device {device.name}")

    def get_device(self, name: str) -> Device | None:
        row = self._session.get(DeviceRow, name)
        return None if row is None else _device(row)

    def devices_of(self, owner: str) -> list[Device]:
        query = select(DeviceRow).where(DeviceRow.owner == owner).order_by(col(DeviceRow.name))
        return [_device(row) for row in self._session.exec(query)]

    def add_anomalies(self, anomalies: list[Anomaly]) -> int:
        if not anomalies:
            return 0
        rows = [
            {"kind": a.kind.value, "device": a.device, "event_id": a.event_id,
             "counter": a.counter, "detail": a.detail[:500], "evidence": a.evidence,
             "related_idx": a.related_index}
            for a in anomalies
        ]  # fmt: skip
        bind = self._session.get_bind()
        engine = bind if isinstance(bind, Engine) else bind.engine
        dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
        statement = dialect.insert(_ANOMALY).on_conflict_do_nothing()
        try:  # its own transaction: the session may hold a read snapshot from before an append
            with engine.begin() as conn:
                result = conn.execute(statement, rows)
        except SQLAlchemyError as exc:
            raise StorageError(
                f"could not record ingest anomalies: {exc.__class__.__name__}",
                zh="无法记录接收异常",
            ) from exc
        return max(result.rowcount, 0)

    def anomalies(self, device: str | None = None) -> list[Anomaly]:
        query = select(IngestAnomalyRow).order_by(col(IngestAnomalyRow.id))
        if device is not None:
            query = query.where(IngestAnomalyRow.device == device)
        return [
            Anomaly(
                AnomalyKind(r.kind),
                r.device,
                r.event_id,
                r.counter,
                r.detail,
                r.evidence,
                r.related_idx,
                r.detected_at,
            )
            for r in self._session.exec(query)
        ]


def _device(row: DeviceRow) -> Device:
    return Device(row.name, DeviceKind(row.kind), row.owner, row.description, row.enrolled_at)

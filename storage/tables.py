"""SQLModel tables: one metadata registry for every table we own.

Table rows are storage types only. The core's frozen dataclasses are converted explicitly in
the stores, and API schemas live in ``api/schemas``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

__all__ = ["CheckpointRow", "LicenceRow", "PartyRow", "PermitRow", "VehicleRow", "metadata"]

metadata = SQLModel.metadata


def _now() -> datetime:
    return datetime.now(UTC)


class PartyRow(SQLModel, table=True):
    """A company in the chain (产废、运输、利用处置单位)."""

    __tablename__ = "party"

    credit_code: str = Field(primary_key=True, max_length=18)
    name: str = Field(max_length=200)
    roles: list[str] = Field(sa_column=Column(JSON, nullable=False))
    address: str = Field(default="", max_length=200)
    contact: str = Field(default="", max_length=200)
    registered: bool = True
    recorded_at: datetime = Field(default_factory=_now)


class PermitRow(SQLModel, table=True):
    """A road transport operating permit for dangerous goods."""

    __tablename__ = "transport_permit"

    number: str = Field(primary_key=True, max_length=200)
    holder: str = Field(foreign_key="party.credit_code", index=True, max_length=18)
    valid_from: date
    valid_to: date
    recorded_at: datetime = Field(default_factory=_now)


class LicenceRow(SQLModel, table=True):
    """A hazardous waste operating licence of a disposer."""

    __tablename__ = "operating_licence"

    number: str = Field(primary_key=True, max_length=200)
    holder: str = Field(foreign_key="party.credit_code", index=True, max_length=18)
    scope: list[str] = Field(sa_column=Column(JSON, nullable=False))
    methods: list[str] = Field(sa_column=Column(JSON, nullable=False))
    capacity_t_per_year: float
    valid_from: date
    valid_to: date
    recorded_at: datetime = Field(default_factory=_now)


class VehicleRow(SQLModel, table=True):
    """A dangerous-goods vehicle, by its normalised plate."""

    __tablename__ = "vehicle"

    plate: str = Field(primary_key=True, max_length=16)
    operator: str = Field(foreign_key="party.credit_code", index=True, max_length=18)
    transport_certificate: str = Field(default="", max_length=200)
    capacity_kg: int | None = None
    recorded_at: datetime = Field(default_factory=_now)


class CheckpointRow(SQLModel, table=True):
    """A road checkpoint, scan station, weighbridge or toll gate."""

    __tablename__ = "checkpoint"

    checkpoint_id: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=200)
    kind: str = Field(max_length=32)
    lat: float
    lon: float
    source_crs: str = Field(max_length=16)
    source_lat: float
    source_lon: float
    road: str = Field(default="", max_length=200)
    recorded_at: datetime = Field(default_factory=_now)

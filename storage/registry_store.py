"""The registry store on SQL (SQLite or PostgreSQL), behind :class:`custody.ports.RegistryStore`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlmodel import Session, SQLModel, col, select

from custody.parties import (
    Checkpoint,
    GivenPoint,
    OperatingLicence,
    Party,
    PartyRole,
    TransportPermit,
    Vehicle,
    WGS84Point,
)
from storage._sql import commit_insert
from storage.tables import CheckpointRow, LicenceRow, PartyRow, PermitRow, VehicleRow

if TYPE_CHECKING:
    from collections.abc import Collection

    from sqlalchemy.engine import Engine

__all__ = ["SqlRegistryStore"]


class SqlRegistryStore:
    """Registry records in SQL tables. Each insert is its own committed transaction."""

    def __init__(self, bind: Engine | Session) -> None:
        self._session = bind if isinstance(bind, Session) else Session(bind)

    def _insert(self, row: SQLModel, key: str, identity: str) -> None:
        commit_insert(self._session, row, key, identity)

    # -- parties ---------------------------------------------------------------------------

    def get_party(self, credit_code: str) -> Party | None:
        row = self._session.get(PartyRow, credit_code)
        return None if row is None else _party(row)

    def insert_party(self, party: Party) -> None:
        self._insert(
            PartyRow(
                credit_code=party.credit_code,
                name=party.name,
                roles=sorted(party.roles),
                address=party.address,
                contact=party.contact,
                registered=party.registered,
            ),
            party.credit_code,
            f"party {party.credit_code}",
        )

    def parties_by_code(self, credit_codes: Collection[str]) -> dict[str, Party]:
        """The registered parties among these codes, in one query."""
        wanted = sorted(set(credit_codes))
        if not wanted:
            return {}
        rows = self._session.exec(select(PartyRow).where(col(PartyRow.credit_code).in_(wanted)))
        return {row.credit_code: _party(row) for row in rows}

    def list_parties(self, role: PartyRole | None = None) -> list[Party]:
        rows = self._session.exec(select(PartyRow).order_by(PartyRow.credit_code))
        parties = [_party(row) for row in rows]
        return [p for p in parties if role is None or role in p.roles]

    # -- permits and licences --------------------------------------------------------------

    def get_permit(self, number: str) -> TransportPermit | None:
        row = self._session.get(PermitRow, number)
        return None if row is None else _permit(row)

    def insert_permit(self, permit: TransportPermit) -> None:
        self._insert(
            PermitRow(
                number=permit.number,
                holder=permit.holder,
                valid_from=permit.valid_from,
                valid_to=permit.valid_to,
            ),
            permit.number,
            f"permit {permit.number}",
        )

    def permits_of(self, credit_code: str) -> list[TransportPermit]:
        query = (
            select(PermitRow)
            .where(PermitRow.holder == credit_code)
            .order_by(PermitRow.valid_from, PermitRow.number)  # type: ignore[arg-type]  # SQLModel column typing
        )
        return [_permit(row) for row in self._session.exec(query)]

    def get_licence(self, number: str) -> OperatingLicence | None:
        row = self._session.get(LicenceRow, number)
        return None if row is None else _licence(row)

    def insert_licence(self, licence: OperatingLicence) -> None:
        self._insert(
            LicenceRow(
                number=licence.number,
                holder=licence.holder,
                scope=sorted(licence.scope),
                methods=sorted(licence.methods),
                capacity_t_per_year=licence.capacity_t_per_year,
                valid_from=licence.valid_from,
                valid_to=licence.valid_to,
            ),
            licence.number,
            f"licence {licence.number}",
        )

    def licences_of(self, credit_code: str) -> list[OperatingLicence]:
        query = (
            select(LicenceRow)
            .where(LicenceRow.holder == credit_code)
            .order_by(LicenceRow.valid_from, LicenceRow.number)  # type: ignore[arg-type]  # SQLModel column typing
        )
        return [_licence(row) for row in self._session.exec(query)]

    # -- vehicles and checkpoints ----------------------------------------------------------

    def get_vehicle(self, plate: str) -> Vehicle | None:
        row = self._session.get(VehicleRow, plate)
        return None if row is None else _vehicle(row)

    def insert_vehicle(self, vehicle: Vehicle) -> None:
        self._insert(
            VehicleRow(
                plate=vehicle.plate,
                operator=vehicle.operator,
                transport_certificate=vehicle.transport_certificate,
                capacity_kg=vehicle.capacity_kg,
            ),
            vehicle.plate,
            f"vehicle {vehicle.plate}",
        )

    def vehicles_of(self, credit_code: str) -> list[Vehicle]:
        query = (
            select(VehicleRow).where(VehicleRow.operator == credit_code).order_by(VehicleRow.plate)
        )
        return [_vehicle(row) for row in self._session.exec(query)]

    def get_checkpoint(self, checkpoint_id: str) -> Checkpoint | None:
        row = self._session.get(CheckpointRow, checkpoint_id)
        return None if row is None else _checkpoint(row)

    def insert_checkpoint(self, checkpoint: Checkpoint) -> None:
        self._insert(
            CheckpointRow(
                checkpoint_id=checkpoint.checkpoint_id,
                name=checkpoint.name,
                kind=checkpoint.kind,
                lat=checkpoint.location.lat,
                lon=checkpoint.location.lon,
                source_crs=checkpoint.source.crs,
                source_lat=checkpoint.source.lat,
                source_lon=checkpoint.source.lon,
                road=checkpoint.road,
                division=checkpoint.division,
            ),
            checkpoint.checkpoint_id,
            f"checkpoint {checkpoint.checkpoint_id}",
        )

    def list_checkpoints(self) -> list[Checkpoint]:
        query = select(CheckpointRow).order_by(CheckpointRow.checkpoint_id)
        return [_checkpoint(row) for row in self._session.exec(query)]

    # -- bulk reads (the checker loads them all at once) -----------------------------------

    def list_permits(self) -> list[TransportPermit]:
        query = select(PermitRow).order_by(
            col(PermitRow.holder), col(PermitRow.valid_from), col(PermitRow.number)
        )
        return [_permit(row) for row in self._session.exec(query)]

    def list_licences(self) -> list[OperatingLicence]:
        query = select(LicenceRow).order_by(
            col(LicenceRow.holder), col(LicenceRow.valid_from), col(LicenceRow.number)
        )
        return [_licence(row) for row in self._session.exec(query)]

    def list_vehicles(self) -> list[Vehicle]:
        query = select(VehicleRow).order_by(col(VehicleRow.plate))
        return [_vehicle(row) for row in self._session.exec(query)]


def _party(row: PartyRow) -> Party:
    return Party(
        credit_code=row.credit_code,
        name=row.name,
        roles=frozenset(PartyRole(r) for r in row.roles),
        address=row.address,
        contact=row.contact,
        registered=row.registered,
    )


def _permit(row: PermitRow) -> TransportPermit:
    return TransportPermit(
        number=row.number, holder=row.holder, valid_from=row.valid_from, valid_to=row.valid_to
    )


def _licence(row: LicenceRow) -> OperatingLicence:
    return OperatingLicence(
        number=row.number,
        holder=row.holder,
        scope=frozenset(row.scope),
        methods=frozenset(row.methods),  # type: ignore[arg-type]  # parsed by __post_init__
        capacity_t_per_year=row.capacity_t_per_year,
        valid_from=row.valid_from,
        valid_to=row.valid_to,
    )


def _vehicle(row: VehicleRow) -> Vehicle:
    return Vehicle(
        plate=row.plate,
        operator=row.operator,
        transport_certificate=row.transport_certificate,
        capacity_kg=row.capacity_kg,
    )


def _checkpoint(row: CheckpointRow) -> Checkpoint:
    return Checkpoint(
        checkpoint_id=row.checkpoint_id,
        name=row.name,
        kind=row.kind,  # type: ignore[arg-type]  # parsed by __post_init__
        location=WGS84Point(row.lat, row.lon),
        road=row.road,
        given=GivenPoint(row.source_crs, row.source_lat, row.source_lon),
        division=row.division,
    )

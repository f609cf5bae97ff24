"""An in-memory RegistryStore with the same behaviour as the SQL one."""

from __future__ import annotations

from typing import TYPE_CHECKING

from custody.errors import AlreadyRegistered

if TYPE_CHECKING:
    from custody.parties import (
        Checkpoint,
        OperatingLicence,
        Party,
        PartyRole,
        TransportPermit,
        Vehicle,
    )


class InMemoryRegistryStore:
    def __init__(self) -> None:
        self.parties: dict[str, Party] = {}
        self.permits: dict[str, TransportPermit] = {}
        self.licences: dict[str, OperatingLicence] = {}
        self.vehicles: dict[str, Vehicle] = {}
        self.checkpoints: dict[str, Checkpoint] = {}

    @staticmethod
    def _put(table: dict[str, object], key: str, value: object) -> None:
        if key in table:
            raise AlreadyRegistered(f"{key} is already registered")
        table[key] = value

    def get_party(self, credit_code: str) -> Party | None:
        return self.parties.get(credit_code)

    def insert_party(self, party: Party) -> None:
        self._put(self.parties, party.credit_code, party)

    def list_parties(self, role: PartyRole | None = None) -> list[Party]:
        return [p for _, p in sorted(self.parties.items()) if role is None or role in p.roles]

    def get_permit(self, number: str) -> TransportPermit | None:
        return self.permits.get(number)

    def insert_permit(self, permit: TransportPermit) -> None:
        self._put(self.permits, permit.number, permit)

    def permits_of(self, credit_code: str) -> list[TransportPermit]:
        found = [p for p in self.permits.values() if p.holder == credit_code]
        return sorted(found, key=lambda p: (p.valid_from, p.number))

    def get_licence(self, number: str) -> OperatingLicence | None:
        return self.licences.get(number)

    def insert_licence(self, licence: OperatingLicence) -> None:
        self._put(self.licences, licence.number, licence)

    def licences_of(self, credit_code: str) -> list[OperatingLicence]:
        found = [lic for lic in self.licences.values() if lic.holder == credit_code]
        return sorted(found, key=lambda lic: (lic.valid_from, lic.number))

    def get_vehicle(self, plate: str) -> Vehicle | None:
        return self.vehicles.get(plate)

    def insert_vehicle(self, vehicle: Vehicle) -> None:
        self._put(self.vehicles, vehicle.plate, vehicle)

    def vehicles_of(self, credit_code: str) -> list[Vehicle]:
        return [v for _, v in sorted(self.vehicles.items()) if v.operator == credit_code]

    def get_checkpoint(self, checkpoint_id: str) -> Checkpoint | None:
        return self.checkpoints.get(checkpoint_id)

    def insert_checkpoint(self, checkpoint: Checkpoint) -> None:
        self._put(self.checkpoints, checkpoint.checkpoint_id, checkpoint)

    def list_checkpoints(self) -> list[Checkpoint]:
        return [c for _, c in sorted(self.checkpoints.items())]

    def list_permits(self) -> list[TransportPermit]:
        return sorted(self.permits.values(), key=lambda p: (p.holder, p.valid_from, p.number))

    def list_licences(self) -> list[OperatingLicence]:
        return sorted(
            self.licences.values(), key=lambda lic: (lic.holder, lic.valid_from, lic.number)
        )

    def list_vehicles(self) -> list[Vehicle]:
        return [v for _, v in sorted(self.vehicles.items())]

"""Registering parties, permits, licences, vehicles and checkpoints.

Records are append-only: registering the same record again is harmless and says it created
nothing, but a record with the same identity and different content is refused, because nothing
already accepted may be silently changed. References (a vehicle's operator, a permit's holder)
must name a party we know.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

from custody.credit_code import parse_credit_code
from custody.errors import AlreadyRegistered, PartyNotFound
from custody.plates import parse_plate

if TYPE_CHECKING:
    from collections.abc import Callable

    from custody.parties import (
        Checkpoint,
        OperatingLicence,
        Party,
        PartyRole,
        TransportPermit,
        Vehicle,
    )
    from custody.ports import RegistryStore

__all__ = ["Registry"]

R = TypeVar("R")


class Registry:
    """The rules of the registry over any :class:`~custody.ports.RegistryStore`."""

    def __init__(self, store: RegistryStore) -> None:
        self._store = store

    # -- parties ---------------------------------------------------------------------------

    def register_party(self, party: Party) -> tuple[Party, bool]:
        """Record a party; the same record again returns the one on file."""
        return _once(
            party,
            lambda: self._store.get_party(party.credit_code),
            self._store.insert_party,
            f"party {party.credit_code}",
            f"单位 {party.credit_code}",
        )

    def party(self, credit_code: str) -> Party:
        """The party with this credit code, or ``PartyNotFound``."""
        code = parse_credit_code(credit_code).text
        found = self._store.get_party(code)
        if found is None:
            raise PartyNotFound(
                f"no party with credit code {code} is registered",
                zh=f"未登记统一社会信用代码为 {code} 的单位",
                credit_code=code,
            )
        return found

    def parties(self, role: PartyRole | None = None) -> list[Party]:
        """Every party, or those holding ``role``."""
        return self._store.list_parties(role)

    # -- permits and licences --------------------------------------------------------------

    def register_permit(self, permit: TransportPermit) -> tuple[TransportPermit, bool]:
        """Record a dangerous-goods road transport permit of a known party."""
        self.party(permit.holder)
        return _once(
            permit,
            lambda: self._store.get_permit(permit.number),
            self._store.insert_permit,
            f"permit {permit.number}",
            f"运输许可证 {permit.number}",
        )

    def permits(self, credit_code: str) -> list[TransportPermit]:
        """The transport permits a party holds."""
        return self._store.permits_of(self.party(credit_code).credit_code)

    def register_licence(self, licence: OperatingLicence) -> tuple[OperatingLicence, bool]:
        """Record a hazardous waste operating licence of a known party."""
        self.party(licence.holder)
        return _once(
            licence,
            lambda: self._store.get_licence(licence.number),
            self._store.insert_licence,
            f"licence {licence.number}",
            f"经营许可证 {licence.number}",
        )

    def licences(self, credit_code: str) -> list[OperatingLicence]:
        """The operating licences a party holds."""
        return self._store.licences_of(self.party(credit_code).credit_code)

    # -- vehicles and checkpoints ----------------------------------------------------------

    def register_vehicle(self, vehicle: Vehicle) -> tuple[Vehicle, bool]:
        """Record a vehicle operated by a known party."""
        self.party(vehicle.operator)
        return _once(
            vehicle,
            lambda: self._store.get_vehicle(vehicle.plate),
            self._store.insert_vehicle,
            f"vehicle {vehicle.plate}",
            f"车辆 {vehicle.plate}",
        )

    def vehicle(self, plate: str) -> Vehicle:
        """The vehicle with this plate (any accepted spelling), or ``PartyNotFound``."""
        normal = parse_plate(plate).text
        found = self._store.get_vehicle(normal)
        if found is None:
            raise PartyNotFound(
                f"no vehicle with plate {normal} is registered",
                zh=f"未登记车牌号为 {normal} 的车辆",
                plate=normal,
            )
        return found

    def vehicles(self, credit_code: str) -> list[Vehicle]:
        """The vehicles a party operates."""
        return self._store.vehicles_of(self.party(credit_code).credit_code)

    def register_checkpoint(self, checkpoint: Checkpoint) -> tuple[Checkpoint, bool]:
        """Record a checkpoint."""
        return _once(
            checkpoint,
            lambda: self._store.get_checkpoint(checkpoint.checkpoint_id),
            self._store.insert_checkpoint,
            f"checkpoint {checkpoint.checkpoint_id}",
            f"检查点 {checkpoint.checkpoint_id}",
        )

    def checkpoint(self, checkpoint_id: str) -> Checkpoint:
        """The checkpoint with this id, or ``PartyNotFound``."""
        found = self._store.get_checkpoint(checkpoint_id.strip())
        if found is None:
            raise PartyNotFound(
                f"no checkpoint with id {checkpoint_id!r} is registered",
                zh=f"未登记编号为“{checkpoint_id}”的检查点",
                checkpoint_id=checkpoint_id,
            )
        return found

    def checkpoints(self) -> list[Checkpoint]:
        """Every checkpoint."""
        return self._store.list_checkpoints()


def _once(
    record: R,
    get: Callable[[], R | None],
    insert: Callable[[R], None],
    what: str,
    what_zh: str,
) -> tuple[R, bool]:
    """Insert ``record`` unless it is on file; refuse a different record under its identity.

    Returns the record and whether this call created it.
    """
    existing = get()
    if existing is None:
        try:
            insert(record)
        except AlreadyRegistered:
            existing = get()  # a concurrent writer won the race: compare with what it wrote
        else:
            return record, True
    if existing == record:
        return record, False
    raise AlreadyRegistered(
        f"{what} is already registered with different details; records are never overwritten",
        zh=f"{what_zh} 已登记且内容不同；已登记的记录不会被覆盖",
        identity=what,
    )

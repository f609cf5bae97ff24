"""The ports the core talks through.

Adapters in ``storage/`` implement them; the in-memory
fakes in ``tests/fakes`` implement them too, and one contract test holds both to the same script.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from custody.parties import (
        Checkpoint,
        OperatingLicence,
        Party,
        PartyRole,
        TransportPermit,
        Vehicle,
    )

__all__ = ["RegistryStore"]


class RegistryStore(Protocol):
    """Plain storage of registry records. Rules live in :class:`custody.registry.Registry`.

    ``insert_*`` raises :class:`custody.errors.AlreadyRegistered` when the identity exists
    (a concurrent writer may have won the race) and :class:`custody.errors.StorageError` when
    the store fails. ``get_*`` returns ``None`` for an unknown identity.
    """

    def get_party(self, credit_code: str) -> Party | None:
        """The party with this credit code, if any."""
        ...

    def insert_party(self, party: Party) -> None:
        """Store a new party."""
        ...

    def list_parties(self, role: PartyRole | None = None) -> list[Party]:
        """Every party, or those holding ``role``, ordered by credit code."""
        ...

    def get_permit(self, number: str) -> TransportPermit | None:
        """The transport permit with this number, if any."""
        ...

    def insert_permit(self, permit: TransportPermit) -> None:
        """Store a new transport permit."""
        ...

    def permits_of(self, credit_code: str) -> list[TransportPermit]:
        """The permits a party holds, oldest validity first."""
        ...

    def get_licence(self, number: str) -> OperatingLicence | None:
        """The operating licence with this number, if any."""
        ...

    def insert_licence(self, licence: OperatingLicence) -> None:
        """Store a new operating licence."""
        ...

    def licences_of(self, credit_code: str) -> list[OperatingLicence]:
        """The licences a party holds, oldest validity first."""
        ...

    def get_vehicle(self, plate: str) -> Vehicle | None:
        """The vehicle with this normalised plate, if any."""
        ...

    def insert_vehicle(self, vehicle: Vehicle) -> None:
        """Store a new vehicle."""
        ...

    def vehicles_of(self, credit_code: str) -> list[Vehicle]:
        """The vehicles a transporter operates, ordered by plate."""
        ...

    def get_checkpoint(self, checkpoint_id: str) -> Checkpoint | None:
        """The checkpoint with this id, if any."""
        ...

    def insert_checkpoint(self, checkpoint: Checkpoint) -> None:
        """Store a new checkpoint."""
        ...

    def list_checkpoints(self) -> list[Checkpoint]:
        """Every checkpoint, ordered by id."""
        ...

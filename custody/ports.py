"""The ports the core talks through.

Adapters in ``storage/`` implement them; the in-memory
fakes in ``tests/fakes`` implement them too, and one contract test holds both to the same script.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple, Protocol

# Defined beside their records; listed here with the others.
from custody.alerts import AlertStore
from custody.manifests import ManifestStore
from custody.tracks import TrackStore

if TYPE_CHECKING:
    from collections.abc import Collection, Iterator
    from contextlib import AbstractContextManager
    from datetime import date, datetime

    from custody.containers import Container
    from custody.devices import Anomaly, Device
    from custody.keys import PublicKeyRecord
    from custody.parties import (
        Checkpoint,
        OperatingLicence,
        Party,
        PartyRole,
        TransportPermit,
        Vehicle,
    )

__all__ = [
    "AlertStore",
    "AppendBatch",
    "ChainFlag",
    "ContainerStore",
    "DeviceStore",
    "IssuedLabel",
    "KeyStore",
    "LedgerState",
    "LedgerStore",
    "LedgerWriter",
    "ManifestStore",
    "NewEntry",
    "RegistryStore",
    "StoredEntry",
    "TrackStore",
]


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

    def list_permits(self) -> list[TransportPermit]:
        """Every transport permit, ordered by holder, validity, number (for bulk reads)."""
        ...

    def list_licences(self) -> list[OperatingLicence]:
        """Every operating licence, ordered by holder, validity, number (for bulk reads)."""
        ...

    def list_vehicles(self) -> list[Vehicle]:
        """Every vehicle, ordered by plate (for bulk reads)."""
        ...


class ContainerStore(Protocol):
    """Plain storage of containers and the labels minted for them."""

    def last_sequence(self, generator: str, waste_code: str, day: date) -> int:
        """The highest sequence number used for this generator, waste code and day (0: none)."""
        ...

    def insert_container(self, container: Container) -> None:
        """Store a new container; ``AlreadyRegistered`` if its code is taken."""
        ...

    def get_container(self, digital_id: str) -> Container | None:
        """The container with this digital identification code, if any."""
        ...

    def known(self, digital_ids: list[str]) -> set[str]:
        """Which of these codes are registered containers."""
        ...

    def get_containers(self, digital_ids: Collection[str]) -> dict[str, Container]:
        """The registered containers among these codes, by code (any number of codes)."""
        ...

    def insert_label(self, label: IssuedLabel) -> None:
        """Record a label minted for a container."""
        ...

    def labels_of(self, digital_id: str) -> list[IssuedLabel]:
        """Every label minted for a container, oldest first."""
        ...


class DeviceStore(Protocol):
    """Enrolled devices and the anomalies ingest recorded about them."""

    def insert_device(self, device: Device) -> None:
        """Store a newly enrolled device; ``AlreadyRegistered`` if the name is taken."""
        ...

    def get_device(self, name: str) -> Device | None:
        """The device with this name, if enrolled."""
        ...

    def devices_of(self, owner: str) -> list[Device]:
        """Every device of a party, by name."""
        ...

    def add_anomalies(self, anomalies: list[Anomaly]) -> int:
        """Record anomalies; one already recorded (same kind and event id) is not repeated.

        Returns how many were new.
        """
        ...

    def anomalies(self, device: str | None = None) -> list[Anomaly]:
        """Recorded anomalies, oldest first, of one device or of all."""
        ...


class IssuedLabel(NamedTuple):
    """A label as minted: the QR text and who signed it when."""

    digital_id: str
    key_name: str
    issued_at: datetime
    text: str


class KeyStore(Protocol):
    """Signing keys (private halves encrypted) and the trust bundles made from them."""

    def insert_key(self, record: PublicKeyRecord, encrypted_private: bytes | None) -> None:
        """Store a new key; ``AlreadyRegistered`` if the name is taken."""
        ...

    def get_key(self, name: str) -> tuple[PublicKeyRecord, bytes | None] | None:
        """A key's public record and encrypted private half (``None`` if held elsewhere)."""
        ...

    def list_keys(self) -> list[PublicKeyRecord]:
        """Every key, ordered by name."""
        ...

    def mark_revoked(self, record: PublicKeyRecord) -> None:
        """Record that a key was revoked (its ``revoked_at`` and reason are set)."""
        ...

    def insert_bundle(self, version: int, issued_at: datetime, signed: bytes) -> None:
        """Store a signed trust bundle; ``AlreadyRegistered`` if the version exists."""
        ...

    def latest_bundle(self) -> tuple[int, bytes] | None:
        """The newest bundle's version and signed bytes, if any."""
        ...

    def latest_bundle_version(self) -> int | None:
        """The newest bundle's version, without its bytes (asked on every ingest)."""
        ...


class LedgerState(NamedTuple):
    """The log as its last append left it."""

    size: int
    peaks: list[bytes]  # compact range: perfect subtree roots, largest first
    checkpoint: bytes | None  # the latest signed checkpoint note


@dataclass(frozen=True, slots=True)
class NewEntry:
    """A ledger entry about to be written."""

    index: int
    event_id: str
    event_hash: bytes
    entry: bytes  # the leaf data, hashed and stored exactly as is
    leaf_hash: bytes
    containers: tuple[str, ...]
    received_at: datetime
    device: str
    counter: int
    parent: str | None = None  # a consolidation's new container: its history starts here


@dataclass(frozen=True, slots=True)
class StoredEntry:
    """A ledger entry as stored."""

    index: int
    event_id: str
    event_hash: bytes
    entry: bytes
    leaf_hash: bytes


@dataclass(frozen=True, slots=True)
class ChainFlag:
    """A container chain anomaly: the ledger keeps what happened and says what is odd."""

    kind: str  # "fork", "unlinked" (claims no predecessor) or "unknown-predecessor"
    container: str
    index: int
    claimed: bytes  # the predecessor the event claimed
    head: bytes  # what the ledger held as the container's latest event


class AppendBatch(NamedTuple):
    """Everything one append writes, together."""

    entries: list[NewEntry]
    nodes: list[tuple[int, int, bytes]]  # new perfect subtrees (lo, hi, hash)
    heads: dict[str, bytes]  # containers whose latest event changed
    flags: list[ChainFlag]
    state: LedgerState  # size, compact range and the newly signed checkpoint
    root: bytes


class LedgerWriter(Protocol):
    """The exclusive append transaction: one writer at a time, all or nothing."""

    def state(self) -> LedgerState:
        """Size, compact range and latest checkpoint, read under the lock."""
        ...

    def existing(self, event_ids: list[str]) -> dict[str, StoredEntry]:
        """Entries already holding any of these event ids."""
        ...

    def heads(self, containers: list[str]) -> dict[str, bytes]:
        """The event hash of each container's latest entry (absent: none yet)."""
        ...

    def known(self, container: str, event_hashes: list[bytes]) -> set[bytes]:
        """Which of these event hashes are entries of ``container``."""
        ...

    def write(self, batch: AppendBatch) -> None:
        """Write everything one append made, to commit with the transaction."""
        ...


class LedgerStore(Protocol):
    """Storage of the custody ledger. Reads see committed data only."""

    def writer(self) -> AbstractContextManager[LedgerWriter]:
        """Begin the exclusive append transaction; commit on clean exit."""
        ...

    def state(self) -> LedgerState:
        """The committed state."""
        ...

    def subtree(self, lo: int, hi: int) -> bytes:
        """The stored hash of the perfect subtree over leaves ``lo..hi-1``."""
        ...

    def entry(self, index: int) -> StoredEntry | None:
        """The entry at ``index``."""
        ...

    def entries(self, start: int, stop: int) -> list[StoredEntry]:
        """Entries ``start..stop-1`` in order."""
        ...

    def leaf_data(self, stop: int, chunk: int) -> Iterator[list[tuple[int, bytes, bytes]]]:
        """``(index, entry bytes, stored leaf hash)`` of entries ``0..stop-1``, in order.

        Lists of the entries of ``chunk`` consecutive indexes each (fewer where rows are
        missing). What the audit reads of every row and nothing else, over one connection:
        a third of the cost of reading :meth:`entries` a range at a time.
        """
        ...

    def by_event_ids(self, event_ids: list[str]) -> dict[str, StoredEntry]:
        """The entries holding these event ids (those present)."""
        ...

    def device_counters(self, devices: list[str]) -> dict[str, int]:
        """Each device's highest counter in the log (devices with no entry are left out)."""
        ...

    def by_device_counter(self, device: str, counters: list[int]) -> dict[int, StoredEntry]:
        """The entries a device made with these counters (those present)."""
        ...

    def container_entries(self, container: str) -> list[StoredEntry]:
        """Every entry naming ``container``, in log order (a consolidation making it too)."""
        ...

    def checkpoints(self) -> list[tuple[int, bytes, bytes]]:
        """Every signed checkpoint as ``(size, root, note)``, by size."""
        ...

    def flags(self) -> list[ChainFlag]:
        """Every chain anomaly recorded, in log order."""
        ...

    def add_cosignatures(self, size: int, lines: bytes) -> bytes:
        """Append witness signature lines to the checkpoint of ``size``; return the new note."""
        ...

"""SQLModel tables: one metadata registry for every table we own.

Table rows are storage types only. The core's frozen dataclasses are converted explicitly in
the stores, and API schemas live in ``api/schemas``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Index,
    LargeBinary,
    SmallInteger,
    Text,
    UniqueConstraint,
)
from sqlmodel import Field, SQLModel

__all__ = [
    "AccessTokenRow",
    "AccountRow",
    "AlertChangeRow",
    "AlertContainerRow",
    "AlertPartyRow",
    "AlertPlaceRow",
    "AlertRow",
    "CheckpointRow",
    "ContainerRow",
    "DeviceRow",
    "GpsFixRow",
    "IngestAnomalyRow",
    "LabelRow",
    "LedgerCheckpointRow",
    "LedgerContainerRow",
    "LedgerEntryRow",
    "LedgerFlagRow",
    "LedgerNodeRow",
    "LedgerParentRow",
    "LedgerStateRow",
    "LicenceRow",
    "ManifestRow",
    "ManifestVehicleRow",
    "PartyRow",
    "PermitRow",
    "PlateReadRow",
    "ReadLogRow",
    "SigningKeyRow",
    "TerminalRow",
    "TrustBundleRow",
    "VehicleRow",
    "metadata",
]

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
    division: str = Field(default="", max_length=6)  # GB/T 2260; "" when not given
    recorded_at: datetime = Field(default_factory=_now)


class SigningKeyRow(SQLModel, table=True):
    """A signing key: public record, and the private half encrypted (or held elsewhere)."""

    __tablename__ = "signing_key"

    name: str = Field(primary_key=True, max_length=100)
    kid: str = Field(index=True, max_length=8)
    owner: str = Field(index=True, max_length=64)
    role: str = Field(max_length=32)
    public_key: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    encrypted_private: bytes | None = Field(default=None, sa_column=Column(LargeBinary))
    valid_from: datetime
    valid_until: datetime
    revoked_at: datetime | None = None
    revocation_reason: str = Field(default="", max_length=200)
    recorded_at: datetime = Field(default_factory=_now)


class TrustBundleRow(SQLModel, table=True):
    """A signed trust bundle, by version."""

    __tablename__ = "trust_bundle"

    version: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    issued_at: datetime
    signed: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class ContainerRow(SQLModel, table=True):
    """A registered container and its sealed facts."""

    __tablename__ = "container"

    digital_id: str = Field(primary_key=True, max_length=37)
    generator: str = Field(foreign_key="party.credit_code", max_length=18)
    waste_code: str = Field(max_length=10)
    day: date
    sequence: int
    edition: str = Field(max_length=8)
    form: str = Field(max_length=4)
    container_type: str = Field(max_length=8)
    capacity_l: float
    declared_net_mass_g: int = Field(sa_column=Column(BigInteger, nullable=False))
    seal_no: str = Field(default="", max_length=32)
    waste_name: str = Field(default="", max_length=200)
    main_components: str = Field(default="", max_length=200)
    harmful_components: str = Field(default="", max_length=200)
    precautions: str = Field(default="", max_length=200)
    contact: str = Field(default="", max_length=200)
    remarks: str = Field(default="", max_length=200)
    recorded_at: datetime = Field(default_factory=_now)

    __table_args__ = (
        Index("ix_container_sequence", "generator", "waste_code", "day", "sequence"),
        # A generator's containers, newest first, a page at a time (the generator's pages).
        Index("ix_container_generator_day", "generator", "day", "digital_id"),
    )


class LabelRow(SQLModel, table=True):
    """A label minted for a container (a container may be relabelled; all are kept)."""

    __tablename__ = "label"

    id: int | None = Field(default=None, primary_key=True)
    digital_id: str = Field(foreign_key="container.digital_id", index=True, max_length=37)
    key_name: str = Field(foreign_key="signing_key.name", max_length=100)
    issued_at: datetime
    text: str = Field(max_length=1000)
    recorded_at: datetime = Field(default_factory=_now)


# -- the custody ledger -------------------------------------------------------------------------


class LedgerEntryRow(SQLModel, table=True):
    """One log entry: the exact leaf data and its hashes. Never updated, never deleted."""

    __tablename__ = "ledger_entry"

    idx: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    event_id: str = Field(max_length=36, unique=True)
    event_hash: bytes = Field(sa_column=Column(LargeBinary, nullable=False, index=True))
    leaf_hash: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    entry: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    received_at: datetime
    device: str = Field(max_length=100)
    counter: int = Field(sa_column=Column(BigInteger, nullable=False))

    # A device never uses a counter twice: the database says so even if two appends race.
    __table_args__ = (Index("ux_ledger_entry_device_counter", "device", "counter", unique=True),)


class LedgerContainerRow(SQLModel, table=True):
    """Which entries name which container (a container's history, in log order)."""

    __tablename__ = "ledger_container"

    container: str = Field(primary_key=True, max_length=37)
    idx: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    event_hash: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class LedgerParentRow(SQLModel, table=True):
    """Which entries made a consolidation's new container (its history starts there)."""

    __tablename__ = "ledger_parent"

    container: str = Field(primary_key=True, max_length=37)
    idx: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))


class LedgerNodeRow(SQLModel, table=True):
    """A perfect subtree's hash, by level and position (leaves are level 0)."""

    __tablename__ = "ledger_node"

    level: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    position: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    hash: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class LedgerStateRow(SQLModel, table=True):
    """The one row every append locks: size, compact range and latest signed checkpoint."""

    __tablename__ = "ledger_state"

    id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    size: int = Field(sa_column=Column(BigInteger, nullable=False))
    peaks: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    checkpoint: bytes | None = Field(default=None, sa_column=Column(LargeBinary))


class LedgerCheckpointRow(SQLModel, table=True):
    """Every checkpoint the log signed."""

    __tablename__ = "ledger_checkpoint"

    size: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    root: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    note: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    signed_at: datetime = Field(default_factory=_now)


class LedgerFlagRow(SQLModel, table=True):
    """A container chain anomaly recorded at append time (fork, unknown predecessor)."""

    __tablename__ = "ledger_flag"

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=32)
    container: str = Field(max_length=37, index=True)
    idx: int = Field(sa_column=Column(BigInteger, nullable=False))
    claimed: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    head: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


# -- scanning: devices, plate reads, vehicle terminals ---------------------------------------------


class DeviceRow(SQLModel, table=True):
    """A scanner enrolled with its own key; its name is its key's name and what its events say."""

    __tablename__ = "device"

    name: str = Field(primary_key=True, max_length=100)
    kind: str = Field(max_length=20)
    owner: str = Field(max_length=18, index=True)
    description: str = Field(default="", max_length=200)
    enrolled_at: datetime = Field(default_factory=_now)


class IngestAnomalyRow(SQLModel, table=True):
    """Something wrong seen at ingest (a cloned device, a stale counter), with the signed bytes."""

    __tablename__ = "ingest_anomaly"
    __table_args__ = (UniqueConstraint("kind", "event_id", name="ux_ingest_anomaly"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=32)
    device: str = Field(max_length=100, index=True)
    event_id: str = Field(max_length=36)
    counter: int | None = Field(default=None, sa_column=Column(BigInteger))
    detail: str = Field(max_length=500)
    evidence: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    related_idx: int | None = Field(default=None, sa_column=Column(BigInteger))
    detected_at: datetime = Field(default_factory=_now)


class PlateReadRow(SQLModel, table=True):
    """A camera's plate read at a road checkpoint (ANPR)."""

    __tablename__ = "plate_read"
    __table_args__ = (UniqueConstraint("checkpoint", "plate", "seen_at", name="ux_plate_read"),)

    id: int | None = Field(default=None, primary_key=True)
    checkpoint: str = Field(max_length=64, index=True)
    plate: str = Field(max_length=16, index=True)
    seen_at: datetime = Field(index=True)
    confidence: float
    source: str = Field(max_length=16)
    received_at: datetime = Field(default_factory=_now)


class TerminalRow(SQLModel, table=True):
    """A JT/T 808 vehicle terminal, known by its phone number once it has registered."""

    __tablename__ = "terminal"

    phone: str = Field(primary_key=True, max_length=20)
    plate: str | None = Field(default=None, max_length=16, index=True)
    plate_colour: int = 0
    manufacturer: str = Field(default="", max_length=11)
    model: str = Field(default="", max_length=30)
    terminal_id: str = Field(default="", max_length=30)
    auth_code: str = Field(max_length=64)
    registered_at: datetime = Field(default_factory=_now)


class GpsFixRow(SQLModel, table=True):
    """One position a vehicle terminal reported, as it reported it (no correction).

    Indexed by plate and time: a trip's track is a range of one plate's fixes.
    """

    __tablename__ = "gps_fix"
    # Covering: a trip's track is read from the index alone, never the table's pages.
    __table_args__ = (
        Index("ix_gps_fix_plate_fix_time", "plate", "fix_time", "terminal", "lon", "lat", "crs",
              "speed_kmh"),
    )  # fmt: skip

    terminal: str = Field(primary_key=True, max_length=20)
    fix_time: datetime = Field(primary_key=True)
    plate: str | None = Field(default=None, max_length=16)
    lat: float
    lon: float
    crs: str = Field(max_length=8)
    altitude_m: int = 0
    speed_kmh: float = 0.0
    heading: int = 0
    alarm: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    status: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    received_at: datetime = Field(default_factory=_now)


# -- the checker: transfer manifests and alerts ------------------------------------------------


class ManifestRow(SQLModel, table=True):
    """An electronic transfer manifest (电子转移联单); never updated.

    Its lists are JSON: a manifest is always read whole, and nothing queries inside them yet.
    """

    __tablename__ = "transfer_manifest"

    number: str = Field(primary_key=True, max_length=20)
    generator: str = Field(max_length=18, index=True)
    transporter: str = Field(max_length=18)
    receiver: str = Field(max_length=18)
    vehicles: list[str] = Field(sa_column=Column(JSON, nullable=False))
    waste_codes: list[str] = Field(sa_column=Column(JSON, nullable=False))
    containers: list[str] = Field(sa_column=Column(JSON, nullable=False))
    declared_mass_g: int = Field(sa_column=Column(BigInteger, nullable=False))
    created_at: datetime = Field(index=True)
    origin_lat: float | None = None
    origin_lon: float | None = None
    destination_lat: float | None = None
    destination_lon: float | None = None
    depart_after: datetime | None = None
    arrive_before: datetime | None = None
    recorded_at: datetime = Field(default_factory=_now)


class AlertRow(SQLModel, table=True):
    """An alert the checker raised. Only ``state`` is ever updated, with an ``alert_change``.

    ``severity_rank`` (``Severity.rank``: 0 info .. 3 high) sits beside the name so the listing
    order and ``min_severity`` are plain comparisons the database can use an index for.
    """

    __tablename__ = "alert"
    __table_args__ = (Index("ix_alert_state_severity", "state", "severity_rank"),)

    alert_id: str = Field(primary_key=True, max_length=19)
    rule: str = Field(max_length=64, index=True)
    subject: str = Field(max_length=500)
    severity: str = Field(max_length=8)
    severity_rank: int = Field(sa_column=Column(SmallInteger, nullable=False))
    state: str = Field(max_length=16)
    summary_zh: str = Field(sa_column=Column(Text, nullable=False))
    summary: str = Field(sa_column=Column(Text, nullable=False))
    start: datetime
    end: datetime = Field(index=True)
    vehicle: str | None = Field(default=None, max_length=16, index=True)
    containers: str = Field(sa_column=Column(Text, nullable=False))  # JSON list, in order
    parties: str = Field(sa_column=Column(Text, nullable=False))  # JSON list, in order
    entries: str = Field(sa_column=Column(Text, nullable=False))  # JSON list of ledger indices
    facts: str = Field(sa_column=Column(Text, nullable=False))  # JSON object
    raised_at: datetime


class AlertChangeRow(SQLModel, table=True):
    """One change of an alert's state: who, when, why. Never updated, never deleted."""

    __tablename__ = "alert_change"

    id: int | None = Field(default=None, primary_key=True)
    alert_id: str = Field(foreign_key="alert.alert_id", index=True, max_length=19)
    at: datetime
    by: str = Field(max_length=1000)
    state: str = Field(max_length=16)
    reason: str = Field(default="", max_length=1000)


class AlertContainerRow(SQLModel, table=True):
    """Which alerts name which container; the key leads with the container, to filter by it."""

    __tablename__ = "alert_container"

    container: str = Field(primary_key=True, max_length=37)
    alert_id: str = Field(primary_key=True, max_length=19, foreign_key="alert.alert_id")


class AlertPartyRow(SQLModel, table=True):
    """Which alerts name which party; the key leads with the party, to filter by it."""

    __tablename__ = "alert_party"

    party: str = Field(primary_key=True, max_length=18)
    alert_id: str = Field(primary_key=True, max_length=19, foreign_key="alert.alert_id")


class AlertPlaceRow(SQLModel, table=True):
    """A place an alert's evidence lies (WGS-84), to find alerts by area; filled when raised.

    One row per distinct point: the locations of the alert's ledger events, and the points of
    a route alert's map (a stop, a checkpoint, a sighting). Indexed by latitude, then
    longitude: a box is a range on the first and a filter on the second.
    """

    __tablename__ = "alert_place"
    __table_args__ = (Index("ix_alert_place_lat_lon", "lat", "lon"),)

    alert_id: str = Field(primary_key=True, max_length=19, foreign_key="alert.alert_id")
    lat: float = Field(primary_key=True)
    lon: float = Field(primary_key=True)


class ManifestVehicleRow(SQLModel, table=True):
    """Which manifests list which vehicle, with the manifest's issue time, to find a plate's trips.

    The key leads with the plate; the index on (plate, issue time) serves a window in order.
    """

    __tablename__ = "transfer_manifest_vehicle"
    __table_args__ = (Index("ix_transfer_manifest_vehicle_created_at", "vehicle", "created_at"),)

    vehicle: str = Field(primary_key=True, max_length=16)
    number: str = Field(primary_key=True, max_length=20, foreign_key="transfer_manifest.number")
    created_at: datetime


class AccountRow(SQLModel, table=True):
    """A person or a device allowed in: its role and reach. Disabled, never deleted."""

    __tablename__ = "account"

    name: str = Field(primary_key=True, max_length=64)
    role: str = Field(max_length=16)
    party: str | None = Field(default=None, max_length=18, index=True)
    districts: str = Field(default="", max_length=1000)  # comma-separated GB/T 2260 prefixes
    device: bool = False
    password_hash: str | None = Field(default=None, max_length=200)
    display_name: str = Field(default="", max_length=200)
    created_at: datetime
    disabled_at: datetime | None = None


class AccessTokenRow(SQLModel, table=True):
    """A bearer token or a login session. Only the secret's SHA-256 is kept."""

    __tablename__ = "access_token"

    token_id: str = Field(primary_key=True, max_length=12)
    account: str = Field(foreign_key="account.name", index=True, max_length=64)
    digest: str = Field(max_length=64)
    session: bool = False  # a browser login, not a token handed to a program
    label: str = Field(default="", max_length=200)
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None = None


class ReadLogRow(SQLModel, table=True):
    """One read by an officer: who looked at what, when, and what they got. Append only."""

    __tablename__ = "read_log"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(index=True)
    account: str = Field(max_length=64, index=True)
    role: str = Field(max_length=16)
    method: str = Field(max_length=8)
    target: str = Field(sa_column=Column(Text, nullable=False))  # path and query
    status: int

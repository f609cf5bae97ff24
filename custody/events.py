"""Custody events: what happened to which containers, who says so, and when they claim it did.

Modelled on GS1 EPCIS 2.0 and its Core Business Vocabulary (business step, disposition, read
point), with what custody evidence needs on top: the acting party and its device, the device's
monotonic counter, a client-made event id (so a retry is recognised), and for every container
the event hash (SHA-256 of the signed bytes) of its previous event, so each container's
history can be walked back and a fork is visible. The design note suggested the previous
*leaf* hash; but a leaf holds the server's receive time, which an offline scanner cannot know,
so it could not chain two scans made in the mountains. The event hash it can.

The device signs the event's deterministic CBOR as a COSE_Sign1. Those exact bytes are stored
and hashed; nothing is ever re-serialised before hashing.
"""

from __future__ import annotations

import enum
import hashlib
import math
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import cbor2

from custody import _cose
from custody._millis import from_millis, to_millis
from custody.credit_code import parse_credit_code
from custody.digital_id import parse_digital_id
from custody.errors import CustodyError, EventMalformed, KeyOwnerMismatch
from custody.keys import KeyRole
from custody.plates import parse_plate

if TYPE_CHECKING:
    from custody.keys import PublicKeyRecord, SigningKey
    from custody.trust import TrustBundle

__all__ = [
    "NO_PREVIOUS",
    "CustodyEvent",
    "Mass",
    "MassSource",
    "SignedEvent",
    "Step",
    "event_hash",
    "read_event",
    "sign_event",
    "verified_links",
    "verify_event",
]

SCHEMA_VERSION = 1
NO_PREVIOUS = bytes(32)
MAX_CONTAINERS = 1000
MAX_EVENT_BYTES = 65_535  # entries are length-prefixed with 16 bits in tile bundles
_TEXT = re.compile(r"[^\x00-\x1f\x7f]{0,200}")


class Step(enum.StrEnum):
    """The business step of an event (names after GS1 CBV 2.0 where it has one)."""

    COMMISSIONING = "commissioning"  # filled and labelled at the generator
    PACKING = "packing"  # sealed
    LOADING = "loading"  # put on a vehicle: generator hands over to transporter
    DEPARTING = "departing"
    PASSING = "passing"  # seen at a road checkpoint (CBV: transporting)
    ARRIVING = "arriving"
    RECEIVING = "receiving"  # accepted by the disposer, usually weighed
    REJECTING = "rejecting"  # refused by the disposer
    STORING = "storing"
    REPACKING = "repacking"  # contents moved into another container
    CONSOLIDATING = "consolidating"  # several containers into one parent
    DESTROYING = "destroying"  # treated or destroyed: the end of the container
    RETURNING = "returning"  # sent back to the generator

    @property
    def disposition(self) -> str:
        """The CBV disposition the step leaves the containers in."""
        return _DISPOSITIONS[self]

    @property
    def zh(self) -> str:
        """The step's Chinese name, as scanners show it and alerts say it."""
        return _STEP_ZH[self]


_STEP_ZH = {
    Step.COMMISSIONING: "贴标启用",
    Step.PACKING: "封装",
    Step.LOADING: "装车",
    Step.DEPARTING: "出发",
    Step.PASSING: "途经卡口",
    Step.ARRIVING: "到达",
    Step.RECEIVING: "接收",
    Step.REJECTING: "拒收",
    Step.STORING: "贮存",
    Step.REPACKING: "转装",
    Step.CONSOLIDATING: "合并",
    Step.DESTROYING: "处置",
    Step.RETURNING: "退回",
}


_DISPOSITIONS = {
    Step.COMMISSIONING: "active",
    Step.PACKING: "container_closed",
    Step.LOADING: "in_transit",
    Step.DEPARTING: "in_transit",
    Step.PASSING: "in_transit",
    Step.ARRIVING: "in_transit",
    Step.RECEIVING: "in_progress",
    Step.REJECTING: "non_conformant",
    Step.STORING: "in_progress",
    Step.REPACKING: "active",
    Step.CONSOLIDATING: "active",
    Step.DESTROYING: "destroyed",
    Step.RETURNING: "returned",
}


class MassSource(enum.StrEnum):
    """Where a mass comes from: weight is evidence, so its source is part of it."""

    DECLARED = "declared"
    WEIGHBRIDGE = "weighbridge"
    SCALE = "scale"


@dataclass(frozen=True, slots=True)
class Mass:
    """A mass in grams and how it was obtained."""

    grams: int
    source: MassSource

    def __post_init__(self) -> None:
        if not 0 <= self.grams <= 100_000_000:
            raise _bad(f"mass {self.grams} g is outside 0-100 t")
        object.__setattr__(self, "source", MassSource(self.source))


def _bad(reason: str) -> EventMalformed:
    return EventMalformed(
        f"malformed custody event: {reason}", zh="交接事件格式错误", reason=reason
    )


def _utc_ms(when: datetime) -> datetime:
    if when.tzinfo is None:
        raise _bad("event time needs a time zone")
    when = when.astimezone(UTC)
    return when.replace(microsecond=when.microsecond // 1000 * 1000)


@dataclass(frozen=True, slots=True)
class CustodyEvent:
    """One custody event, valid by construction."""

    event_id: str
    step: Step
    containers: tuple[str, ...]
    party: str
    device: str
    counter: int
    event_time: datetime
    prev: tuple[bytes, ...]
    parent: str | None = None
    counterparty: str | None = None
    read_point: str | None = None
    location: tuple[float, float] | None = None
    vehicle: str | None = None
    manifest: str | None = None
    mass: Mass | None = None
    photos: tuple[bytes, ...] = ()
    note: str = ""
    _cbor: bytes = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:  # noqa: C901, PLR0912  # one check per field, in order
        try:
            object.__setattr__(self, "event_id", str(uuid.UUID(self.event_id)))
            object.__setattr__(self, "step", Step(self.step))
        except ValueError as exc:
            raise _bad(str(exc)) from None
        if not 1 <= len(self.containers) <= MAX_CONTAINERS:
            raise _bad(f"an event names 1-{MAX_CONTAINERS} containers")
        try:
            ids = tuple(parse_digital_id(c).text for c in self.containers)
            object.__setattr__(self, "party", parse_credit_code(self.party).text)
            if self.counterparty is not None:
                object.__setattr__(self, "counterparty", parse_credit_code(self.counterparty).text)
            if self.parent is not None:
                object.__setattr__(self, "parent", parse_digital_id(self.parent).text)
            if self.vehicle is not None:
                object.__setattr__(self, "vehicle", parse_plate(self.vehicle).text)
        except CustodyError as exc:
            raise _bad(exc.message) from exc
        if len(set(ids)) != len(ids):
            raise _bad("a container is named twice")
        object.__setattr__(self, "containers", ids)
        if len(self.prev) != len(ids) or any(len(p) != 32 for p in self.prev):
            raise _bad("one 32-byte previous-entry hash per container")
        if not 0 <= self.counter < 2**63:
            raise _bad("device counter out of range")
        object.__setattr__(self, "event_time", _utc_ms(self.event_time))
        if self.location is not None:
            lat, lon = self.location
            finite = math.isfinite(lat) and math.isfinite(lon)
            if not (finite and abs(lat) <= 90 and abs(lon) <= 180):
                raise _bad(f"location {self.location} is not a WGS-84 coordinate")
        if any(len(p) != 32 for p in self.photos):
            raise _bad("photo hashes are SHA-256 (32 bytes)")
        for name in ("device", "read_point", "manifest", "note"):
            value = getattr(self, name)
            if value is not None and not _TEXT.fullmatch(value):
                raise _bad(f"{name} must be up to 200 printable characters")
        object.__setattr__(self, "_cbor", self._encode())
        if len(self._cbor) > MAX_EVENT_BYTES - 200:
            raise _bad("event too large")

    @classmethod
    def new(cls, **fields: object) -> CustodyEvent:
        """An event with a fresh random event id (what a device does when it scans)."""
        return cls(event_id=str(uuid.uuid4()), **fields)  # type: ignore[arg-type]

    def prev_of(self, container: str) -> bytes:
        """The previous-entry hash this event claims for ``container``."""
        return self.prev[self.containers.index(container)]

    def to_cbor(self) -> bytes:
        """Deterministic CBOR (RFC 8949 core deterministic encoding): the signed payload."""
        return self._cbor

    def _encode(self) -> bytes:
        body: dict[str, object] = {
            "v": SCHEMA_VERSION,
            "id": self.event_id,
            "step": self.step.value,
            "c": list(self.containers),
            "prev": list(self.prev),
            "party": self.party,
            "dev": self.device,
            "ctr": self.counter,
            "t": to_millis(self.event_time),
        }
        optional: dict[str, object] = {
            "parent": self.parent,
            "cp": self.counterparty,
            "rp": self.read_point,
            "loc": list(self.location) if self.location else None,
            "veh": self.vehicle,
            "mf": self.manifest,
            "mass": [self.mass.grams, self.mass.source.value] if self.mass else None,
            "ph": list(self.photos) or None,
            "note": self.note or None,
        }
        body.update({k: v for k, v in optional.items() if v is not None})
        return cbor2.dumps(body, canonical=True)

    @classmethod
    def from_cbor(cls, data: bytes) -> CustodyEvent:
        """Read an event payload; raise ``EventMalformed`` saying what is wrong."""
        try:
            body = cbor2.loads(data)
        except (cbor2.CBORDecodeError, ValueError, TypeError, RecursionError) as exc:
            raise _bad(f"not CBOR: {exc}") from None
        if not isinstance(body, Mapping) or body.get("v") != SCHEMA_VERSION:
            raise _bad("not a schema 1 custody event")
        try:
            mass = body.get("mass")
            event = cls(
                event_id=body["id"],
                step=body["step"],
                containers=tuple(body["c"]),
                prev=tuple(body["prev"]),
                party=body["party"],
                device=body["dev"],
                counter=body["ctr"],
                event_time=from_millis(body["t"]),
                parent=body.get("parent"),
                counterparty=body.get("cp"),
                read_point=body.get("rp"),
                location=tuple(body["loc"]) if "loc" in body else None,
                vehicle=body.get("veh"),
                manifest=body.get("mf"),
                mass=Mass(mass[0], mass[1]) if mass is not None else None,
                photos=tuple(body.get("ph", ())),
                note=body.get("note", ""),
            )
        except (KeyError, TypeError, ValueError, IndexError, OverflowError, OSError) as exc:
            raise _bad(f"field out of shape: {exc!r}") from None
        if event.to_cbor() != data:
            raise _bad("payload is not in deterministic encoding")
        return event

    @classmethod
    def from_stored_cbor(cls, data: bytes) -> CustodyEvent:
        """Rebuild an event the ledger accepted, without validating it again.

        Only for payloads read back from our own ledger: each was read by :meth:`from_cbor`
        before it was appended (every field checked, the encoding proved canonical), and
        ``custody ledger audit`` re-verifies the stored entries. The result equals what
        :meth:`from_cbor` gives for the same bytes, and keeps ``data`` as its encoding; outside
        data (ingest, bundles, replay, the audit) must take :meth:`from_cbor`. Bytes that are not
        even shaped like an event raise ``EventMalformed``; anything subtler is not looked for.
        """
        try:
            body = cbor2.loads(data)
            get = body.get
            mass, location = get("mass"), get("loc")
            values = (
                body["id"],
                _STEPS[body["step"]],
                tuple(body["c"]),
                body["party"],
                body["dev"],
                body["ctr"],
                from_millis(body["t"]),
                tuple(body["prev"]),
                get("parent"),
                get("cp"),
                get("rp"),
                tuple(location) if location is not None else None,
                get("veh"),
                get("mf"),
                Mass(mass[0], _SOURCES[mass[1]]) if mass is not None else None,
                tuple(get("ph", ())),
                get("note", ""),
                data,
            )
        except (cbor2.CBORDecodeError, AttributeError, KeyError, TypeError, ValueError,
                IndexError, OverflowError, OSError, RecursionError) as exc:  # fmt: skip
            raise _bad(f"stored event out of shape: {exc!r}") from None
        if body.get("v") != SCHEMA_VERSION:
            raise _bad("not a schema 1 custody event")
        event = object.__new__(cls)
        for name, value in zip(_FIELDS, values, strict=True):
            object.__setattr__(event, name, value)
        return event


#: The attributes of a :class:`CustodyEvent` in declaration order, ``_cbor`` last.
_FIELDS = (*(f.name for f in fields(CustodyEvent) if f.init), "_cbor")
_STEPS = {step.value: step for step in Step}
_SOURCES = {source.value: source for source in MassSource}


@dataclass(frozen=True, slots=True)
class SignedEvent:
    """An event with the exact COSE_Sign1 bytes its device signed."""

    event: CustodyEvent
    message: bytes
    kid: bytes

    @property
    def event_hash(self) -> bytes:
        """SHA-256 of the signed bytes: what the next event of a container links back to."""
        return event_hash(self.message)


def event_hash(message: bytes) -> bytes:
    """SHA-256 of a signed event's bytes."""
    return hashlib.sha256(message).digest()


def sign_event(event: CustodyEvent, key: SigningKey) -> bytes:
    """The event signed by a device key: COSE_Sign1 bytes to send and to store as they are."""
    return _cose.sign1(event.to_cbor(), key.private_key, key.kid)


def read_event(message: bytes) -> tuple[_cose.Sign1, SignedEvent]:
    """Parse signed event bytes without trusting them."""
    if len(message) > MAX_EVENT_BYTES:
        raise _bad(f"signed event of {len(message)} bytes exceeds {MAX_EVENT_BYTES}")
    try:
        sign1 = _cose.parse_sign1(message)
    except _cose.CoseStructureError as exc:
        raise _bad(str(exc)) from None
    event = CustodyEvent.from_cbor(sign1.payload)
    return sign1, SignedEvent(event, message, sign1.kid)


def verify_event(
    message: bytes, bundle: TrustBundle, received_at: datetime | None = None
) -> tuple[SignedEvent, PublicKeyRecord]:
    """Check a signed event against the trust bundle: a device key of the acting party.

    The key must be valid at the time the event claims; that time is the device's word,
    the server's receive time is what orders the log, and what revocation is judged by.
    """
    sign1, signed = read_event(message)
    record = bundle.verify(sign1, signed.event.event_time, KeyRole.DEVICE, received_at)
    if record.owner != signed.event.party:
        raise KeyOwnerMismatch(
            f"event says party {signed.event.party} acted, but {record.owner}'s device "
            f"{record.name} signed it",
            zh=f"事件所载单位为 {signed.event.party}，签名设备 {record.name} 却属于 {record.owner}",
            key=record.name,
        )
    if record.name != signed.event.device:
        raise _bad(f"event names device {signed.event.device} but {record.name} signed it")
    return signed, record


def verified_links(
    message: bytes, bundle: TrustBundle, received_at: datetime | None = None
) -> tuple[bytes, tuple[str, ...], tuple[bytes, ...]]:
    """For audits: check an event's signature and signer, read only its chain fields.

    Every field was validated when the event was appended; an audit re-checks what a forger
    would have to break (the signature, the device key and its owner) and what the chains
    need, at a fraction of the cost of rebuilding the whole event.
    """
    try:
        sign1 = _cose.parse_sign1(message)
        body = cbor2.loads(sign1.payload)
        when = from_millis(body["t"])
        party, device = body["party"], body["dev"]
        containers, prev = tuple(body["c"]), tuple(body["prev"])
    except (_cose.CoseStructureError, cbor2.CBORDecodeError, KeyError, TypeError, ValueError,
            OverflowError, OSError) as exc:  # fmt: skip
        raise _bad(f"unreadable: {exc!r}") from None
    record = bundle.verify(sign1, when, KeyRole.DEVICE, received_at)
    if record.owner != party or record.name != device:
        raise KeyOwnerMismatch(
            f"event names {party}/{device} but {record.name} signed it",
            zh=f"事件所载单位或设备与签名密钥 {record.name} 不符",
            key=record.name,
        )
    return event_hash(message), containers, prev

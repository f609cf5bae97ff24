"""Scanners enrolled with their own keys, and what ingest saw them do wrong.

A device makes its key pair itself and sends only the public half; the server never holds a
device's private key. Its name is the key's name (``OWNER/device/N``), which is also what its
events say they came from. Every event carries the device's counter, which only goes up: a
counter used twice for different events means two devices share one key (a clone), and a
counter that goes back means a replay; both are refused and kept as anomalies, with the
signed bytes that prove them.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from custody.errors import AlreadyRegistered, DeviceUnknown, RecordInvalid
from custody.keyring import DEFAULT_VALIDITY
from custody.keys import KeyRole

if TYPE_CHECKING:
    from custody.keyring import Keyring
    from custody.keys import PublicKeyRecord
    from custody.ports import DeviceStore
    from custody.registry import Registry

__all__ = ["Anomaly", "AnomalyKind", "Device", "DeviceKind", "Devices"]

_DESCRIPTION_MAX = 200


class DeviceKind(enum.StrEnum):
    """What sort of scanner a device is."""

    PHONE = "phone"  # a driver's or worker's phone
    HANDHELD = "handheld"  # an industrial handheld scanner
    STATION = "station"  # a fixed scan station at a road checkpoint or gate
    WEIGHBRIDGE = "weighbridge"  # a weighbridge or scale that signs the masses it measures

    @property
    def zh(self) -> str:
        """The kind in Chinese."""
        return _KIND_ZH[self]


_KIND_ZH = {
    DeviceKind.PHONE: "手机",
    DeviceKind.HANDHELD: "手持终端",
    DeviceKind.STATION: "固定扫码站",
    DeviceKind.WEIGHBRIDGE: "地磅",
}


@dataclass(frozen=True, slots=True)
class Device:
    """An enrolled scanner."""

    name: str  # its key's name, OWNER/device/N
    kind: DeviceKind
    owner: str  # the party's credit code
    description: str
    enrolled_at: datetime

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", DeviceKind(self.kind))
        if len(self.description) > _DESCRIPTION_MAX:
            raise RecordInvalid(
                f"a device description has at most {_DESCRIPTION_MAX} characters",
                zh=f"设备说明最多 {_DESCRIPTION_MAX} 个字符",
            )


class AnomalyKind(enum.StrEnum):
    """What ingest noticed about an event."""

    CLONED_DEVICE = "cloned-device"  # one counter, two different events: refused
    STALE_COUNTER = "stale-counter"  # a counter at or below one already used: refused
    REVOKED_KEY = "revoked-key"  # signed by a key revoked before we received it: refused
    CLOCK_AHEAD = "clock-ahead"  # claims a time after we received it: accepted
    LATE_DELIVERY = "late-delivery"  # reached us long after it claims to happen: accepted


@dataclass(frozen=True, slots=True)
class Anomaly:
    """One anomaly with its evidence: the signed event as the device sent it."""

    kind: AnomalyKind
    device: str
    event_id: str
    counter: int | None
    detail: str
    evidence: bytes
    related_index: int | None = None  # the ledger entry it concerns or conflicts with
    detected_at: datetime | None = None


class Devices:
    """Enrolment and look-up of devices over a store and the keyring."""

    def __init__(self, store: DeviceStore, keyring: Keyring, registry: Registry) -> None:
        self._store = store
        self._keyring = keyring
        self._registry = registry

    def enroll(
        self,
        owner: str,
        kind: DeviceKind,
        public_key: bytes,
        description: str = "",
        validity: timedelta = DEFAULT_VALIDITY,
    ) -> tuple[Device, PublicKeyRecord, bool]:
        """Enrol a device's public key for ``owner``; the same key again returns the same device.

        Returns the device, its key record, and whether it is new.
        """
        party = self._registry.party(owner)  # PartyNotFound for an unregistered owner
        for record in self._keyring.keys():  # noqa: SIM118  # a Keyring, not a dict
            if record.public_key == public_key and record.role is KeyRole.DEVICE:
                device = self._store.get_device(record.name)
                if device is not None and device.owner == party.credit_code:
                    return device, record, False
                raise AlreadyRegistered(
                    f"this public key is already enrolled as {record.name}",
                    zh=f"该公钥已登记为设备 {record.name}",
                    key=record.name,
                )
        record = self._keyring.enroll(party.credit_code, KeyRole.DEVICE, public_key, validity)
        device = Device(record.name, kind, party.credit_code, description, datetime.now(UTC))
        self._store.insert_device(device)
        return device, record, True

    def get(self, name: str) -> Device:
        """The device with this name; ``DeviceUnknown`` if none is enrolled."""
        device = self._store.get_device(name)
        if device is None:
            raise DeviceUnknown(f"no device named {name} is enrolled", zh=f"未登记设备 {name}",
                                device=name)  # fmt: skip
        return device

    def of(self, owner: str) -> list[Device]:
        """Every device of a party."""
        return self._store.devices_of(owner)

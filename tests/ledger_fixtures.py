"""Deterministic keys, events and ledgers for the ledger tests (fixed keys, fixed clock)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlmodel import Session

from custody.containers import Container, ContainerType, NewContainer, PhysicalForm
from custody.devices import Device, DeviceKind
from custody.digital_id import DigitalId, parse_digital_id
from custody.events import (
    NO_PREVIOUS,
    CustodyEvent,
    Mass,
    MassSource,
    SignedEvent,
    Step,
    read_event,
    sign_event,
)
from custody.keyring import Keyring
from custody.keys import KeyRole, SigningKey
from custody.parties import Party, PartyRole
from custody.registry import Registry
from custody.trust import TrustBundle
from storage.container_store import SqlContainerStore
from storage.device_store import SqlDeviceStore
from storage.key_store import SqlKeyStore
from storage.registry_store import SqlRegistryStore
from tests.conftest import DISPOSER_CODE, GENERATOR_CODE, TRANSPORTER_CODE

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

T0 = datetime(2026, 3, 5, 8, 0, tzinfo=UTC)
ORIGIN = "custody.test/log/2026"


def key(seed: int, name: str, owner: str, role: KeyRole) -> SigningKey:
    return SigningKey.from_private(
        Ed25519PrivateKey.from_private_bytes(bytes([seed]) * 32),
        name=name,
        owner=owner,
        role=role,
        valid_from=T0 - timedelta(days=30),
        valid_until=T0 + timedelta(days=365),
    )


LOG_KEY = key(1, "custody/log/1", "custody", KeyRole.LOG)
DEVICES = {
    GENERATOR_CODE: key(2, f"{GENERATOR_CODE}/device/1", GENERATOR_CODE, KeyRole.DEVICE),
    TRANSPORTER_CODE: key(3, f"{TRANSPORTER_CODE}/device/1", TRANSPORTER_CODE, KeyRole.DEVICE),
    DISPOSER_CODE: key(4, f"{DISPOSER_CODE}/device/1", DISPOSER_CODE, KeyRole.DEVICE),
}
BUNDLE = TrustBundle.issue(1, [LOG_KEY.record] + [k.record for k in DEVICES.values()], T0)


def drum(n: int) -> str:
    return DigitalId(GENERATOR_CODE, "900-249-08", date(2026, 3, 5), n).text


class Scanner:
    """A device that scans: counts its events and remembers each container's last event."""

    def __init__(self, party: str) -> None:
        self.party = party
        self.key = DEVICES[party]
        self.counter = 0
        self.last: dict[str, bytes] = {}

    def scan(
        self,
        step: Step,
        *containers: str,
        minutes: float = 0,
        seed: int | None = None,
        prev: dict[str, bytes] | None = None,
        **extra: object,
    ) -> SignedEvent:
        self.counter += 1
        claimed = prev or {}
        event = CustodyEvent(
            event_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"{self.party}/{self.counter}/{seed}")),
            step=step,
            containers=containers,
            party=self.party,
            device=self.key.record.name,
            counter=self.counter,
            event_time=T0 + timedelta(minutes=minutes),
            prev=tuple(claimed.get(c, self.last.get(c, NO_PREVIOUS)) for c in containers),
            **extra,  # type: ignore[arg-type]
        )
        _, signed = read_event(sign_event(event, self.key))
        for c in containers:
            self.last[c] = signed.event_hash
        return signed

    def follow(self, other: Scanner) -> None:
        """Learn the other device's latest events (as a receipt or label scan would tell it)."""
        self.last.update(other.last)


_ROLES = {GENERATOR_CODE: PartyRole.GENERATOR, TRANSPORTER_CODE: PartyRole.TRANSPORTER,
          DISPOSER_CODE: PartyRole.DISPOSER}  # fmt: skip


def enroll_scanners(
    engine: Engine, kek: bytes, drums: int = 20, *, register_parties: bool = False
) -> None:
    """Into a service's database: the fixture devices (public halves, enrolled) and drums 1..n.

    The parties must be registered already, or ``register_parties`` does it.
    """
    with Session(engine) as session:
        if register_parties:
            registry = Registry(SqlRegistryStore(session))
            for code, role in _ROLES.items():
                registry.register_party(Party(code, f"单位{code[-4:]}", frozenset({role})))
        keys, devices = SqlKeyStore(session), SqlDeviceStore(session)
        for party, device in DEVICES.items():
            keys.insert_key(device.record, None)
            devices.insert_device(
                Device(device.record.name, DeviceKind.HANDHELD, party, "fixture", T0)
            )
        Keyring(keys, kek).publish()
        containers = SqlContainerStore(session)
        for n in range(1, drums + 1):
            facts = NewContainer(GENERATOR_CODE, "900-249-08", date(2026, 3, 5),
                                 PhysicalForm.LIQUID, ContainerType.DRUM, 200, 150_000)  # fmt: skip
            containers.insert_container(Container(parse_digital_id(drum(n)), "2021", facts))


__all__ = [
    "BUNDLE",
    "DEVICES",
    "LOG_KEY",
    "ORIGIN",
    "T0",
    "Mass",
    "MassSource",
    "Scanner",
    "drum",
    "enroll_scanners",
]

"""Bodies for device enrolment and ingest anomalies."""

from __future__ import annotations

import base64
from datetime import datetime  # pydantic reads annotations at run time
from typing import TYPE_CHECKING, Self

from pydantic import BaseModel, ConfigDict, Field

from custody.devices import AnomalyKind, DeviceKind

if TYPE_CHECKING:
    from custody.devices import Anomaly, Device
    from custody.keys import PublicKeyRecord

__all__ = ["AnomalyPublic", "DeviceEnroll", "DevicePublic"]


class DeviceEnroll(BaseModel):
    """A device's own public key, to be enrolled for its owner."""

    model_config = ConfigDict(extra="forbid")

    owner: str = Field(description="Credit code of the party the device acts for.")
    kind: DeviceKind
    public_key: str = Field(description="Raw 32-byte Ed25519 public key, base64.")
    description: str = Field(default="", max_length=200)
    valid_days: int = Field(default=366, ge=1, le=3653)


class DevicePublic(BaseModel):
    """An enrolled device and its key."""

    name: str = Field(description="The device's key name; its events name it as `dev`.")
    kind: DeviceKind
    kind_zh: str
    owner: str
    description: str
    enrolled_at: datetime
    kid: str
    public_key: str = Field(description="Signed-note verifier key: name+kid+base64.")
    valid_from: datetime
    valid_until: datetime
    revoked_at: datetime | None

    @classmethod
    def of(cls, device: Device, record: PublicKeyRecord) -> Self:
        """Render a device with its key record."""
        return cls(
            name=device.name,
            kind=device.kind,
            kind_zh=device.kind.zh,
            owner=device.owner,
            description=device.description,
            enrolled_at=device.enrolled_at,
            kid=record.kid.hex(),
            public_key=str(record.verifier_key),
            valid_from=record.valid_from,
            valid_until=record.valid_until,
            revoked_at=record.revoked_at,
        )


class AnomalyPublic(BaseModel):
    """An anomaly ingest recorded, with the signed event that shows it."""

    kind: AnomalyKind
    device: str
    event_id: str
    counter: int | None
    detail: str
    evidence: str = Field(description="The signed event as the device sent it, base64.")
    related_index: int | None = Field(description="The ledger entry it concerns, if any.")
    detected_at: datetime | None

    @classmethod
    def of(cls, anomaly: Anomaly) -> Self:
        """Render a core anomaly."""
        return cls(
            kind=anomaly.kind,
            device=anomaly.device,
            event_id=anomaly.event_id,
            counter=anomaly.counter,
            detail=anomaly.detail,
            evidence=base64.b64encode(anomaly.evidence).decode(),
            related_index=anomaly.related_index,
            detected_at=anomaly.detected_at,
        )

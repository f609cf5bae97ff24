"""Bodies for the custody ledger: events in, receipts and proofs out."""

from __future__ import annotations

import base64
from datetime import datetime  # pydantic reads annotations at run time
from typing import TYPE_CHECKING, Self

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from custody.events import CustodyEvent
    from custody.ledger import Receipt

__all__ = ["EventBatch", "EventPublic", "ReceiptPublic", "ReceiptsPublic"]


def b64(data: bytes) -> str:
    """Standard base64 text."""
    return base64.b64encode(data).decode()


class EventBatch(BaseModel):
    """Signed events (COSE_Sign1 bytes, base64), appended in this order."""

    model_config = ConfigDict(extra="forbid")

    events: list[str] = Field(min_length=1, max_length=5000)


class ReceiptPublic(BaseModel):
    """Where an event sits in the log, and the proof of it."""

    index: int
    event_id: str
    event_hash: str = Field(description="SHA-256 of the signed event, hex.")
    leaf_hash: str = Field(description="RFC 6962 leaf hash, hex.")
    size: int = Field(description="Tree size of the checkpoint the proof leads to.")
    proof: list[str] = Field(description="Inclusion proof, base64 hashes, leaf to root.")
    checkpoint: str = Field(description="C2SP signed note of the tree of `size` leaves.")
    duplicate: bool = Field(description="The event was already in the log: its original place.")
    received_at: datetime | None = Field(
        description="When the log received the event (millisecond precision): the leaf is the "
        "entry of the signed bytes at this time, so a device can rebuild it."
    )

    @classmethod
    def of(cls, receipt: Receipt) -> Self:
        """Render a core receipt."""
        return cls(
            index=receipt.index,
            event_id=receipt.event_id,
            event_hash=receipt.event_hash.hex(),
            leaf_hash=receipt.leaf_hash.hex(),
            size=receipt.size,
            proof=[b64(h) for h in receipt.proof],
            checkpoint=receipt.checkpoint.decode(),
            duplicate=receipt.duplicate,
            received_at=receipt.received_at,
        )


class ReceiptsPublic(BaseModel):
    """One receipt per submitted event, in the order submitted."""

    receipts: list[ReceiptPublic]


class EventPublic(BaseModel):
    """A ledger entry's event as an official reads it."""

    index: int
    received_at: datetime
    event_id: str
    step: str
    disposition: str
    containers: list[str]
    party: str
    counterparty: str | None
    device: str
    event_time: datetime
    read_point: str | None
    vehicle: str | None
    mass_kg: float | None
    mass_source: str | None
    event_hash: str

    @classmethod
    def of(cls, index: int, received_at: datetime, event: CustodyEvent, digest: bytes) -> Self:
        """Render an event from the ledger."""
        return cls(
            index=index,
            received_at=received_at,
            event_id=event.event_id,
            step=event.step.value,
            disposition=event.step.disposition,
            containers=list(event.containers),
            party=event.party,
            counterparty=event.counterparty,
            device=event.device,
            event_time=event.event_time,
            read_point=event.read_point,
            vehicle=event.vehicle,
            mass_kg=event.mass.grams / 1000 if event.mass else None,
            mass_source=event.mass.source.value if event.mass else None,
            event_hash=digest.hex(),
        )

"""Ledger entries as an EPCIS 2.0 document, each event pointing back to its ledger entry."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from custody.epcis import LedgerRef, document, to_json
from custody.events import read_event
from custody.ledger import read_entry

if TYPE_CHECKING:
    from collections.abc import Iterable

    from custody.ledger import Ledger
    from custody.ports import StoredEntry

__all__ = ["epcis_document"]


def epcis_document(ledger: Ledger, entries: Iterable[StoredEntry]) -> str:
    """The EPCIS JSON of ``entries``, in log order, with ``wt:ledger`` origin and index."""
    events = []
    for entry in entries:
        _, message = read_entry(entry.entry)
        _, signed = read_event(message)
        events.append((signed.event, signed.event_hash, LedgerRef(ledger.origin, entry.index)))
    return to_json(document(events, created=datetime.now(UTC).replace(microsecond=0)))

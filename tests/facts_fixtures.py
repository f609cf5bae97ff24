"""Signed ledgers of whole trips for the facts loader's tests and its benchmark.

A trip: the generator commissions ``per_trip`` drums, the transporter loads, departs and
arrives with all of them, the disposer receives (weighs) and destroys each one. Events are
signed by the fixture devices of ``tests.ledger_fixtures`` and appended through the ledger.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING

from sqlalchemy.dialects import postgresql, sqlite

from custody.digital_id import DigitalId
from custody.events import Mass, MassSource, Step
from custody.ledger import Ledger
from storage.ledger_store import SqlLedgerStore
from storage.tables import ContainerRow, metadata
from tests.conftest import DISPOSER_CODE, GENERATOR_CODE, TRANSPORTER_CODE
from tests.ledger_fixtures import LOG_KEY, ORIGIN, T0, Scanner

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from custody.events import SignedEvent

PLATE = "川A12345"
WASTE = "900-249-08"
DECLARED_G = 150_000


def drum_id(n: int) -> str:
    """The ``n``-th drum (0-based): 999 a day from 2026-01-01."""
    return DigitalId(GENERATOR_CODE, WASTE, date(2026, 1, 1) + timedelta(days=n // 999),
                     1 + n % 999).text  # fmt: skip


def trip_events(trips: int, per_trip: int = 4, *, first_drum: int = 0) -> list[SignedEvent]:
    """The signed events of ``trips`` trips, in the order they happened (an hour apart)."""
    g, t, d = Scanner(GENERATOR_CODE), Scanner(TRANSPORTER_CODE), Scanner(DISPOSER_CODE)
    out: list[SignedEvent] = []
    for trip in range(trips):
        base = 60.0 * trip
        drums = [drum_id(first_drum + trip * per_trip + k) for k in range(per_trip)]
        out += [g.scan(Step.COMMISSIONING, c, minutes=base) for c in drums]
        linked = {c: g.last[c] for c in drums}
        out.append(t.scan(Step.LOADING, *drums, minutes=base + 10, prev=linked,
                          counterparty=GENERATOR_CODE, vehicle=PLATE))  # fmt: skip
        out.append(t.scan(Step.DEPARTING, *drums, minutes=base + 11, vehicle=PLATE))
        out.append(t.scan(Step.ARRIVING, *drums, minutes=base + 50, vehicle=PLATE))
        linked = {c: t.last[c] for c in drums}
        for c in drums:
            weighed = Mass(DECLARED_G - 500, MassSource.WEIGHBRIDGE)
            out.append(d.scan(Step.RECEIVING, c, minutes=base + 55, prev=linked,
                              counterparty=TRANSPORTER_CODE, mass=weighed))  # fmt: skip
        out += [d.scan(Step.DESTROYING, c, minutes=base + 58) for c in drums]
    return out


def append_events(engine: Engine, events: list[SignedEvent], batch: int = 1000) -> Ledger:
    """Append the events through the ledger (received a minute after the last claims)."""
    ledger = Ledger(SqlLedgerStore(engine), LOG_KEY, ORIGIN)
    for start in range(0, len(events), batch):
        chunk = events[start : start + batch]
        received = max(e.event.event_time for e in chunk) + timedelta(minutes=1)
        ledger.append(chunk, received_at=received)
    return ledger


def register_drums(engine: Engine, count: int, *, first_drum: int = 0) -> None:
    """Register drums in bulk, those not registered yet (the generator must be registered)."""
    rows = []
    for n in range(first_drum, first_drum + count):
        ident = DigitalId.compose(GENERATOR_CODE, WASTE, date(2026, 1, 1) + timedelta(n // 999),
                                  1 + n % 999)  # fmt: skip
        rows.append({"digital_id": ident.text, "generator": GENERATOR_CODE, "waste_code": WASTE,
                     "day": ident.day, "sequence": ident.sequence, "edition": "2021", "form": "L",
                     "container_type": "DR", "capacity_l": 200.0,
                     "declared_net_mass_g": DECLARED_G, "seal_no": "", "waste_name": "",
                     "main_components": "", "harmful_components": "", "precautions": "",
                     "contact": "", "remarks": "", "recorded_at": T0})  # fmt: skip
    dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(metadata.tables[ContainerRow.__tablename__]).on_conflict_do_nothing()
    with engine.begin() as conn:  # drums registered already (a shared database) are kept
        conn.execute(statement, rows)


__all__ = ["DECLARED_G", "PLATE", "append_events", "drum_id", "register_drums", "trip_events"]

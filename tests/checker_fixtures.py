"""Stories for the checker's tests: a container's life written as a few lines.

``Story`` appends events to a little ledger of records (unsigned: rules read events, the audit
checks signatures), linking each container's back link to its previous event, so a test reads
like the custody chain it describes::

    story = Story()
    drum = story.drum()
    story.at(0).commission(drum).load(drum, by=T, vehicle=PLATE).at(3).receive(drum, mass_kg=200)
    facts = story.facts()
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from custody.containers import Container, ContainerType, NewContainer, PhysicalForm
from custody.digital_id import DigitalId
from custody.events import NO_PREVIOUS, CustodyEvent, Mass, MassSource, Step
from custody.facts import CheckSettings, Facts
from custody.history import Record, histories
from custody.manifests import TransferManifest
from custody.parties import (
    DisposalMethod,
    OperatingLicence,
    Party,
    PartyRole,
    TransportPermit,
    Vehicle,
)
from tests.conftest import DISPOSER_CODE, GENERATOR_CODE, TRANSPORTER_CODE

G, T, D = GENERATOR_CODE, TRANSPORTER_CODE, DISPOSER_CODE
#: A second transporter and a second disposer (valid credit codes).
T2 = "91510100MA6CGUDD7H"
D2 = "91510104MA61TDJE8P"
PLATE = "川A12345"
PLATE2 = "川B54321"
WASTE = "900-041-49"
START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)  # a Monday, 16:00 in Chengdu
#: Coordinates in Chengdu: the generator's yard, the disposer's gate (about 30 km apart).
YARD = (30.6570, 104.0660)
PLANT = (30.8900, 103.8400)


@dataclass
class Story:
    """A ledger of records built step by step; ``at(hours)`` sets the clock for what follows."""

    start: datetime = START
    records: list[Record] = field(default_factory=list)
    containers: dict[str, Container] = field(default_factory=dict)
    manifests: dict[str, TransferManifest] = field(default_factory=dict)
    heads: dict[str, bytes] = field(default_factory=dict)
    clock: datetime = START
    counter: int = 0
    _serial: int = 0

    def at(self, hours: float) -> Story:
        """Set the time of the next events to ``start + hours``."""
        self.clock = self.start + timedelta(hours=hours)
        return self

    def drum(
        self,
        declared_kg: float = 200.0,
        generator: str = G,
        waste: str = WASTE,
        day: date | None = None,
    ) -> str:
        """Register a new container and return its digital identification code."""
        self._serial += 1
        day = day or self.start.date()
        ident = DigitalId(generator, waste, day, self._serial)
        new = NewContainer(
            generator,
            waste,
            day,
            PhysicalForm.LIQUID,
            ContainerType.DRUM,
            200.0,
            round(declared_kg * 1000),
            seal_no=f"S{self._serial:05d}",
        )
        self.containers[ident.text] = Container(ident, "2021", new)
        return ident.text

    def event(self, step: Step, *containers: str, by: str, **fields: Any) -> Record:
        """Append one event of ``by`` about the containers, linked to their previous events."""
        self.counter += 1
        mass_kg = fields.pop("mass_kg", None)
        if mass_kg is not None:
            fields["mass"] = Mass(round(mass_kg * 1000), MassSource.WEIGHBRIDGE)
        when = fields.pop("when", self.clock)
        event = CustodyEvent(
            event_id=str(uuid.UUID(int=self.counter)),
            step=step,
            containers=tuple(containers),
            party=by,
            device=f"{by}/device/1",
            counter=self.counter,
            event_time=when,
            prev=tuple(self.heads.get(c, NO_PREVIOUS) for c in containers),
            **fields,
        )
        digest = hashlib.sha256(event.to_cbor()).digest()
        record = Record(len(self.records), when + timedelta(seconds=5), digest, event)
        self.records.append(record)
        for c in containers:
            self.heads[c] = digest
        return record

    # The usual steps, each returning the story so a life reads as one chain.
    def commission(self, *drums: str, by: str = G, **fields: Any) -> Story:
        self.event(Step.COMMISSIONING, *drums, by=by, location=YARD, **fields)
        return self

    def load(
        self, *drums: str, by: str = T, giver: str = G, vehicle: str = PLATE, **fields: Any
    ) -> Story:
        self.event(
            Step.LOADING,
            *drums,
            by=by,
            counterparty=giver,
            vehicle=vehicle,
            location=fields.pop("location", YARD),
            **fields,
        )
        return self

    def depart(self, *drums: str, by: str = T, vehicle: str = PLATE, **fields: Any) -> Story:
        self.event(Step.DEPARTING, *drums, by=by, vehicle=vehicle, **fields)
        return self

    def receive(self, *drums: str, by: str = D, giver: str = T, **fields: Any) -> Story:
        self.event(
            Step.RECEIVING,
            *drums,
            by=by,
            counterparty=giver,
            location=fields.pop("location", PLANT),
            **fields,
        )
        return self

    def store(self, *drums: str, by: str = D, **fields: Any) -> Story:
        self.event(Step.STORING, *drums, by=by, **fields)
        return self

    def destroy(self, *drums: str, by: str = D, **fields: Any) -> Story:
        self.event(Step.DESTROYING, *drums, by=by, **fields)
        return self

    def manifest(self, number: str, drums: list[str], **fields: Any) -> TransferManifest:
        """Record a manifest of G → T → D for these drums (fields override)."""
        body: dict[str, Any] = {
            "number": number,
            "generator": G,
            "transporter": T,
            "receiver": D,
            "vehicles": (PLATE,),
            "waste_codes": (WASTE,),
            "containers": tuple(drums),
            "declared_mass_g": sum(self.containers[d].facts.declared_net_mass_g for d in drums),
            "created_at": self.clock,
            "arrive_before": self.clock + timedelta(hours=6),
        }
        manifest = TransferManifest(**(body | fields))
        self.manifests[number] = manifest
        return manifest

    def facts(
        self,
        as_of_hours: float | None = None,
        settings: CheckSettings | None = None,
        **overrides: Any,
    ) -> Facts:
        """The snapshot the rules read, with the registered parties of the usual chain."""
        as_of = (
            self.start + timedelta(hours=as_of_hours)
            if as_of_hours is not None
            else max((r.event.event_time for r in self.records), default=self.start)
        )
        body: dict[str, Any] = {
            "histories": histories(self.records),
            "as_of": as_of,
            "containers": self.containers,
            "parties": PARTIES,
            "permits": PERMITS,
            "licences": LICENCES,
            "vehicles": VEHICLES,
            "manifests": self.manifests,
            "settings": settings or CheckSettings(),
        }
        return Facts(**(body | overrides))


PARTIES = {
    G: Party(G, "成都某电子厂", frozenset({PartyRole.GENERATOR})),
    T: Party(T, "蓉运危货运输公司", frozenset({PartyRole.TRANSPORTER})),
    T2: Party(T2, "锦程物流", frozenset({PartyRole.TRANSPORTER})),
    D: Party(D, "川西环保处置中心", frozenset({PartyRole.DISPOSER})),
    D2: Party(D2, "蜀南再生资源", frozenset({PartyRole.DISPOSER})),
}
PERMITS = {
    T: [TransportPermit("川交运管许可危字510100001号", T, date(2025, 1, 1), date(2028, 12, 31))],
    T2: [TransportPermit("川交运管许可危字510100002号", T2, date(2020, 1, 1), date(2025, 12, 31))],
}
LICENCES = {
    D: [
        OperatingLicence(
            "SC5101000001",
            D,
            frozenset({"HW49", "HW08"}),
            frozenset({DisposalMethod.INCINERATION}),
            5.0,
            date(2025, 1, 1),
            date(2029, 12, 31),
        )
    ],
    D2: [
        OperatingLicence(
            "SC5101000002",
            D2,
            frozenset({"HW08"}),
            frozenset({DisposalMethod.RECOVERY}),
            1000.0,
            date(2025, 1, 1),
            date(2029, 12, 31),
        )
    ],
}
VEHICLES = {PLATE: Vehicle(PLATE, T), PLATE2: Vehicle(PLATE2, T2)}

"""What the checker's rules see: histories, registered facts, manifests, settings, and a clock.

Rules are pure functions of a ``Facts`` snapshot, so the same snapshot always gives the same
alerts, and outside data replayed from files is checked exactly like the ledger.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from custody.alerts import Alert, Severity
from custody.digital_id import parse_digital_id

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping, Sequence

    from custody.containers import Container
    from custody.history import ContainerHistory, Record
    from custody.manifests import TransferManifest
    from custody.parties import Checkpoint, OperatingLicence, Party, TransportPermit, Vehicle

__all__ = ["CheckSettings", "Facts", "Rule"]


@dataclass(frozen=True, slots=True)
class CheckSettings:
    """Every threshold of the custody rules; a regulator may set each per deployment."""

    #: Received mass may differ from the declared by 2 % or 20 kg, whichever is larger
    #: (DOMAIN.md: a placeholder a regulator sets per waste type).
    mass_tolerance: float = 0.02
    mass_tolerance_g: int = 20_000
    #: A loaded container must be received by the manifest's deadline plus this grace ...
    transit_grace: timedelta = timedelta(hours=12)
    #: ... or, when no manifest gives a deadline, within this long of loading.
    default_transit: timedelta = timedelta(hours=24)
    #: Dangerous goods vehicles: at most 80 km/h on expressways; straight-line speed between
    #: two scans above this (plus the tolerance) means no vehicle could have carried the drum.
    max_speed_kmh: float = 80.0
    speed_tolerance: float = 0.15
    #: Scans closer than this are one site (GPS noise, a big plant).
    same_site_km: float = 1.0
    #: Generators may store waste for at most one year (longer needs approval); storage sites too.
    storage_limit: timedelta = timedelta(days=365)
    #: Mass balance: a generator's declared-minus-received gap over the window is flagged when
    #: it reaches both this mass and this share of what was declared (early warning well below
    #: the 3 t criminal threshold, and above the noise of honest scales).
    balance_window: timedelta = timedelta(days=90)
    balance_min_g: int = 300_000
    balance_share: float = 0.015

    def mass_tolerance_for(self, declared_g: int) -> int:
        """The allowed difference, in grams, for a declared mass."""
        return max(round(declared_g * self.mass_tolerance), self.mass_tolerance_g)


@dataclass(frozen=True, slots=True)
class Facts:
    """One snapshot for the rules to read."""

    histories: Mapping[str, ContainerHistory]
    as_of: datetime  # the check's 'now': deadlines and storage limits are judged at it
    containers: Mapping[str, Container] = field(default_factory=dict)
    parties: Mapping[str, Party] = field(default_factory=dict)
    permits: Mapping[str, Sequence[TransportPermit]] = field(default_factory=dict)
    licences: Mapping[str, Sequence[OperatingLicence]] = field(default_factory=dict)
    vehicles: Mapping[str, Vehicle] = field(default_factory=dict)
    checkpoints: Mapping[str, Checkpoint] = field(default_factory=dict)
    manifests: Mapping[str, TransferManifest] = field(default_factory=dict)
    settings: CheckSettings = field(default_factory=CheckSettings)

    def waste_code(self, container: str) -> str:
        """The container's waste code (read from its digital identification code)."""
        return parse_digital_id(container).waste_code

    def declared_g(self, container: str) -> int | None:
        """The generator's declared net mass, when the container is registered here."""
        found = self.containers.get(container)
        return found.facts.declared_net_mass_g if found else None

    def name(self, party: str) -> str:
        """A party's registered name, or its credit code when it is not registered."""
        found = self.parties.get(party)
        return found.name if found else party


@dataclass(frozen=True, slots=True)
class Rule:
    """One named check: what it looks for and how urgent its alerts are by default."""

    name: str  # stable, used in alert ids and filters, e.g. "missing-handoff"
    severity: Severity
    title_zh: str
    title: str
    run: Callable[[Facts], Iterator[Alert]]

    def alert(  # noqa: PLR0913  # an alert has that many parts
        self,
        subject: str,
        summary_zh: str,
        summary: str,
        records: Sequence[Record],
        *,
        containers: Sequence[str] = (),
        parties: Sequence[str] = (),
        vehicle: str | None = None,
        facts: dict[str, Any] | None = None,
        severity: Severity | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> Alert:
        """An alert of this rule resting on ``records``; its window spans their times.

        Containers, parties and the vehicle default to those the records name.
        """
        times = [r.event.event_time for r in records]
        if start is None or end is None:
            if not times:
                raise ValueError("an alert with no records needs a start and an end")
            start, end = start or min(times), end or max(times)
        named = containers or tuple(dict.fromkeys(c for r in records for c in r.event.containers))
        who = parties or tuple(dict.fromkeys(r.event.party for r in records))
        plate = vehicle or next((r.event.vehicle for r in records if r.event.vehicle), None)
        return Alert(
            rule=self.name,
            subject=subject,
            severity=severity or self.severity,
            summary_zh=summary_zh,
            summary=summary,
            start=start,
            end=end,
            containers=tuple(named),
            vehicle=plate,
            parties=tuple(who),
            entries=tuple(sorted({r.index for r in records if r.index >= 0})),
            facts=facts or {},
        )

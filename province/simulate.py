"""A month in the demo province: drums filled, trucks driven, gates passed, drums destroyed.

The simulation plans the honest month first (every generator fills drums each working day and
ships them every few days to a disposer licensed for the waste; a carrier's truck loads, drives
the fastest legal road, passes the ANPR gates on it, and delivers; the disposer weighs and
later destroys), then injects a known share of every violation the checker looks for, each
recorded as ground truth, and finally signs every event with its device's key, in time order,
so the month can be fed through the real ingest path. The same seed gives the same month,
byte for byte.
"""

from __future__ import annotations

import hashlib
import math
import random
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

import networkx as nx
import shapely
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from custody.containers import ContainerType, NewContainer, PhysicalForm
from custody.digital_id import DigitalId
from custody.events import NO_PREVIOUS, CustodyEvent, Mass, MassSource, Step, sign_event
from custody.events import event_hash as hash_of
from custody.keys import KeyRole, SigningKey
from custody.manifests import TransferManifest
from custody.sightings import PlateRead
from custody.tracks import GpsFix
from routes.checkpoints import coverage
from routes.checks import CAPTURE_RATE_DAY, CAPTURE_RATE_NIGHT
from routes.corridor import plan_trip
from routes.model import DeclaredTrip, Place
from routes.synthetic import drive, fastest_path

if TYPE_CHECKING:
    from custody.parties import OperatingLicence
    from province.world import Site, Truck, World
    from routes.model import Fix
    from routes.network import RoadNetwork

__all__ = ["DEMO_START", "INJECTED_RULES", "Month", "Shares", "Truth", "demo_month", "simulate"]

CHINA = timezone(timedelta(hours=8))
_DAY_HOURS = range(6, 18)
#: The rules the simulation injects violations of (route rules by their finding names).
INJECTED_RULES = (
    "missing-handoff",
    "vanished",
    "conflicting-custody",
    "cloned-label",
    "scan-after-end",
    "unlicensed",
    "mass-discrepancy",
    "manifest-mismatch",
    "overdue-storage",
    "mass-balance",
    "off-route",
    "dwell",
)
#: Route findings that an injected detour or stop explains on the same trip.
ROUTE_SIDE_EFFECTS = frozenset(
    {
        "unexplained-time",
        "missing-checkpoint",
        "off-route-sighting",
        "gps-gap",
        "impossible-travel",
        "off-route",
        "dwell",
    }
)
_DETOUR_MIN_M, _DETOUR_MAX_M = 800.0, 3000.0  # the via junction's distance from the corridor
_WATER_NEAR_M = 120.0
_DWELL_S = 45 * 60


@dataclass(frozen=True, slots=True)
class Truth:
    """One injected violation: the rule that should fire and the subject it should name."""

    rule: str
    key: str  # the alert subject (containers, manifests, parties) or the manifest (route rules)
    note: str


@dataclass(frozen=True, slots=True)
class Shares:
    """How much of each violation to inject: a share of what could carry it, at least ``least``."""

    drums: float = 0.02  # of shipped drums, for each drum-level violation
    trips: float = 0.04  # of trips, for each trip-level violation
    least: int = 3


@dataclass
class _Spec:
    """An event to sign once every event of the month is planned."""

    at: datetime
    step: Step
    containers: tuple[str, ...]
    device: str
    fields: dict[str, Any] = field(default_factory=dict)
    own_prev: bool = False  # claims what its device last saw (an offline device: forks)
    drop: bool = False


@dataclass
class _Drum:
    ident: str
    generator: str
    waste: str
    declared_g: int
    commissioned: datetime
    new: NewContainer
    shipped: bool = False
    keep: bool = False  # never shipped (old stock)


@dataclass
class _Trip:
    manifest: TransferManifest
    truck: Truck
    drums: list[_Drum]
    generator: str
    disposer: str
    pickup: datetime
    nodes: list[int]
    loads: list[_Spec] = field(default_factory=list)
    depart: _Spec | None = None
    arrive: _Spec | None = None
    receipts: dict[str, _Spec] = field(default_factory=dict)
    destroys: dict[str, _Spec] = field(default_factory=dict)
    fixes: list[Fix] = field(default_factory=list)
    stop: tuple[int, float] | None = None


@dataclass
class Month:
    """Everything the month produced, ready to feed, and the truth to grade the checker on."""

    world: World
    devices: dict[str, SigningKey]  # device name -> its key
    device_kinds: dict[str, str]
    containers: list[tuple[datetime, NewContainer, str]]  # registered at, facts, expected id
    manifests: list[TransferManifest]
    events: list[tuple[datetime, bytes]]  # (received at, signed bytes), in submission order
    reads: list[PlateRead]
    fixes: list[GpsFix]
    truth: list[Truth]
    as_of: datetime
    trips: int = 0

    @property
    def licences(self) -> list[OperatingLicence]:
        """The licences as registered (the capacity injection lowers one)."""
        return self.world.licences


def _key(seed: int, name: str, owner: str, start: datetime) -> SigningKey:
    secret = hashlib.sha256(f"custody-demo/{seed}/{name}".encode()).digest()
    return SigningKey.from_private(
        Ed25519PrivateKey.from_private_bytes(secret),
        name=name,
        owner=owner,
        role=KeyRole.DEVICE,
        valid_from=start - timedelta(days=30),
        valid_until=start + timedelta(days=335),
    )


class _Planner:  # one month's plan; methods in the order they run
    def __init__(self, world: World, seed: int, shares: Shares) -> None:
        self.world = world
        self.seed = seed
        self.shares = shares
        self.rng = random.Random(seed * 7919 + 1)  # noqa: S311  # reproducible, not secret
        self.end = world.start + timedelta(days=world.days)
        self.specs: list[_Spec] = []
        self.drums: list[_Drum] = []
        self.trips: list[_Trip] = []
        self.truth: list[Truth] = []
        self.touched: set[str] = set()  # drums and trips already carrying a violation
        self.sequence: dict[tuple[str, str, date], int] = defaultdict(int)
        self.devices: dict[str, SigningKey] = {}
        self.kinds: dict[str, str] = {}
        self.device_of: dict[str, str] = {}  # party or plate -> device name
        self.manifest_serial = 0
        self.reads: list[PlateRead] = []
        self._core_nodes: set[int] = set()
        self._enrol()

    # -- cast ------------------------------------------------------------------------------

    def _enrol(self) -> None:
        w = self.world
        for party in [*w.generators, *w.disposers]:
            kind = "handheld" if party in w.generators else "weighbridge"
            self._device(party.credit_code, party.credit_code, kind)
        for truck in w.trucks:
            self._device(truck.plate, truck.operator, "phone")

    def _device(self, who: str, owner: str, kind: str) -> None:
        n = 1 + sum(1 for name in self.devices if name.startswith(f"{owner}/device/"))
        name = f"{owner}/device/{n}"
        self.devices[name] = _key(self.seed, name, owner, self.world.start)
        self.kinds[name] = kind
        self.device_of[who] = name

    # -- the honest month --------------------------------------------------------------------

    def fill(self) -> None:
        """Every generator fills 1-4 drums a working day (one generator, the skimmer, 4)."""
        w, rng = self.world, self.rng
        self.rates = {g.credit_code: rng.randint(1, 3) for g in w.generators}
        self.skimmer = max(self.rates, key=lambda g: (self.rates[g], g))
        self.rates[self.skimmer] = 4
        filled = []
        for day in range(w.days):
            for g in w.generators:
                code = g.credit_code
                for _ in range(self.rates[code]):
                    when = w.start + timedelta(days=day, hours=9, minutes=rng.randrange(8 * 60))
                    filled.append((when, code, rng.choice(w.wastes[code])))
        # Numbered in the order they are registered, as the registry numbers them.
        for when, code, waste in sorted(filled):
            self._drum(code, waste, when, when.astimezone(CHINA).date())
        # Old stock found at a stock-take on the first days: some of it older than a year.
        for g in w.generators:
            code = g.credit_code
            when = w.start + timedelta(days=rng.randrange(3), hours=10)
            drum = self._drum(code, w.wastes[code][0], when, (when - timedelta(days=300)).date())
            drum.keep = True

    def _drum(self, generator: str, waste: str, when: datetime, made: date) -> _Drum:
        self.sequence[generator, waste, made] += 1
        ident = DigitalId(generator, waste, made, self.sequence[generator, waste, made]).text
        declared = round(self.rng.uniform(150, 400), 1)
        new = NewContainer(
            generator,
            waste,
            made,
            PhysicalForm.LIQUID,
            ContainerType.DRUM,
            208.0,
            round(declared * 1000),
            seal_no=f"FQ{len(self.drums) + 1:06d}",
        )
        drum = _Drum(ident, generator, waste, new.declared_net_mass_g, when, new)
        self.drums.append(drum)
        site = self.world.sites[generator]
        self.specs.append(
            _Spec(
                when,
                Step.COMMISSIONING,
                (ident,),
                self.device_of[generator],
                {"location": (site.lat, site.lon)},
            )
        )
        return drum

    def ship(self) -> None:
        """Every generator ships its waiting drums of one waste every 3-6 days."""
        w, rng = self.world, self.rng
        busy: dict[str, datetime] = {t.plate: w.start for t in w.trucks}
        carriers = [t.credit_code for t in w.transporters if t.credit_code != w.lapsed_carrier]
        lapsed_left = max(self.shares.least - 1, 2)
        waiting: dict[str, list[_Drum]] = defaultdict(list)
        drums = iter(sorted(self.drums, key=lambda d: d.commissioned))
        pending = next(drums, None)
        every = {g.credit_code: rng.randint(3, 6) for g in w.generators}
        offset = {code: rng.randrange(days) for code, days in every.items()}
        for day in range(1, w.days):
            for g in w.generators:
                code = g.credit_code
                pickup = w.start + timedelta(days=day, hours=9, minutes=rng.randrange(6 * 60))
                while pending is not None and pending.commissioned < pickup - timedelta(hours=2):
                    if not pending.keep:
                        waiting[pending.generator].append(pending)
                    pending = next(drums, None)
                ready = [d for d in waiting[code] if d.commissioned < pickup - timedelta(hours=2)]
                if (day + offset[code]) % every[code] or not ready:
                    continue
                by_waste: dict[str, list[_Drum]] = defaultdict(list)
                for drum in ready:
                    by_waste[drum.waste].append(drum)
                waste = max(by_waste, key=lambda k: (len(by_waste[k]), k))
                load = by_waste[waste][:24]
                carrier = w.lapsed_carrier if lapsed_left and day % 7 == 3 else rng.choice(carriers)
                if carrier == w.lapsed_carrier:
                    lapsed_left -= 1
                trucks = sorted(w.trucks_of(carrier), key=lambda t: (busy[t.plate], t.plate))
                truck = trucks[0]
                pickup = max(pickup, busy[truck.plate] + timedelta(minutes=30))
                if pickup > self.end - timedelta(hours=8):
                    continue
                disposer = self._disposer(waste)
                trip = self._trip(code, disposer, truck, load, pickup)
                busy[truck.plate] = trip.arrive.at + timedelta(hours=1) if trip.arrive else pickup
                waiting[code] = [d for d in waiting[code] if d not in load]
        if not any(t.truck.operator == w.lapsed_carrier for t in self.trips):
            raise AssertionError("the lapsed carrier took no trip: the month is too short")

    def _disposer(self, waste: str) -> str:
        category = f"HW{waste[-2:]}"
        able = [
            d.credit_code
            for d in self.world.disposers
            if category in self.world.licence_of(d.credit_code).scope
        ]
        return self.rng.choice(able)

    def _trip(
        self, generator: str, disposer: str, truck: Truck, load: list[_Drum], pickup: datetime
    ) -> _Trip:
        w = self.world
        origin, destination = w.sites[generator], w.sites[disposer]
        nodes = fastest_path(w.network, origin.node, destination.node)
        self.manifest_serial += 1
        number = f"{pickup.astimezone(CHINA):%Y}5101{self.manifest_serial:06d}"
        manifest = TransferManifest(
            number=number,
            generator=generator,
            transporter=truck.operator,
            receiver=disposer,
            vehicles=(truck.plate,),
            waste_codes=(load[0].waste,),
            containers=tuple(d.ident for d in load),
            declared_mass_g=sum(d.declared_g for d in load),
            created_at=pickup - timedelta(hours=20),
            origin=origin.point,
            destination=destination.point,
            depart_after=pickup - timedelta(hours=1),
            arrive_before=pickup + timedelta(hours=4),
        )
        trip = _Trip(manifest, truck, list(load), generator, disposer, pickup, nodes)
        for drum in load:
            drum.shipped = True
        self.trips.append(trip)
        self._drive(trip)
        return trip

    def _drive(self, trip: _Trip) -> None:
        """The trip's events, fixes and gate reads (again after an injection changes it)."""
        for spec in [
            *trip.loads,
            trip.depart,
            trip.arrive,
            *trip.receipts.values(),
            *trip.destroys.values(),
        ]:
            if spec is not None:
                spec.drop = True
        w, rng = self.world, self.rng
        truck_device = self.device_of[trip.truck.plate]
        origin, destination = w.sites[trip.generator], w.sites[trip.disposer]
        here = {
            "location": (origin.lat, origin.lon),
            "vehicle": trip.truck.plate,
            "manifest": trip.manifest.number,
        }
        trip.loads = []
        at = trip.pickup
        for drum in trip.drums:
            trip.loads.append(
                self._spec(
                    at,
                    Step.LOADING,
                    (drum.ident,),
                    truck_device,
                    here | {"counterparty": trip.generator},
                )
            )
            at += timedelta(seconds=40)
        leave = at + timedelta(minutes=5)
        everything = tuple(d.ident for d in trip.drums)
        trip.depart = self._spec(leave, Step.DEPARTING, everything, truck_device, dict(here))
        seed = int.from_bytes(hashlib.sha256(trip.manifest.number.encode()).digest()[:4], "big")
        stops = [trip.stop] if trip.stop else []
        trip.fixes = drive(
            w.network, trip.nodes, leave, interval_s=30.0, sigma_m=8.0, seed=seed, stops=stops
        )
        arrived = trip.fixes[-1].at
        there = here | {"location": (destination.lat, destination.lon)}
        trip.arrive = self._spec(
            arrived + timedelta(minutes=1), Step.ARRIVING, everything, truck_device, there
        )
        gate = self.device_of[trip.disposer]
        at = arrived + timedelta(minutes=10)
        trip.receipts, trip.destroys = {}, {}
        for drum in trip.drums:
            noise = 1 + rng.gauss(0, 0.005)
            mass = Mass(round(drum.declared_g * noise), MassSource.WEIGHBRIDGE)
            fields = {
                "location": there["location"],
                "counterparty": trip.truck.operator,
                "manifest": trip.manifest.number,
                "mass": mass,
            }
            trip.receipts[drum.ident] = self._spec(at, Step.RECEIVING, (drum.ident,), gate, fields)
            at += timedelta(seconds=40)
            end = at + timedelta(days=rng.uniform(1, 6))
            if end < self.end:
                trip.destroys[drum.ident] = self._spec(
                    end, Step.DESTROYING, (drum.ident,), gate, {"location": there["location"]}
                )

    def _spec(  # noqa: PLR0913  # an event's parts
        self,
        at: datetime,
        step: Step,
        containers: tuple[str, ...],
        device: str,
        fields: dict[str, Any],
        *,
        own_prev: bool = False,
    ) -> _Spec:
        spec = _Spec(
            at.replace(microsecond=at.microsecond // 1000 * 1000),
            step,
            containers,
            device,
            fields,
            own_prev,
        )
        self.specs.append(spec)
        return spec

    # -- injections ----------------------------------------------------------------------------

    def _count(self, eligible: int, share: float) -> int:
        return min(eligible, max(self.shares.least, round(eligible * share)))

    def _pick_drums(self, share: float, ok: Any = None) -> list[tuple[_Trip, _Drum]]:  # noqa: ANN401
        pool = [
            (t, d)
            for t in self.trips
            for d in t.drums
            if d.ident not in self.touched
            and t.manifest.number not in self.touched
            and t.generator != self.skimmer
            and (ok is None or ok(t, d))
        ]
        picked = self.rng.sample(pool, self._count(len(pool), share))
        self.touched.update(d.ident for _, d in picked)
        return picked

    def _pick_trips(self, share: float, ok: Any = None) -> list[_Trip]:  # noqa: ANN401
        pool = [
            t
            for t in self.trips
            if t.manifest.number not in self.touched
            and not self.touched.intersection(d.ident for d in t.drums)
            and (ok is None or ok(t))
        ]
        picked = self.rng.sample(pool, self._count(len(pool), share))
        self.touched.update(t.manifest.number for t in picked)
        return picked

    def inject(self) -> None:
        """A known share of every violation, each with its truth."""
        self._inject_custody()
        self._inject_papers()
        self._unlicensed()
        self._inject_routes()

    def _inject_custody(self) -> None:
        share = self.shares
        late = self.end - timedelta(days=2)
        # A disposer receives a drum that no transporter loaded.
        for trip, drum in self._pick_drums(share.drums):
            self._remove_from_moves(trip, drum)
            self._true("missing-handoff", drum.ident, "no loading or moving scan; received")
        # Loaded and driven off, never delivered.
        for trip, drum in self._pick_drums(share.drums, lambda t, _: t.pickup < late):
            self._remove_from(trip.arrive, drum)
            for gone in (trip.receipts.pop(drum.ident), trip.destroys.pop(drum.ident, None)):
                if gone is not None:
                    gone.drop = True
            self._true("vanished", drum.ident, "loaded and departed, never received")
        # The generator's handheld, offline, scans a drum the truck already loaded.
        for trip, drum in self._pick_drums(share.drums):
            load = next(s for s in trip.loads if s.containers == (drum.ident,))
            site = self.world.sites[trip.generator]
            self._spec(
                load.at + timedelta(minutes=2),
                Step.STORING,
                (drum.ident,),
                self.device_of[trip.generator],
                {"location": (site.lat, site.lon)},
                own_prev=True,
            )
            self._true("conflicting-custody", drum.ident, "generator stores a loaded drum")
        # A copy of the label seen on another truck at a far gate minutes after the scan.
        for trip, drum in self._pick_drums(share.drums, self._clonable):
            self._clone(trip, drum)
            self._true("cloned-label", drum.ident, "seen at a far gate minutes after loading")
        # The plant scans a drum again after destroying it (its label put on another drum).
        for trip, drum in self._pick_drums(share.drums, lambda t, d: d.ident in t.destroys):
            end = trip.destroys[drum.ident]
            after = min(
                end.at + timedelta(hours=self.rng.uniform(1, 24)), self.end - timedelta(minutes=5)
            )
            self._spec(after, Step.STORING, (drum.ident,), end.device, dict(end.fields))
            self._true("scan-after-end", drum.ident, "stored after it was destroyed")
        # Received far lighter than declared.
        for trip, drum in self._pick_drums(share.drums):
            spec = trip.receipts[drum.ident]
            loss = self.rng.uniform(0.15, 0.35)
            spec.fields["mass"] = Mass(round(drum.declared_g * (1 - loss)), MassSource.WEIGHBRIDGE)
            self._true("mass-discrepancy", drum.ident, f"received {loss:.0%} light")

    def _inject_papers(self) -> None:
        share = self.shares
        # The manifest declares another waste than the drums hold.
        for trip in self._pick_trips(share.trips):
            code = trip.manifest.waste_codes[0]
            other = next(
                c
                for cat, codes in sorted(_wastes().items())
                for c in codes
                if cat != f"HW{code[-2:]}"
            )
            trip.manifest = _replace(trip.manifest, waste_codes=(other,))
            self._true("manifest-mismatch", trip.manifest.number, f"declares {other}, holds {code}")
        # Drums older than a year, labelled at a stock-take and never shipped.
        for g in self.rng.sample(
            self.world.generators, min(len(self.world.generators), max(share.least, 2))
        ):
            code = g.credit_code
            when = self.world.start + timedelta(days=self.rng.randrange(4), hours=11)
            drum = self._drum(
                code, self.world.wastes[code][0], when, (when - timedelta(days=400)).date()
            )
            drum.keep = True
            self._true("overdue-storage", drum.ident, "generated 400 days before the check")
        # The skimmer's drums all arrive 5-7 % light, each within the tolerance.
        for trip in self.trips:
            if trip.generator != self.skimmer:
                continue
            for ident, spec in trip.receipts.items():
                declared = next(d.declared_g for d in trip.drums if d.ident == ident)
                cut = min(declared * self.rng.uniform(0.05, 0.07), 15_000)
                spec.fields["mass"] = Mass(round(declared - cut), MassSource.WEIGHBRIDGE)
        self._true("mass-balance", self.skimmer, "every drum 5-7 % (at most 15 kg) light")

    def _inject_routes(self) -> None:
        share = self.shares
        # Off the declared route, and a long stop by the water.
        for trip in self._pick_trips(share.trips, lambda t: self._detour(t) is not None):
            trip.nodes = self._detour(trip) or trip.nodes
            self._drive(trip)
            self._true("off-route", trip.manifest.number, "detour away from the corridor")
        for trip in self._pick_trips(share.trips, lambda t: self._waterside(t) is not None):
            trip.stop = (self._waterside(trip) or 0, float(_DWELL_S))
            self._drive(trip)
            self._true("dwell", trip.manifest.number, "45 minutes stopped by the water")

    def _true(self, rule: str, key: str, note: str) -> None:
        self.truth.append(Truth(rule, key, note))

    def _remove_from_moves(self, trip: _Trip, drum: _Drum) -> None:
        for spec in trip.loads:
            if spec.containers == (drum.ident,):
                spec.drop = True
        self._remove_from(trip.depart, drum)
        self._remove_from(trip.arrive, drum)

    @staticmethod
    def _remove_from(spec: _Spec | None, drum: _Drum) -> None:
        if spec is not None:  # an event with no container left is not signed
            spec.containers = tuple(c for c in spec.containers if c != drum.ident)

    def _far_gate(self, site: Site) -> tuple[float, Any]:
        gates = [
            (_km(site.lat, site.lon, c.location.lat, c.location.lon), c)
            for c in self.world.checkpoints
        ]
        return max(gates, key=lambda g: (g[0], g[1].checkpoint_id))

    def _clonable(self, trip: _Trip, drum: _Drum) -> bool:
        return self._far_gate(self.world.sites[trip.generator])[0] > 2.0 and (
            trip.pickup - drum.commissioned > timedelta(minutes=30)
        )

    def _clone(self, trip: _Trip, drum: _Drum) -> None:
        km, gate = self._far_gate(self.world.sites[trip.generator])
        # Seen this far away sooner than a truck at 140 km/h could get there.
        gap = timedelta(hours=km / 140.0)
        other = next(t for t in self.world.trucks if t.operator != trip.truck.operator)
        fields = {
            "location": (gate.location.lat, gate.location.lon),
            "read_point": gate.checkpoint_id,
            "vehicle": other.plate,
        }
        self._spec(
            drum.commissioned + gap,
            Step.PASSING,
            (drum.ident,),
            self.device_of[other.plate],
            fields,
        )

    def _unlicensed(self) -> None:
        w = self.world
        lapsed = [t for t in self.trips if t.truck.operator == w.lapsed_carrier]
        self.touched.update(t.manifest.number for t in lapsed)
        self._true("unlicensed", f"{w.lapsed_carrier}/no-permit", f"{len(lapsed)} trips")
        # One trip to a disposer whose licence leaves the waste's category out.
        candidates = [
            t
            for t in self.trips
            if t.manifest.number not in self.touched
            and not self.touched.intersection(d.ident for d in t.drums)
        ]
        for trip in candidates:
            waste = trip.drums[0].waste
            outside = [
                d.credit_code
                for d in w.disposers
                if f"HW{waste[-2:]}" not in w.licence_of(d.credit_code).scope
            ]
            if not outside:
                continue
            self.touched.add(trip.manifest.number)
            self._reroute(trip, outside[0])
            self._true("unlicensed", f"{outside[0]}/scope:{waste}", trip.manifest.number)
            break
        # One disposer licensed for less than it receives this month.
        received: dict[str, int] = defaultdict(int)
        for trip in self.trips:
            received[trip.disposer] += sum(s.fields["mass"].grams for s in trip.receipts.values())
        small = min(received, key=lambda d: (received[d], d))
        lic = w.licence_of(small)
        capacity = math.floor(received[small] * 0.6 / 100_000) / 10  # tonnes, rounded down
        w.licences[w.licences.index(lic)] = _replace(lic, capacity_t_per_year=max(capacity, 0.1))
        self._true(
            "unlicensed",
            f"{small}/capacity:{w.start.astimezone(CHINA).year}",
            f"licensed {capacity} t, receives {received[small] / 1e6:.1f} t",
        )

    def _reroute(self, trip: _Trip, disposer: str) -> None:
        w = self.world
        trip.disposer = disposer
        trip.nodes = fastest_path(w.network, w.sites[trip.generator].node, w.sites[disposer].node)
        trip.manifest = _replace(
            trip.manifest, receiver=disposer, destination=w.sites[disposer].point
        )
        self._drive(trip)

    def _detour(self, trip: _Trip) -> list[int] | None:
        """A path via a junction well outside the corridor of plausible routes, if any.

        Not every junction far from the fastest road is off the declared route: a road a
        compliant truck might take (within the detour budget) is inside the corridor. So the
        detour is planned against the corridor the route checks will draw.
        """
        network = self.world.network
        origin, destination = trip.manifest.origin, trip.manifest.destination
        if origin is None or destination is None:
            return None
        declared = DeclaredTrip(
            trip.manifest.number,
            trip.truck.plate,
            Place(origin.lon, origin.lat),
            Place(destination.lon, destination.lat),
        )
        corridor = plan_trip(network, declared).corridor
        candidates = sorted(self._core())
        random.Random(trip.manifest.number).shuffle(candidates)  # noqa: S311  # same via each time
        for via in candidates[:400]:
            x, y = network.graph.nodes[via]["x"], network.graph.nodes[via]["y"]
            away = corridor.distance(shapely.Point(x, y))
            if _DETOUR_MIN_M <= away <= _DETOUR_MAX_M:
                first = fastest_path(network, trip.nodes[0], via)
                return first + fastest_path(network, via, trip.nodes[-1])[1:]
        return None

    def _waterside(self, trip: _Trip) -> int | None:
        """Where on the route to stop by the water, away from both ends, if anywhere."""
        network = self.world.network
        nodes = network.graph.nodes
        ends = [trip.nodes[0], trip.nodes[-1]]
        for k, node in enumerate(trip.nodes):
            x, y = nodes[node]["x"], nodes[node]["y"]
            if any(math.hypot(x - nodes[e]["x"], y - nodes[e]["y"]) < 500 for e in ends):
                continue
            if network.nearest_water(x, y, _WATER_NEAR_M) is not None:
                return k
        return None

    def _core(self) -> set[int]:
        if not self._core_nodes:
            graph = self.world.network.graph
            parts: list[set[int]] = list(nx.strongly_connected_components(graph))
            self._core_nodes = max(parts, key=len)
        return self._core_nodes

    # -- gates and signatures -------------------------------------------------------------------

    def gate_reads(self) -> None:
        """Each truck passing a gate is read with the camera's capture rate (GA/T 497-2009)."""
        w = self.world
        watched: dict[tuple[int, int], list[tuple[str, float]]] = defaultdict(list)
        for gate in w.snapped:
            for u, v, offset in coverage(w.network, gate):
                watched[u, v].append((gate.checkpoint_id, offset))
        for trip in self.trips:
            at = trip.depart.at if trip.depart else trip.pickup
            stops = dict([trip.stop]) if trip.stop else {}
            for i, (u, v) in enumerate(zip(trip.nodes, trip.nodes[1:], strict=False)):
                at += timedelta(seconds=stops.get(i, 0.0))
                data = w.network.edge(u, v)
                for gate_id, offset in watched.get((u, v), ()):
                    seen = at + timedelta(seconds=data["free_s"] * offset / data["length_m"])
                    day = seen.astimezone(CHINA).hour in _DAY_HOURS
                    if self.rng.random() < (CAPTURE_RATE_DAY if day else CAPTURE_RATE_NIGHT):
                        self.reads.append(
                            PlateRead(
                                gate_id,
                                trip.truck.plate,
                                seen.replace(microsecond=0),
                                round(self.rng.uniform(0.85, 0.99), 2),
                            )
                        )
                at += timedelta(seconds=data["free_s"])

    def sign(self) -> list[tuple[datetime, bytes]]:
        """Sign every event in time order; each device counts, each drum links to its last."""
        live = sorted(
            (s for s in self.specs if not s.drop and s.containers),
            key=lambda s: (s.at, s.device, s.containers),
        )
        counters: dict[str, int] = defaultdict(int)
        heads: dict[str, bytes] = {}
        seen: dict[tuple[str, str], bytes] = {}  # what each device last saw of each drum
        uploaded: dict[str, datetime] = {}
        out = []
        for spec in live:
            key = self.devices[spec.device]
            counters[spec.device] += 1
            prev = tuple(
                seen.get((spec.device, c), NO_PREVIOUS)
                if spec.own_prev
                else heads.get(c, NO_PREVIOUS)
                for c in spec.containers
            )
            event = CustodyEvent(
                event_id=str(
                    uuid.uuid5(
                        uuid.NAMESPACE_URL,
                        f"custody-demo/{self.seed}/{spec.device}/{counters[spec.device]}",
                    )
                ),
                step=spec.step,
                containers=spec.containers,
                party=key.record.owner,
                device=spec.device,
                counter=counters[spec.device],
                event_time=spec.at,
                prev=prev,
                **spec.fields,
            )
            message = sign_event(event, key)
            digest = hash_of(message)
            for c in spec.containers:
                heads[c] = digest
                seen[spec.device, c] = digest
            # Scanners upload within the hour, each device in its own order; the ledger orders
            # by that receive time.
            received = max(
                spec.at + timedelta(minutes=self.rng.uniform(0.5, 50)),
                uploaded.get(spec.device, spec.at),
            )
            uploaded[spec.device] = received
            out.append((received, message))
        out.sort(key=lambda item: item[0])  # stable: a device's events stay in counter order
        return out

    def gps(self) -> list[GpsFix]:
        """Every trip's fixes as the JT/T 808 gateway stores them."""
        fixes = [
            GpsFix(
                trip.truck.terminal,
                trip.truck.plate,
                fix.at,
                fix.lat,
                fix.lon,
                speed_kmh=min(fix.speed_kmh or 0.0, 200.0),
                received_at=fix.at + timedelta(seconds=2),
            )
            for trip in self.trips
            for fix in trip.fixes
        ]
        return sorted(fixes, key=lambda f: (f.received_at, f.terminal))


def _km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0088 * math.asin(math.sqrt(a))


def _wastes() -> dict[str, tuple[str, ...]]:
    from province.world import WASTES  # noqa: PLC0415  # the cast module owns the list

    return WASTES


def _replace(record: Any, **changes: Any) -> Any:  # noqa: ANN401  # any frozen dataclass
    import dataclasses  # noqa: PLC0415

    return dataclasses.replace(record, **changes)


def simulate(world: World, seed: int, shares: Shares | None = None) -> Month:
    """The world's month: honest traffic with a known share of every violation injected."""
    planner = _Planner(world, seed, shares or Shares())
    planner.fill()
    planner.ship()
    planner.inject()
    planner.gate_reads()
    events = planner.sign()
    containers = sorted(
        ((d.commissioned, d.new, d.ident) for d in planner.drums), key=lambda c: (c[0], c[2])
    )
    manifests = sorted((t.manifest for t in planner.trips), key=lambda m: m.number)
    return Month(
        world,
        planner.devices,
        planner.kinds,
        containers,
        manifests,
        events,
        sorted(planner.reads, key=lambda r: (r.seen_at, r.checkpoint, r.plate)),
        planner.gps(),
        planner.truth,
        planner.end,
        len(planner.trips),
    )


#: The demo month: October 2026 in China time (fixed, so a seed always gives the same month).
DEMO_START = datetime(2026, 10, 1, tzinfo=CHINA)


def demo_month(  # noqa: PLR0913  # the province's size, by keyword
    network: RoadNetwork,
    seed: int = 1,
    *,
    days: int = 30,
    generators: int = 12,
    start: datetime = DEMO_START,
    shares: Shares | None = None,
) -> Month:
    """The demo province and its month for a seed."""
    from province.world import build_world  # noqa: PLC0415  # the cast is built here only

    world = build_world(network, seed, start, days=days, generators=generators)
    return simulate(world, seed, shares)

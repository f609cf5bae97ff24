"""Checking a province-month end to end: events per second next to the ledger audit, and memory.

Builds once, and caches in bench/.cache/ (the file named by the parameters and FORMAT), a
SQLite database of one month in a province: 500 generators, 40 transporters with 5 trucks each,
10 disposers and 24 road checkpoints, registered with their permits, licences and vehicles;
--containers containers, each living a whole life of --events-per-container single-container
events signed by its parties' enrolled device keys (commissioning, packing and storing at the
generator; loading, departing, passing checkpoints and arriving on a truck; receiving on the
disposer's weighbridge, destroying); a transfer manifest per trip; and 1 % of the containers
given a violation (a missing loading, a receipt 30 % light, a scan after destruction, a second
loading by another transporter). Events are signed on every core and appended in time order
through ``Ledger.append`` in batches of --batch. The same parameters build the same ledger.

Then measures, in one run:
  the check end to end, ``load_facts`` + ``checker.check``, in a fresh process (so building
  does not pollute its memory peak, read there as VmHWM): read and decode, histories, the rest
  of the load, the rules (then each rule timed alone), and the alerts by rule;
  the ledger audit on the same database (``custody.audit``: every leaf, root and signature, on
  all cores), of the whole ledger or of its first --audit-entries;
  the check's rate over the audit's, and peak memory of every process involved.
The check and the audit are taken in turn, in rounds; rounds are repeated up to --repeat while
one takes under CHEAP_S (so only small ledgers get a best of three; the output says which).
The load's split comes from timing wrappers put around ``load_records`` and ``histories`` in
``storage.facts_loader`` for the run, so the parts add up to the run measured.

    .venv/bin/python bench/bench_checker.py [--containers 100000] [--events-per-container 10]
        [--repeat 3] [--workers 1] [--audit-entries 0] [--rebuild]
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import math
import multiprocessing
import os
import random
import resource
import time
import uuid
from collections import Counter, defaultdict
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import insert, text
from sqlmodel import Session

import storage.facts_loader
from custody.audit import audit
from custody.checker import RULES, check
from custody.containers import Container, Containers, ContainerType, NewContainer, PhysicalForm
from custody.devices import Device, DeviceKind
from custody.digital_id import DigitalId
from custody.events import (
    NO_PREVIOUS,
    CustodyEvent,
    Mass,
    MassSource,
    SignedEvent,
    Step,
    sign_event,
)
from custody.events import event_hash as hash_of
from custody.keys import SYSTEM_OWNER, KeyRole, SigningKey
from custody.ledger import Ledger
from custody.manifests import TransferManifest
from custody.parties import (
    Checkpoint,
    CheckpointKind,
    DisposalMethod,
    OperatingLicence,
    Party,
    PartyRole,
    TransportPermit,
    Vehicle,
    WGS84Point,
)
from custody.registry import Registry
from custody.trust import TrustBundle
from province.world import make_credit_code
from storage.container_store import SqlContainerStore
from storage.device_store import SqlDeviceStore
from storage.engine import make_engine
from storage.facts_loader import load_facts
from storage.key_store import SqlKeyStore
from storage.ledger_store import SqlLedgerStore
from storage.migrate import upgrade
from storage.registry_store import SqlRegistryStore
from storage.tables import ContainerRow, ManifestRow, metadata

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence
    from multiprocessing.connection import Connection
    from types import ModuleType

    from sqlalchemy.engine import Engine

    from custody.ports import LedgerState

#: Bump when the generated data changes: the cached database is named by it.
FORMAT = 1
CACHE = Path(__file__).resolve().parent / ".cache"
CHINA = timezone(timedelta(hours=8))
START = datetime(2026, 3, 1, tzinfo=CHINA)
END = START + timedelta(days=31)  # the check's as_of: every container has ended by then
LAST_PICKUP_DAY = 24  # trips leave on days 1..24, so every drum is destroyed in the month
ORIGIN = "bench.custody.test/province-month"
GENERATORS, TRANSPORTERS, TRUCKS_EACH, DISPOSERS, CHECKPOINTS = 500, 40, 5, 10, 24
FIXED_STEPS = 8  # the life's steps besides passing checkpoints
VIOLATIONS = ("missing-loading", "light-receipt", "scan-after-destruction", "second-loading")
VIOLATION_SHARE = 0.01
WASTES = ("900-041-49", "900-046-49", "900-249-08", "900-200-08", "900-252-12", "772-002-18")
BOX = (30.45, 30.95, 103.75, 104.35)  # latitude and longitude ranges: greater Chengdu
TRUCK_KMH, DETOUR = 45.0, 1.3  # honest trucks: road distance is 1.3 x the straight line
CHEAP_S = 30.0  # a round (check, audit) shorter than this is repeated, up to --repeat
MB = 1024  # ru_maxrss is in KiB on Linux


def _ms(when: datetime) -> datetime:
    """To the millisecond, as events store their times (so sorting here matches the log)."""
    return when.replace(microsecond=when.microsecond // 1000 * 1000)


def _key(seed: int, name: str, owner: str, role: KeyRole) -> SigningKey:
    secret = hashlib.sha256(f"bench-checker/{seed}/{name}".encode()).digest()
    return SigningKey.from_private(
        Ed25519PrivateKey.from_private_bytes(secret),
        name=name,
        owner=owner,
        role=role,
        valid_from=START - timedelta(days=30),
        valid_until=START + timedelta(days=335),
    )


def log_key(seed: int) -> SigningKey:
    return _key(seed, f"{SYSTEM_OWNER}/log/1", SYSTEM_OWNER, KeyRole.LOG)


def root_key(seed: int) -> SigningKey:
    return _key(seed, f"{SYSTEM_OWNER}/root", SYSTEM_OWNER, KeyRole.ROOT)


# --- the cast -------------------------------------------------------------------------------------


@dataclass
class Cast:
    """Who is in the province, where, and with which devices (index = a Spec's device)."""

    generators: list[Party] = field(default_factory=list)
    transporters: list[Party] = field(default_factory=list)
    disposers: list[Party] = field(default_factory=list)
    sites: dict[str, tuple[float, float]] = field(default_factory=dict)
    wastes: dict[str, tuple[str, ...]] = field(default_factory=dict)
    trucks: dict[str, list[str]] = field(default_factory=dict)  # transporter -> plates
    permits: list[TransportPermit] = field(default_factory=list)
    licences: list[OperatingLicence] = field(default_factory=list)
    vehicles: list[Vehicle] = field(default_factory=list)
    checkpoints: list[Checkpoint] = field(default_factory=list)
    devices: list[tuple[str, str, DeviceKind]] = field(default_factory=list)
    handheld: dict[str, int] = field(default_factory=dict)  # generator or disposer -> device
    weighbridge: dict[str, int] = field(default_factory=dict)  # disposer -> device
    phone: dict[str, int] = field(default_factory=dict)  # plate -> device

    def device(self, owner: str, kind: DeviceKind) -> int:
        n = 1 + sum(1 for name, _, _ in self.devices if name.startswith(f"{owner}/device/"))
        self.devices.append((f"{owner}/device/{n}", owner, kind))
        return len(self.devices) - 1


def make_cast(seed: int) -> Cast:
    rng = random.Random(f"cast/{seed}")
    cast, codes, plates = Cast(), set[str](), set[str]()

    def company() -> str:
        while (code := make_credit_code(rng)) in codes:
            pass
        codes.add(code)
        return code

    def place() -> tuple[float, float]:
        return round(rng.uniform(*BOX[:2]), 6), round(rng.uniform(*BOX[2:]), 6)

    today = START.date()
    for i in range(GENERATORS):
        code = company()
        cast.generators.append(
            Party(code, f"成都产废单位{i + 1}号厂", frozenset({PartyRole.GENERATOR}))
        )
        cast.sites[code] = place()
        cast.wastes[code] = tuple(rng.sample(WASTES, rng.choice((1, 2))))
        cast.handheld[code] = cast.device(code, DeviceKind.HANDHELD)
    for i in range(TRANSPORTERS):
        code = company()
        cast.transporters.append(
            Party(code, f"危险货物运输公司{i + 1}", frozenset({PartyRole.TRANSPORTER}))
        )
        cast.permits.append(
            TransportPermit(
                f"川交运管许可危字{510100 + i}号",
                code,
                today - timedelta(days=400),
                today + timedelta(days=900),
            )
        )
        cast.trucks[code] = []
        for _ in range(TRUCKS_EACH):
            while (plate := f"川A{rng.randrange(10**5):05d}") in plates:
                pass
            plates.add(plate)
            cast.trucks[code].append(plate)
            cast.vehicles.append(Vehicle(plate, code))
            cast.phone[plate] = cast.device(code, DeviceKind.PHONE)
    for i in range(DISPOSERS):
        code = company()
        cast.disposers.append(Party(code, f"环保处置中心{i + 1}", frozenset({PartyRole.DISPOSER})))
        cast.sites[code] = place()
        cast.licences.append(
            OperatingLicence(
                f"SC{510100 + i:06d}",
                code,
                frozenset({"HW49", "HW08", "HW12", "HW18"}),
                frozenset({DisposalMethod.INCINERATION}),
                1_000_000.0,
                today - timedelta(days=700),
                today + timedelta(days=1000),
            )
        )
        cast.weighbridge[code] = cast.device(code, DeviceKind.WEIGHBRIDGE)
        cast.handheld[code] = cast.device(code, DeviceKind.HANDHELD)
    for n in range(1, CHECKPOINTS + 1):
        lat, lon = place()
        cast.checkpoints.append(
            Checkpoint(
                f"SC-ANPR-{n:02d}",
                f"绕城高速卡口{n}",
                CheckpointKind.ANPR_GATE,
                WGS84Point(lat, lon),
            )
        )
    return cast


# --- the month's plan -----------------------------------------------------------------------------


class Spec(NamedTuple):
    """One event to sign: when, what, by which device, after which earlier event of its life."""

    at: datetime
    step: Step
    device: int
    link: int  # index in the container's life of the event named as its previous; -1: none
    fields: dict[str, Any]  # CustodyEvent's optional fields (shared between events when equal)


@dataclass
class Plan:
    """Every container's life, the registry rows for them, and what was injected."""

    ids: list[str] = field(default_factory=list)
    lives: list[list[Spec]] = field(default_factory=list)
    containers: list[Container] = field(default_factory=list)
    manifests: list[TransferManifest] = field(default_factory=list)
    injected: Counter[str] = field(default_factory=Counter)

    @property
    def events(self) -> int:
        return sum(len(life) for life in self.lives)


def _km(a: tuple[float, float], b: tuple[float, float]) -> float:
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + (
        math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * 6371.0088 * math.asin(min(1.0, math.sqrt(h)))


def _leg(a: tuple[float, float], b: tuple[float, float]) -> timedelta:
    """An honest truck's time between two points (slower than any cloned-label alarm)."""
    return timedelta(hours=_km(a, b) * DETOUR / TRUCK_KMH, minutes=3)


@dataclass
class _Trip:
    """One truck's trip from a generator to a disposer, and its events' shared fields."""

    generator: str
    transporter: str
    plate: str
    disposer: str
    number: str
    pickup: datetime
    size: int
    leave: datetime
    gates: list[tuple[datetime, dict[str, Any]]]
    arrive: datetime
    at_site: dict[str, Any]
    load: dict[str, Any]
    depart: dict[str, Any]
    arrived: dict[str, Any]
    at_plant: dict[str, Any]


class _Planner:
    def __init__(self, cast: Cast, seed: int, passes: int) -> None:
        self.cast = cast
        self.rng = random.Random(f"plan/{seed}")
        self.passes = passes
        self.plan = Plan()
        self.sequence: defaultdict[tuple[str, str, date], int] = defaultdict(int)
        self.kinds: dict[int, str] = {}

    def run(self, containers: int) -> Plan:
        rng, cast = self.rng, self.cast
        picked = rng.sample(range(containers), round(containers * VIOLATION_SHARE))
        self.kinds = {c: VIOLATIONS[i % len(VIOLATIONS)] for i, c in enumerate(picked)}
        count = len(cast.generators)
        for g, generator in enumerate(cast.generators):
            left = containers // count + (1 if g < containers % count else 0)
            sizes = []
            while left:
                sizes.append(min(rng.randint(4, 12), left))
                left -= sizes[-1]
            for j, size in enumerate(sizes):
                day = 1 + j * LAST_PICKUP_DAY // len(sizes)
                pickup = START + timedelta(days=day, hours=rng.uniform(8, 16))
                self._trip(generator.credit_code, _ms(pickup), size)
        return self.plan

    def _trip(self, generator: str, pickup: datetime, size: int) -> None:
        rng, cast = self.rng, self.cast
        transporter = rng.choice(cast.transporters).credit_code
        plate = rng.choice(cast.trucks[transporter])
        disposer = rng.choice(cast.disposers).credit_code
        number = f"20265101{len(self.plan.manifests) + 1:08d}"
        site, plant = cast.sites[generator], cast.sites[disposer]
        leave = pickup + timedelta(seconds=40 * size, minutes=5)
        gates, at, here = [], leave, site
        for gate in rng.sample(cast.checkpoints, self.passes):
            point = (gate.location.lat, gate.location.lon)
            at += _leg(here, point)
            gates.append(
                (at, {"read_point": gate.checkpoint_id, "location": point, "vehicle": plate})
            )
            here = point
        arrive = at + _leg(here, plant)
        on_truck = {"vehicle": plate, "manifest": number}
        trip = _Trip(
            generator,
            transporter,
            plate,
            disposer,
            number,
            pickup,
            size,
            leave,
            gates,
            arrive,
            at_site={"location": site},
            load={"counterparty": generator, "location": site, **on_truck},
            depart={"location": site, **on_truck},
            arrived={"location": plant, **on_truck},
            at_plant={"location": plant},
        )
        waste = rng.choice(cast.wastes[generator])
        made = sorted(_ms(pickup - timedelta(hours=rng.uniform(3, 30))) for _ in range(size))
        ids = [self._container(generator, waste, when) for when in made]
        declared = [c.facts.declared_net_mass_g for c in self.plan.containers[-size:]]
        self.plan.manifests.append(
            TransferManifest(
                number=number,
                generator=generator,
                transporter=transporter,
                receiver=disposer,
                vehicles=(plate,),
                waste_codes=(waste,),
                containers=tuple(ids),
                declared_mass_g=sum(declared),
                created_at=pickup - timedelta(hours=20),
                origin=WGS84Point(*site),
                destination=WGS84Point(*plant),
                depart_after=pickup - timedelta(hours=1),
                arrive_before=pickup + timedelta(hours=12),
            )
        )
        for j, (when, grams) in enumerate(zip(made, declared, strict=True)):
            self._life(trip, j, when, grams)

    def _container(self, generator: str, waste: str, when: datetime) -> str:
        day = when.astimezone(CHINA).date()
        self.sequence[generator, waste, day] += 1
        ident = DigitalId(generator, waste, day, self.sequence[generator, waste, day])
        n = len(self.plan.containers) + 1
        new = NewContainer(
            generator,
            waste,
            day,
            PhysicalForm.LIQUID,
            ContainerType.DRUM,
            208.0,
            self.rng.randint(150_000, 400_000),
            seal_no=f"FQ{n:08d}",
        )
        self.plan.containers.append(Container(ident, "2021", new))
        self.plan.ids.append(ident.text)
        return ident.text

    def _life(self, trip: _Trip, j: int, made: datetime, declared: int) -> None:
        rng, cast = self.rng, self.cast
        kind = self.kinds.get(len(self.plan.lives))
        life: list[Spec] = []

        def add(
            at: datetime, step: Step, device: int, fields: dict[str, Any], link: int | None = None
        ) -> int:
            life.append(
                Spec(_ms(at), step, device, len(life) - 1 if link is None else link, fields)
            )
            return len(life) - 1

        hand, phone = cast.handheld[trip.generator], cast.phone[trip.plate]
        add(made, Step.COMMISSIONING, hand, trip.at_site)
        packed = made + timedelta(minutes=rng.uniform(10, 30))
        add(packed, Step.PACKING, hand, trip.at_site)
        stored = add(
            packed + timedelta(minutes=rng.uniform(5, 20)), Step.STORING, hand, trip.at_site
        )
        loading_at = trip.pickup + timedelta(seconds=40 * j)
        loaded = stored
        if kind != "missing-loading":
            loaded = add(loading_at, Step.LOADING, phone, trip.load)
        if kind == "second-loading":  # another carrier's truck scans the same drum: a fork
            other = rng.choice([t for t in cast.transporters if t.credit_code != trip.transporter])
            plate = rng.choice(cast.trucks[other.credit_code])
            rogue = trip.load | {"vehicle": plate}
            add(loading_at + timedelta(minutes=3), Step.LOADING, cast.phone[plate], rogue, stored)
        add(trip.leave + timedelta(seconds=2 * j), Step.DEPARTING, phone, trip.depart, loaded)
        for at, fields in trip.gates:
            add(at + timedelta(seconds=j), Step.PASSING, phone, fields)
        add(trip.arrive + timedelta(seconds=j), Step.ARRIVING, phone, trip.arrived)
        received = trip.arrive + timedelta(minutes=10, seconds=40 * j)
        share = 0.7 if kind == "light-receipt" else 1 + rng.gauss(0, 0.004)
        weighed = {
            "counterparty": trip.transporter,
            "manifest": trip.number,
            "location": trip.at_plant["location"],
            "mass": Mass(round(declared * share), MassSource.WEIGHBRIDGE),
        }
        add(received, Step.RECEIVING, cast.weighbridge[trip.disposer], weighed)
        plant = cast.handheld[trip.disposer]
        destroyed = received + timedelta(hours=rng.uniform(1, 96))
        end = add(destroyed, Step.DESTROYING, plant, trip.at_plant)
        if kind == "scan-after-destruction":
            later = destroyed + timedelta(hours=rng.uniform(1, 12))
            add(later, Step.STORING, plant, trip.at_plant, end)
        if kind is not None:
            self.plan.injected[kind] += 1
        self.plan.lives.append(life)


# --- signing, on every core -----------------------------------------------------------------------

_signer: dict[str, Any] = {}  # per worker process: the seed and the device keys


def _start_signer(seed: int, devices: list[tuple[str, str]]) -> None:
    _signer["seed"] = seed
    _signer["keys"] = [_key(seed, name, owner, KeyRole.DEVICE) for name, owner in devices]


Job = list[tuple[str, list[Spec], list[tuple[int, int]]]]  # container, life, (rank, counter)s


def _sign_lives(job: Job) -> list[tuple[int, SignedEvent]]:
    """In a worker: sign each life in order, each event naming the one it follows."""
    seed, keys = _signer["seed"], _signer["keys"]
    out: list[tuple[int, SignedEvent]] = []
    for container, life, placed in job:
        hashes: list[bytes] = []
        for spec, (rank, counter) in zip(life, placed, strict=True):
            key: SigningKey = keys[spec.device]
            name = key.record.name
            event = CustodyEvent(
                event_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"bench/{seed}/{name}/{counter}")),
                step=spec.step,
                containers=(container,),
                party=key.record.owner,
                device=name,
                counter=counter,
                event_time=spec.at,
                prev=(hashes[spec.link] if spec.link >= 0 else NO_PREVIOUS,),
                **spec.fields,
            )
            message = sign_event(event, key)
            hashes.append(hash_of(message))
            out.append((rank, SignedEvent(event, message, key.kid)))
    return out


def _ranks(plan: Plan) -> list[list[tuple[int, int]]]:
    """Each event's place in the log (time order) and its device's counter there."""
    order = sorted(
        (spec.at, spec.device, c, k)
        for c, life in enumerate(plan.lives)
        for k, spec in enumerate(life)
    )
    placed: list[list[tuple[int, int]]] = [[(0, 0)] * len(life) for life in plan.lives]
    counters: Counter[int] = Counter()
    for rank, (_, device, c, k) in enumerate(order):
        counters[device] += 1
        placed[c][k] = (rank, counters[device])
    return placed


def sign_all(cast: Cast, plan: Plan, seed: int, workers: int) -> list[SignedEvent]:
    placed = _ranks(plan)
    per_job = 1000
    jobs: list[Job] = [
        list(
            zip(
                plan.ids[i : i + per_job],
                plan.lives[i : i + per_job],
                placed[i : i + per_job],
                strict=True,
            )
        )
        for i in range(0, len(plan.lives), per_job)
    ]
    del placed
    log: list[SignedEvent | None] = [None] * plan.events
    devices = [(name, owner) for name, owner, _ in cast.devices]
    start, done, shown = time.perf_counter(), 0, 0
    with ProcessPoolExecutor(workers, initializer=_start_signer, initargs=(seed, devices)) as pool:
        for signed in pool.map(_sign_lives, jobs):
            for rank, event in signed:
                log[rank] = event
            done += len(signed)
            if done * 10 // len(log) > shown:
                shown = done * 10 // len(log)
                rate = done / (time.perf_counter() - start)
                print(f"  signed {done:>10,} events ({rate:,.0f}/s on {workers} processes)")
    missing = sum(1 for e in log if e is None)
    if missing:
        raise SystemExit(f"{missing} events were not signed")
    return [e for e in log if e is not None]


# --- the database ---------------------------------------------------------------------------------


def _register(engine: Engine, cast: Cast, seed: int) -> TrustBundle:
    """Parties, permits, licences, vehicles, checkpoints through the registry; keys and devices."""
    with Session(engine) as session:
        registry = Registry(SqlRegistryStore(session))
        for party in [*cast.generators, *cast.transporters, *cast.disposers]:
            registry.register_party(party)
        for permit in cast.permits:
            registry.register_permit(permit)
        for licence in cast.licences:
            registry.register_licence(licence)
        for vehicle in cast.vehicles:
            registry.register_vehicle(vehicle)
        for checkpoint in cast.checkpoints:
            registry.register_checkpoint(checkpoint)
        keys, devices = SqlKeyStore(session), SqlDeviceStore(session)
        records = [root_key(seed).record, log_key(seed).record]
        for name, owner, kind in cast.devices:
            record = _key(seed, name, owner, KeyRole.DEVICE).record
            keys.insert_key(record, None)  # the device holds its private half
            devices.insert_device(Device(name, kind, owner, "bench", START - timedelta(days=30)))
            records.append(record)
        keys.insert_key(records[0], None)
        keys.insert_key(records[1], None)
        bundle = TrustBundle.issue(1, records, START - timedelta(days=30))
        keys.insert_bundle(1, bundle.issued_at, bundle.sign(root_key(seed)))
    return bundle


def _bulk_rows(engine: Engine, plan: Plan) -> None:
    """Containers and manifests by executemany, with the columns their stores write."""
    rows = [
        {
            "digital_id": c.digital_id.text,
            "generator": c.digital_id.unit_code,
            "waste_code": c.digital_id.waste_code,
            "day": c.digital_id.day,
            "sequence": c.digital_id.sequence,
            "edition": c.edition,
            "form": c.facts.form.value,
            "container_type": c.facts.container_type.value,
            "capacity_l": c.facts.capacity_l,
            "declared_net_mass_g": c.facts.declared_net_mass_g,
            "seal_no": c.facts.seal_no,
            "waste_name": "",
            "main_components": "",
            "harmful_components": "",
            "precautions": "",
            "contact": "",
            "remarks": "",
            "recorded_at": START,
        }
        for c in plan.containers
    ]
    papers = [
        {
            "number": m.number,
            "generator": m.generator,
            "transporter": m.transporter,
            "receiver": m.receiver,
            "vehicles": list(m.vehicles),
            "waste_codes": list(m.waste_codes),
            "containers": list(m.containers),
            "declared_mass_g": m.declared_mass_g,
            "created_at": m.created_at,
            "depart_after": m.depart_after,
            "arrive_before": m.arrive_before,
            "origin_lat": m.origin.lat if m.origin else None,
            "origin_lon": m.origin.lon if m.origin else None,
            "destination_lat": m.destination.lat if m.destination else None,
            "destination_lon": m.destination.lon if m.destination else None,
            "recorded_at": START,
        }
        for m in plan.manifests
    ]
    with engine.begin() as conn:
        conn.execute(insert(metadata.tables[ContainerRow.__tablename__]), rows)
        conn.execute(insert(metadata.tables[ManifestRow.__tablename__]), papers)


def _register_rate(cast: Cast, plan: Plan, scratch: Path) -> float:
    """``Containers.register`` per second (one commit each), on a scratch database."""
    url = f"sqlite:///{scratch}"
    upgrade(url)
    engine = make_engine(url)
    with Session(engine) as session:
        registry = Registry(SqlRegistryStore(session))
        for party in cast.generators[:5]:
            registry.register_party(party)
        containers = Containers(SqlContainerStore(session), registry, "2021")
        sample = [
            c.facts
            for c in plan.containers
            if c.facts.generator in {p.credit_code for p in cast.generators[:5]}
        ][:200]
        start = time.perf_counter()
        for new in sample:
            containers.register(new)
        seconds = time.perf_counter() - start
    engine.dispose()
    return len(sample) / seconds


def _append(engine: Engine, log: Sequence[SignedEvent], seed: int, batch: int) -> None:
    ledger = Ledger(SqlLedgerStore(engine), log_key(seed), ORIGIN)
    rng = random.Random(f"receive/{seed}")
    start, shown = time.perf_counter(), 0
    for lo in range(0, len(log), batch):
        chunk = log[lo : lo + batch]
        # One receive time per append: the batch's latest event plus a few minutes.
        received = chunk[-1].event.event_time + timedelta(minutes=rng.uniform(1, 5))
        ledger.append(chunk, received_at=received)
        done = lo + len(chunk)
        if done * 10 // len(log) > shown:
            shown = done * 10 // len(log)
            rate = done / (time.perf_counter() - start)
            print(f"  appended {done:>8,} events ({rate:,.0f}/s)")


def build(path: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Make the database at ``path`` (via a temporary file, so a broken build is not cached)."""
    began = time.perf_counter()
    partial = path.with_suffix(".partial")
    for leftover in CACHE.glob(f"{partial.name}*"):
        leftover.unlink()
    gc.disable()  # millions of objects and no garbage cycles: full collections only cost
    try:
        cast = make_cast(args.seed)
        plan = _Planner(cast, args.seed, args.events_per_container - FIXED_STEPS).run(
            args.containers
        )
        print(
            f"  planned {plan.events:,} events of {len(plan.lives):,} containers, "
            f"{len(plan.manifests):,} trips ({time.perf_counter() - began:.0f} s)"
        )
        url = f"sqlite:///{partial}"
        upgrade(url)
        engine = make_engine(url)
        _register(engine, cast, args.seed)
        _bulk_rows(engine, plan)
        scratch = CACHE / "register-rate.partial"
        register_rate = _register_rate(cast, plan, scratch)
        for leftover in CACHE.glob(f"{scratch.name}*"):
            leftover.unlink()
        print(f"  registry written ({time.perf_counter() - began:.0f} s)")
        cores = os.cpu_count() or 1
        signing = time.perf_counter()
        log = sign_all(cast, plan, args.seed, cores)
        signing = time.perf_counter() - signing
        injected, events = dict(plan.injected), plan.events
        facts = {"containers": len(plan.lives), "manifests": len(plan.manifests)}
        del plan
        appending = time.perf_counter()
        _append(engine, log, args.seed, args.batch)
        appending = time.perf_counter() - appending
        del log
        with engine.connect() as conn:
            conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
        engine.dispose()
    finally:
        gc.enable()
    partial.replace(path)
    meta = {
        "format": FORMAT,
        "events": events,
        **facts,
        "injected": injected,
        "devices": len(cast.devices),
        "build_s": round(time.perf_counter() - began, 1),
        "sign_s": round(signing, 1),
        "append_s": round(appending, 1),
        "register_per_s": round(register_rate, 1),
    }
    path.with_suffix(".json").write_text(json.dumps(meta, indent=1))
    return meta


# --- measuring ------------------------------------------------------------------------------------


@contextmanager
def _timing(module: ModuleType, name: str, into: dict[str, float]) -> Iterator[None]:
    """Add the time spent in ``module.name`` to ``into[name]`` while the block runs."""
    original: Callable[..., Any] = getattr(module, name)

    def timed(*args: Any, **kwargs: Any) -> Any:  # noqa: ANN401  # wraps any function
        start = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            into[name] = into.get(name, 0.0) + time.perf_counter() - start

    setattr(module, name, timed)
    try:
        yield
    finally:
        setattr(module, name, original)


def _high_water_kb() -> int:
    """This process's peak RSS since it started its program (``VmHWM``).

    ``ru_maxrss`` will not do in a fresh process: Linux carries the parent's peak over fork
    and exec into it. ``VmHWM`` belongs to the memory map, which exec makes anew.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # not Linux: the best there is


def check_once(url: str, workers: int) -> dict[str, Any]:
    """``load_facts`` + ``check`` once, split; then each rule alone; and this process's peak."""
    engine = make_engine(url)
    split: dict[str, float] = {}
    loader = storage.facts_loader
    with _timing(loader, "load_records", split), _timing(loader, "histories", split):
        start = time.perf_counter()
        facts = load_facts(engine, as_of=END, workers=workers)
        load = time.perf_counter() - start
    start = time.perf_counter()
    alerts = check(facts)
    rules = time.perf_counter() - start
    peak, rusage = _high_water_kb(), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    per_rule = {}
    for rule in RULES:
        start = time.perf_counter()
        check(facts, (rule,))
        per_rule[rule.name] = time.perf_counter() - start
    result = {
        "events": SqlLedgerStore(engine).state().size,
        "histories": len(facts.histories),
        "containers": len(facts.containers),
        "manifests": len(facts.manifests),
        "total": load + rules,
        "load": load,
        "decode": split.get("load_records", math.nan),
        "walk": split.get("histories", math.nan),
        "rules": rules,
        "per_rule": per_rule,
        "alerts": dict(Counter(a.rule for a in alerts)),
        "peak_kb": peak,
        "rusage_kb": rusage,
        "children_kb": children,
    }
    engine.dispose()
    return result


def _check_child(url: str, workers: int, conn: Connection) -> None:
    conn.send(check_once(url, workers))
    conn.close()


def check_fresh(url: str, workers: int) -> dict[str, Any]:
    """:func:`check_once` in a new process (spawned: nothing of this one is in its memory)."""
    context = multiprocessing.get_context("spawn")
    receive, send = context.Pipe(duplex=False)
    child = context.Process(target=_check_child, args=(url, workers, send))
    child.start()
    send.close()
    try:
        result: dict[str, Any] = receive.recv()
    except EOFError:
        result = {}
    child.join()
    if child.exitcode or not result:
        raise SystemExit(f"the check process failed (exit code {child.exitcode})")
    return result


class _Prefix(SqlLedgerStore):
    """The ledger as it was at ``size`` entries (a checkpoint was signed at that size)."""

    def __init__(self, engine: Engine, size: int) -> None:
        super().__init__(engine)
        self._size = size

    def state(self) -> LedgerState:
        whole = super().state()
        notes = [note for size, _, note in self.checkpoints() if size == self._size]
        return whole._replace(size=self._size, checkpoint=notes[0] if notes else None)

    def checkpoints(self) -> list[tuple[int, bytes, bytes]]:
        return [c for c in super().checkpoints() if c[0] <= self._size]


def audit_once(engine: Engine, seed: int, entries: int) -> dict[str, Any]:
    """The ledger audit on every core: the whole ledger, or its first ``entries``."""
    signed = SqlKeyStore(engine).latest_bundle()
    if signed is None:
        raise SystemExit("the cached database has no trust bundle: rebuild it")
    bundle = TrustBundle.from_signed(signed[1], root_key(seed).record.verifier_key)
    whole = SqlLedgerStore(engine)
    store = whole if not 0 < entries < whole.state().size else _Prefix(engine, entries)
    start = time.perf_counter()
    report = audit(store, log_key(seed).record.verifier_key, bundle, workers=os.cpu_count())
    seconds = time.perf_counter() - start
    if not report.ok:
        raise SystemExit(f"audit found problems: {report.problems[:3]}")
    return {
        "total": seconds,
        "entries": report.entries,
        "forks": len(report.forks),
        "checkpoints": report.checkpoints,
    }


def measure(args: argparse.Namespace, url: str) -> tuple[dict[str, Any], dict[str, Any], str]:
    """The check and the audit taken in turn, so a slow spell on this shared machine hits both.

    Another round follows while a round takes under CHEAP_S, up to --repeat; each figure is
    the best of its rounds.
    """
    engine = make_engine(url)
    checks: list[dict[str, Any]] = []
    audits: list[dict[str, Any]] = []
    while True:
        checks.append(check_fresh(url, args.workers))
        audits.append(audit_once(engine, args.seed, args.audit_entries))
        took = checks[0]["total"] + audits[0]["total"]
        if len(checks) >= args.repeat or took >= CHEAP_S:
            break
    engine.dispose()
    if len(checks) < args.repeat:
        how = f"1 round: a round takes {took:.0f} s, over {CHEAP_S:.0f} s"
    elif args.repeat > 1:
        how = f"best of {len(checks)} rounds"
    else:
        how = "1 round (--repeat 1)"
    return min(checks, key=lambda r: r["total"]), min(audits, key=lambda r: r["total"]), how


def _mb(kb: float) -> str:
    return f"{kb / MB:>7,.0f} MB"


def _header(meta: dict[str, Any], path: Path, events: int, *, built: bool) -> None:
    print(
        f"\nprovince-month: {meta['containers']:,} containers, {events:,} events, "
        f"{meta['manifests']:,} trips with a manifest each; {GENERATORS} generators, "
        f"{TRANSPORTERS} transporters ({TRANSPORTERS * TRUCKS_EACH} trucks), {DISPOSERS} "
        f"disposers, {CHECKPOINTS} checkpoints, {meta['devices']} devices"
    )
    how = "built in this run" if built else "cached, built earlier"
    print(
        f"  ledger {path.name} ({path.stat().st_size / 1e9:.2f} GB), {how} in "
        f"{meta['build_s']:.0f} s: signing {meta['sign_s']:.0f} s on all cores, "
        f"Ledger.append {meta['append_s']:.0f} s"
    )
    minutes = meta["containers"] / meta["register_per_s"] / 60
    print(
        f"  containers bulk-inserted: Containers.register (one commit each) ran at "
        f"{meta['register_per_s']:,.0f}/s, {minutes:.0f} min for all of them"
    )
    injected = ", ".join(f"{n} {kind}" for kind, n in sorted(meta["injected"].items()))
    print(f"  injected: {injected}")


def _table(check_r: dict[str, Any], audit_r: dict[str, Any], how: str) -> None:
    events = check_r["events"]
    rest = check_r["load"] - check_r["decode"] - check_r["walk"]
    rows = [
        ("check end to end, fresh process", check_r["total"], how),
        ("  load_facts: read + decode", check_r["decode"], ""),
        ("  load_facts: histories", check_r["walk"], ""),
        ("  load_facts: registry, containers, manifests", rest, ""),
        ("  check(facts): every rule, ranked", check_r["rules"], ""),
    ]
    print(f"\n  {'':<48} {'events/s':>10} {'seconds':>8}")
    for what, seconds, note in rows:
        print(f"  {what:<48} {events / seconds:>10,.0f} {seconds:>8.1f}  {note}".rstrip())
    alerts = check_r["alerts"]
    for name, seconds in check_r["per_rule"].items():
        print(f"      rule {name:<38} {'':>10} {seconds:>8.2f}  {alerts.get(name, 0):>6,} alerts")
    alone = sum(check_r["per_rule"].values())
    total = sum(alerts.values())
    print(f"      {'(each rule run alone, summed)':<43} {'':>10} {alone:>8.2f}  {total:>6,} alerts")
    scope = "whole ledger" if audit_r["entries"] == events else f"first {audit_r['entries']:,}"
    what = f"ledger audit, {os.cpu_count()} cores, {scope}"
    rate = audit_r["entries"] / audit_r["total"]
    print(
        f"  {what:<48} {rate:>10,.0f} {audit_r['total']:>8.1f}  "
        f"{audit_r['forks']:,} forks (2 per second loading)"
    )


def _memory(check_r: dict[str, Any], workers: int, *, built: bool) -> None:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    per_event = check_r["peak_kb"] * 1024 / check_r["events"]
    rows = [
        ("check, fresh process: VmHWM", check_r["peak_kb"], f"{per_event:,.0f} bytes/event"),
        (
            "check, fresh process: ru_maxrss",
            check_r["rusage_kb"],
            "Linux carries the parent's peak into it",
        ),
        (
            "check's decoding workers: RUSAGE_CHILDREN",
            check_r["children_kb"],
            f"--workers {workers}" + (": none, decoded in the process" if workers < 2 else ""),
        ),
        ("this process: RUSAGE_SELF", own, "includes the build" if built else "audit, reports"),
        (
            "this process's children: RUSAGE_CHILDREN",
            children,
            "the largest of signing, audit workers, the check",
        ),
    ]
    print("\n  peak RSS")
    for what, kb, note in rows:
        print(f"  {what:<48} {_mb(kb)}  {note}")


def report(
    meta: dict[str, Any],
    path: Path,
    runs: tuple[dict[str, Any], dict[str, Any], str],
    args: argparse.Namespace,
) -> None:
    check_r, audit_r, how = runs
    _header(meta, path, check_r["events"], built=args.built)
    _table(check_r, audit_r, how)
    _memory(check_r, args.workers, built=args.built)
    check_rate = check_r["events"] / check_r["total"]
    audit_rate = audit_r["entries"] / audit_r["total"]
    print(
        f"check / audit = {check_rate / audit_rate:.2f}  "
        f"({check_rate:,.0f} vs {audit_rate:,.0f} events/s)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--containers", type=int, default=100_000)
    parser.add_argument(
        "--events-per-container",
        type=int,
        default=10,
        help=f"{FIXED_STEPS} steps plus this minus {FIXED_STEPS} checkpoints",
    )
    parser.add_argument("--batch", type=int, default=2000, help="Events per Ledger.append.")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workers", type=int, default=1, help="load_facts decoding processes.")
    parser.add_argument(
        "--audit-entries",
        type=int,
        default=0,
        help="Audit only the first N entries (a multiple of --batch); 0: all.",
    )
    parser.add_argument("--rebuild", action="store_true")
    args = parser.parse_args()
    passes = args.events_per_container - FIXED_STEPS
    if not 0 <= passes <= CHECKPOINTS:
        parser.error(f"--events-per-container is {FIXED_STEPS} to {FIXED_STEPS + CHECKPOINTS}")
    if args.audit_entries % args.batch:
        parser.error("--audit-entries must be a multiple of --batch (a checkpoint's size)")

    name = (
        f"province-c{args.containers}-e{args.events_per_container}-b{args.batch}"
        f"-s{args.seed}-f{FORMAT}.sqlite3"
    )
    path = CACHE / name
    args.built = args.rebuild or not path.exists() or not path.with_suffix(".json").exists()
    if args.built:
        print(f"building {path} ...")
        meta = build(path, args)
        print(f"built in {meta['build_s']:.0f} s")
    meta = json.loads(path.with_suffix(".json").read_text())
    report(meta, path, measure(args, f"sqlite:///{path}"), args)


if __name__ == "__main__":
    main()

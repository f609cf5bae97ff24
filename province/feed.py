"""Feeding a simulated month into a service's database through the paths real data takes.

Parties, permits, licences, vehicles and gates go through the registry; containers are
registered by ``Containers.register`` (which numbers them, so the simulation's digital
identification codes are checked against the registry's); devices are enrolled with the keys
the simulation signs with; events go through ``Ingest.submit`` hour by hour with the ingest
clock set to the simulated receive time, so the ledger's receive times, counters, chain flags
and anomalies are exactly what a live month would leave; plate reads through ``Sightings``;
GPS fixes into the track store as the JT/T 808 gateway stores them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Generic, TypeVar

from sqlmodel import Session

from custody.containers import Containers
from custody.devices import Device, DeviceKind
from custody.errors import ConfigurationError
from custody.ingest import MAX_BATCH, Ingest
from custody.keyring import Keyring
from custody.ledger import Ledger
from custody.manifests import Manifests
from custody.registry import Registry
from custody.sightings import Sightings
from custody.tracks import Terminal
from storage.container_store import SqlContainerStore
from storage.device_store import SqlDeviceStore
from storage.key_store import SqlKeyStore
from storage.ledger_store import SqlLedgerStore
from storage.manifest_store import SqlManifestStore
from storage.registry_store import SqlRegistryStore
from storage.sighting_store import SqlSightingStore
from storage.track_store import SqlTrackStore

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from sqlalchemy.engine import Engine

    from custody.containers import NewContainer
    from province.simulate import Month

__all__ = ["Fed", "feed"]

T = TypeVar("T")

_STEP = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class Fed:
    """What went in."""

    containers: int
    manifests: int
    events: int
    reads: int
    fixes: int


def _register_cast(session: Session, month: Month) -> Registry:
    world = month.world
    registry = Registry(SqlRegistryStore(session))
    for party in world.parties:
        registry.register_party(party)
    for permit in world.permits:
        registry.register_permit(permit)
    for licence in month.licences:
        registry.register_licence(licence)
    for vehicle in world.vehicles:
        registry.register_vehicle(vehicle)
    for checkpoint in world.checkpoints:
        registry.register_checkpoint(checkpoint)
    return registry


def _enrol_devices(session: Session, month: Month, kek: bytes) -> Keyring:
    keys, devices = SqlKeyStore(session), SqlDeviceStore(session)
    enrolled = month.world.start - timedelta(days=30)
    for name, key in month.devices.items():
        keys.insert_key(key.record, None)
        kind = DeviceKind(month.device_kinds[name])
        devices.insert_device(Device(name, kind, key.record.owner, "演示省设备 demo", enrolled))
    keyring = Keyring(keys, kek)
    keyring.publish()
    return keyring


class _Due(Generic[T]):  # Python 3.11: no type parameter syntax
    """Items in time order, handed out hour by hour."""

    def __init__(self, items: Iterable[T], when: Callable[[T], datetime]) -> None:
        self._items = sorted(items, key=when)
        self._when = when
        self._next = 0

    def __bool__(self) -> bool:
        return self._next < len(self._items)

    def before(self, hour: datetime) -> list[T]:
        """The items not handed out yet whose time is before ``hour``."""
        start = self._next
        while self._next < len(self._items) and self._when(self._items[self._next]) < hour:
            self._next += 1
        return self._items[start : self._next]


def _register_terminals(month: Month, tracks: SqlTrackStore) -> None:
    start = month.world.start - timedelta(days=30)
    for truck in month.world.trucks:
        phone = truck.terminal
        tracks.register_terminal(
            Terminal(phone, truck.plate, 2, "DEMO", "DG-1", phone[-7:], f"auth{phone[-6:]}", start)
        )


def _register_containers(session: Session, due: list[tuple[datetime, NewContainer, str]]) -> None:
    containers = Containers(SqlContainerStore(session), Registry(SqlRegistryStore(session)), "2021")
    for _, new, expected in due:
        made = containers.register(new)
        if made.digital_id.text != expected:
            raise ConfigurationError(
                f"the registry numbered a container {made.digital_id.text}, the simulation "
                f"expected {expected}: the database was not empty",
                zh="登记编号与模拟不一致：演示数据须写入空数据库",
            )


def feed(
    month: Month,
    engine: Engine,
    kek: bytes,
    origin: str,
    *,
    progress: Callable[[datetime], None] | None = None,
) -> Fed:
    """Feed the month into an empty database, hour by simulated hour."""
    tracks = SqlTrackStore(engine)
    _register_terminals(month, tracks)
    with Session(engine) as session:
        _register_cast(session, month)
        keyring = _enrol_devices(session, month, kek)
        bundle, _ = keyring.bundle()
        ledger = Ledger(SqlLedgerStore(engine), keyring.log_key(), origin)
    clock = [month.world.start]
    sightings = Sightings(
        SqlSightingStore(engine), Registry(SqlRegistryStore(engine)), clock=lambda: clock[0]
    )
    boxes = _Due(month.containers, lambda c: c[0])
    papers = _Due(month.manifests, lambda m: m.created_at)
    events = _Due(month.events, lambda e: e[0])
    reads = _Due(month.reads, lambda r: r.seen_at)
    fixes = _Due(month.fixes, lambda f: f.received_at)
    counts = dict.fromkeys(("containers", "manifests", "events", "reads", "fixes"), 0)
    hour = month.world.start
    while hour <= month.as_of or boxes or papers or events or reads or fixes:
        clock[0] = hour
        # A session per hour and per kind, as each request has its own: SQLite cannot turn a
        # read begun before another connection's commit into a write.
        with Session(engine) as session:
            due = boxes.before(hour)
            _register_containers(session, due)
            counts["containers"] += len(due)
            manifests = Manifests(SqlManifestStore(session))
            for paper in papers.before(hour):
                manifests.record(paper)
                counts["manifests"] += 1
        batch = [message for _, message in events.before(hour)]
        with Session(engine) as session:
            ingest = Ingest(ledger, SqlDeviceStore(session), SqlContainerStore(session),
                            lambda: bundle, clock=lambda: clock[0])  # fmt: skip
            for first in range(0, len(batch), MAX_BATCH):
                ingest.submit(batch[first : first + MAX_BATCH])
        counts["events"] += len(batch)
        if seen := reads.before(hour):
            sightings.record(seen)
            counts["reads"] += len(seen)
        if positions := fixes.before(hour):
            tracks.add_fixes(positions)
            counts["fixes"] += len(positions)
        if progress is not None:
            progress(hour)
        hour += _STEP
    return Fed(**counts)

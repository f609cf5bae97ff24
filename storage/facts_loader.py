"""Loading the checker's snapshot (:class:`custody.facts.Facts`) from the database in bulk.

The ledger is read in chunks of ``CHUNK`` entries by index, up to the size it had when loading
began (appends during the load do not tear the snapshot). Each entry is decoded once without
re-verifying its signature (``custody ledger audit`` does that), by worker processes when the
caller asks for them. The registry, the containers named and the manifests are read with one
query per table (containers in ``IN`` lists of :data:`storage.container_store.IN_CHUNK`).

Memory: about 1.8 GB per million events (the decoded events and their histories).

A time window keeps the containers that had an event in it, with their *whole* histories: the
custody state machine needs what happened before the window to judge what happened in it.
Event times are the devices' claims inside the signed entries, so the window cannot be pushed
down into SQL; the whole ledger is decoded and filtered here.
"""

from __future__ import annotations

import gc
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from custody._collector import cycle_collection_paused
from custody.errors import RecordInvalid, StorageError
from custody.facts import CheckSettings, Facts
from custody.history import histories, record_of
from custody.ports import StoredEntry
from storage.container_store import IN_CHUNK, SqlContainerStore
from storage.engine import make_engine
from storage.ledger_store import SqlLedgerStore, naming
from storage.manifest_store import SqlManifestStore
from storage.registry_store import SqlRegistryStore
from storage.tables import (
    ContainerRow,
    DeviceRow,
    LedgerContainerRow,
    LedgerEntryRow,
    LedgerStateRow,
    metadata,
)

if TYPE_CHECKING:
    from collections.abc import Collection, Iterable, Iterator
    from datetime import datetime

    from sqlalchemy.engine import Connection, Engine

    from custody.history import ContainerHistory, Record
    from custody.parties import OperatingLicence, TransportPermit

__all__ = ["CHUNK", "load_facts", "load_party_facts", "load_records"]

#: Ledger entries read per query.
CHUNK = 10_000

_ENTRY = metadata.tables[LedgerEntryRow.__tablename__]
_CONTAINER = metadata.tables[LedgerContainerRow.__tablename__]
_STATE = metadata.tables[LedgerStateRow.__tablename__]
_REGISTERED = metadata.tables[ContainerRow.__tablename__]
_DEVICE = metadata.tables[DeviceRow.__tablename__]


def _named(record: Record) -> tuple[str, ...]:
    """The containers a record belongs to the history of (a consolidation's parent too)."""
    event = record.event
    return (*event.containers, event.parent) if event.parent else event.containers


_worker_engine: Engine | None = None


def _start_worker(url: str) -> None:
    global _worker_engine  # noqa: PLW0603  # one engine per worker process, made once
    _worker_engine = make_engine(url)


def _decode_range(span: tuple[int, int]) -> list[Record]:
    """In a worker: read entries ``start..stop-1`` and decode them."""
    assert _worker_engine is not None  # noqa: S101  # set by the pool's initializer
    return [record_of(entry) for entry in SqlLedgerStore(_worker_engine).entries(*span)]


def _all_records(engine: Engine, workers: int) -> list[Record]:
    """Every entry decoded, in log order, here or by ``workers`` processes.

    Decoding (CBOR, COSE, the event's own checks) is most of the load and parallelises;
    unpickling a decoded record costs a sixth of decoding it.
    """
    store = SqlLedgerStore(engine)
    size = store.state().size
    spans = [(start, min(start + CHUNK, size)) for start in range(0, size, CHUNK)]
    processes = min(workers, len(spans))
    url = engine.url
    in_memory = url.get_backend_name() == "sqlite" and url.database in {None, "", ":memory:"}
    if processes < 2 or in_memory:  # an in-memory database is not shared with other processes
        return [record_of(entry) for span in spans for entry in store.entries(*span)]
    rendered = url.render_as_string(hide_password=False)
    with ProcessPoolExecutor(processes, initializer=_start_worker, initargs=(rendered,)) as pool:
        return [record for chunk in pool.map(_decode_range, spans) for record in chunk]


_SIZE = select(_STATE.c.size).where(_STATE.c.id == 1).scalar_subquery()  # committed entries
_COLUMNS = (_ENTRY.c.idx, _ENTRY.c.event_id, _ENTRY.c.event_hash, _ENTRY.c.entry,
            _ENTRY.c.leaf_hash)  # fmt: skip


@contextmanager
def _reading(engine: Engine) -> Iterator[Connection]:
    """A connection; a database failure becomes a ``StorageError`` a caller can report."""
    try:
        with engine.connect() as conn:
            yield conn
    except SQLAlchemyError as exc:
        raise StorageError(f"reading the ledger failed: {exc.__class__.__name__}",
                           zh="读取账本失败") from exc  # fmt: skip


def _entries_naming(engine: Engine, containers: list[str]) -> list[StoredEntry]:
    """Entries naming any of the containers, through the ``ledger_container`` index.

    Only entries inside the log's committed size, read in the same statement: one query and
    one connection per chunk of containers, whatever is being appended meanwhile.
    """
    seen: set[int] = set()
    found: list[StoredEntry] = []
    with _reading(engine) as conn:
        for start in range(0, len(containers), IN_CHUNK):
            chunk = containers[start : start + IN_CHUNK]
            query = select(*_COLUMNS).where(_ENTRY.c.idx.in_(naming(chunk)), _ENTRY.c.idx < _SIZE)
            for idx, event_id, event_hash, entry, leaf in conn.execute(query):
                if idx not in seen:  # an entry may name containers of two chunks
                    seen.add(idx)
                    found.append(StoredEntry(idx, event_id, bytes(event_hash),
                                             bytes(entry), bytes(leaf)))  # fmt: skip
    found.sort(key=lambda e: e.index)
    return found


def load_records(
    engine: Engine, containers: Collection[str] | None = None, *, workers: int = 1
) -> list[Record]:
    """Every ledger entry as a record in log order, or only those naming ``containers``.

    ``workers`` > 1 decodes the whole ledger's chunks in that many processes: worth it only
    with idle cores (on a busy two-core machine two workers gained about a tenth).
    """
    if containers is None:
        return _all_records(engine, workers)
    return [record_of(entry) for entry in _entries_naming(engine, sorted(set(containers)))]


def _in_window(
    records: Iterable[Record], since: datetime | None, until: datetime | None
) -> set[str]:
    """The containers with an event whose claimed time is in ``[since, until)``."""
    return {
        container
        for record in records
        if (since is None or record.event.event_time >= since)
        and (until is None or record.event.event_time < until)
        for container in _named(record)
    }


#: Young objects a load may leave before it sweeps them into the oldest generation itself.
_SWEEP_AT = 1_000_000


@contextmanager
def _no_cycle_collection() -> Iterator[None]:
    """Pause the cycle collector while the snapshot is built; after a big load, sweep once.

    A load makes millions of objects and no garbage cycles; every full collection would walk
    all of them again (a fifth of the load's time on 200,000 events). Left in the youngest
    generation, they would then be walked once per generation on their way to the oldest by
    the first collections after the load (three walks, 10 s after 1,000,000 events); one full
    collection here walks them once and leaves them where collections seldom look.
    """
    with cycle_collection_paused():
        yield
    if gc.get_count()[0] > _SWEEP_AT:
        gc.collect()


def _aware(when: datetime | None, name: str) -> None:
    if when is not None and when.tzinfo is None:
        raise RecordInvalid(f"{name} needs a time zone", zh=f"{name} 须带时区", field=name)


def load_facts(  # noqa: PLR0913  # the snapshot's time, settings and three independent filters
    engine: Engine,
    *,
    as_of: datetime,
    settings: CheckSettings | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    containers: Collection[str] | None = None,
    workers: int = 1,
) -> Facts:
    """The snapshot the rules read: histories, registered facts, manifests, settings.

    ``containers`` limits the histories to those containers (read through the ledger's
    container index); ``since``/``until`` to containers with an event claimed in
    ``[since, until)``. Either way each history kept is whole. ``workers``: see
    :func:`load_records`.
    """
    for when, name in ((as_of, "as_of"), (since, "since"), (until, "until")):
        _aware(when, name)
    with _no_cycle_collection():
        return _load(engine, as_of, settings, since, until, containers, workers)


def load_party_facts(
    engine: Engine, party: str, *, as_of: datetime, since: datetime | None = None
) -> Facts:
    """What a party's mass balance reads: its containers' histories, not the whole ledger.

    Its containers are those it generated (the container table's generator index) and those
    its devices scanned (its enrolled devices, then their entries through the ledger's
    (device, counter) index). The containers named beside them in the same events come too,
    whole, so a weighed event's mass is shared out as over the whole ledger. ``since`` as in
    :func:`load_facts`.
    Manifests are left out: the balance does not read them, and reading them all cost more
    than the rest for a generator of 200 containers.
    """
    _aware(as_of, "as_of")
    _aware(since, "since")
    with _no_cycle_collection():
        decoded = {e.index: record_of(e) for e in _entries_by_devices_of(engine, party)}
        own = _generated_by(engine, party) | {c for r in decoded.values() for c in _named(r)}
        _decode_naming(engine, own, decoded)
        beside = {c for r in decoded.values() for c in _named(r)} - own
        _decode_naming(engine, beside, decoded)
        records = [decoded[i] for i in sorted(decoded)]
        return _snapshot(engine, records, own | beside, as_of, None, since, None,
                         manifests=False)  # fmt: skip


def _decode_naming(engine: Engine, containers: set[str], decoded: dict[int, Record]) -> None:
    """Add to ``decoded`` the entries naming these containers, each decoded once."""
    if containers:
        for entry in _entries_naming(engine, sorted(containers)):
            if entry.index not in decoded:
                decoded[entry.index] = record_of(entry)


def _entries_by_devices_of(engine: Engine, party: str) -> list[StoredEntry]:
    """The committed entries made by the party's enrolled devices.

    Ingest refuses events from a device that is not enrolled or belongs to another party, so
    the device table names every device that made an entry; each of its devices' entries is
    then one range of the ledger's (device, counter) index.
    """
    devices = select(_DEVICE.c.name).where(_DEVICE.c.owner == party)
    query = select(*_COLUMNS).where(_ENTRY.c.device.in_(devices), _ENTRY.c.idx < _SIZE)
    with _reading(engine) as conn:
        return [StoredEntry(idx, event_id, bytes(event_hash), bytes(data), bytes(leaf))
                for idx, event_id, event_hash, data, leaf in conn.execute(query)]  # fmt: skip


def _generated_by(engine: Engine, party: str) -> set[str]:
    made = _REGISTERED.c
    with _reading(engine) as conn:
        return set(conn.execute(select(made.digital_id).where(made.generator == party)).scalars())


def _load(  # noqa: PLR0913, PLR0917  # load_facts's arguments, passed on
    engine: Engine,
    as_of: datetime,
    settings: CheckSettings | None,
    since: datetime | None,
    until: datetime | None,
    containers: Collection[str] | None,
    workers: int,
) -> Facts:
    records = load_records(engine, containers, workers=workers)
    keep: set[str] | None = None if containers is None else set(containers)
    return _snapshot(engine, records, keep, as_of, settings, since, until)


def _snapshot(  # noqa: PLR0913, PLR0917  # the records, what to keep of them, load_facts's filters
    engine: Engine,
    records: list[Record],
    keep: set[str] | None,
    as_of: datetime,
    settings: CheckSettings | None,
    since: datetime | None,
    until: datetime | None,
    *,
    manifests: bool = True,
) -> Facts:
    if since is not None or until is not None:
        touched = _in_window(records, since, until)
        keep = touched if keep is None else keep & touched
        records = [r for r in records if any(c in touched for c in _named(r))]
    walked: dict[str, ContainerHistory] = histories(records)
    if keep is not None:  # co-named containers' histories are partial here: leave them out
        walked = {c: h for c, h in walked.items() if c in keep}
    with Session(engine) as session:
        registry = SqlRegistryStore(session)
        permits: defaultdict[str, list[TransportPermit]] = defaultdict(list)
        licences: defaultdict[str, list[OperatingLicence]] = defaultdict(list)
        for permit in registry.list_permits():
            permits[permit.holder].append(permit)
        for licence in registry.list_licences():
            licences[licence.holder].append(licence)
        return Facts(
            histories=walked,
            as_of=as_of,
            containers=SqlContainerStore(session).get_containers(walked),
            parties={p.credit_code: p for p in registry.list_parties()},
            permits={holder: tuple(found) for holder, found in permits.items()},
            licences={holder: tuple(found) for holder, found in licences.items()},
            vehicles={v.plate: v for v in registry.list_vehicles()},
            checkpoints={c.checkpoint_id: c for c in registry.list_checkpoints()},
            manifests={m.number: m for m in SqlManifestStore(session).list_manifests()}
            if manifests
            else {},
            settings=settings or CheckSettings(),
        )

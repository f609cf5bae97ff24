"""Facts loader rate: a synthetic signed ledger on SQLite, loaded whole into the checker's snapshot.

Builds (once, cached in --dir) a ledger of --events events in trips of four drums (commission,
load, depart, arrive, receive, destroy), registers the drums, then times ``load_facts``: read
in chunks, decode every entry, walk every history, read the registry and manifests. Also
times the decoding alone, its floor, twice in the same run: as the loader decodes stored
entries (``record_of``: ``CustodyEvent.from_stored_cbor``, trusting what ingest checked) and,
as the baseline, through the validating path outside data takes (``CustodyEvent.from_cbor``:
every field checked again, the encoding re-made to prove it canonical). The rate is events
per second of the whole load.

    PYTHONPATH=. .venv/bin/python bench/bench_facts.py [--events 20000] [--dir DIR] [--workers 1]
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives import hashes

from custody import _cose
from custody.events import CustodyEvent, event_hash
from custody.history import Record, record_of
from custody.ledger import read_entry
from storage.engine import make_engine
from storage.facts_loader import load_facts
from storage.ledger_store import SqlLedgerStore
from storage.migrate import upgrade
from tests.facts_fixtures import append_events, register_drums, trip_events
from tests.ledger_fixtures import enroll_scanners

if TYPE_CHECKING:
    from custody.ports import StoredEntry

PER_TRIP = 4
EVENTS_PER_TRIP = 5 * PER_TRIP - 5  # 4 commissions, 3 for the vehicle, 4 receipts, 4 ends


def validating_record_of(entry: StoredEntry) -> Record:
    """``record_of`` as it was before the trusted path: the event validated and re-encoded."""
    received_at, message = read_entry(entry.entry)
    payload = _cose.parse_sign1(message).payload
    return Record(entry.index, received_at, event_hash(message), CustodyEvent.from_cbor(payload))


def build(url: str, events: int) -> None:
    trips = -(-events // EVENTS_PER_TRIP)
    engine = make_engine(url)
    kek = hashes.Hash(hashes.SHA256())
    kek.update(b"bench")
    enroll_scanners(engine, kek.finalize(), drums=0, register_parties=True)
    register_drums(engine, trips * PER_TRIP)
    append_events(engine, trip_events(trips, PER_TRIP)[:events])
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "facts-bench")
    parser.add_argument("--workers", type=int, default=1, help="Decoding processes.")
    parser.add_argument("--rounds", type=int, default=3, help="Best of this many loads.")
    args = parser.parse_args()
    path = args.dir / f"ledger-{args.events}.sqlite3"
    url = f"sqlite:///{path}"
    if not path.exists():
        args.dir.mkdir(parents=True, exist_ok=True)
        upgrade(url)
        start = time.perf_counter()
        build(url, args.events)
        print(f"built {args.events} events in {time.perf_counter() - start:.1f} s -> {path}")
    engine = make_engine(url)
    store = SqlLedgerStore(engine)
    size = store.state().size

    best_decode = best_validating = best_load = float("inf")
    histories = containers = 0
    for _ in range(args.rounds):  # the best of a few rounds, taken in turn: the machine is shared
        for decode in (validating_record_of, record_of):
            start = time.perf_counter()
            for lo in range(0, size, 10_000):
                for entry in store.entries(lo, min(lo + 10_000, size)):
                    decode(entry)
            took = time.perf_counter() - start
            if decode is record_of:
                best_decode = min(best_decode, took)
            else:
                best_validating = min(best_validating, took)
        start = time.perf_counter()
        facts = load_facts(engine, as_of=datetime.now(UTC), workers=args.workers)
        best_load = min(best_load, time.perf_counter() - start)
        histories, containers = len(facts.histories), len(facts.containers)
        del facts  # peak memory is that of one snapshot
    engine.dispose()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"ledger: {size} events, {histories} histories, {containers} registered containers")
    print(
        f"  read + decode, validating (from_cbor)   {size / best_validating:>10,.0f} events/s"
        f"  ({best_validating:.2f} s)"
    )
    print(
        f"  read + decode, trusted (record_of)      {size / best_decode:>10,.0f} events/s"
        f"  ({best_decode:.2f} s)"
    )
    print(
        f"  load_facts (whole)                      {size / best_load:>10,.0f} events/s"
        f"  ({best_load:.2f} s)"
    )
    print(
        f"  1,000,000 events at that rate: {1_000_000 / (size / best_load):.0f} s;"
        f" peak memory {peak_mb:.0f} MB"
    )


if __name__ == "__main__":
    main()

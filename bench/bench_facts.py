"""Facts loader rate: a synthetic signed ledger on SQLite, loaded whole into the checker's snapshot.

Builds (once, cached in --dir) a ledger of --events events in trips of four drums (commission,
load, depart, arrive, receive, destroy), registers the drums, then times ``load_facts``: read
in chunks, decode every entry, walk every history, read the registry and manifests. Also
times the decoding alone, its floor. The rate is events per second of the whole load.

    PYTHONPATH=. .venv/bin/python bench/bench_facts.py [--events 20000] [--dir DIR] [--workers 1]
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives import hashes

from custody.history import record_of
from storage.engine import make_engine
from storage.facts_loader import load_facts
from storage.ledger_store import SqlLedgerStore
from storage.migrate import upgrade
from tests.facts_fixtures import append_events, register_drums, trip_events
from tests.ledger_fixtures import enroll_scanners

PER_TRIP = 4
EVENTS_PER_TRIP = 5 * PER_TRIP - 5  # 4 commissions, 3 for the vehicle, 4 receipts, 4 ends


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

    best_decode = best_load = float("inf")
    histories = containers = 0
    for _ in range(args.rounds):  # the best of a few rounds: the machine is shared
        start = time.perf_counter()
        for lo in range(0, size, 10_000):
            for entry in store.entries(lo, min(lo + 10_000, size)):
                record_of(entry)
        best_decode = min(best_decode, time.perf_counter() - start)
        start = time.perf_counter()
        facts = load_facts(engine, as_of=datetime.now(UTC), workers=args.workers)
        best_load = min(best_load, time.perf_counter() - start)
        histories, containers = len(facts.histories), len(facts.containers)
        del facts  # peak memory is that of one snapshot
    engine.dispose()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"ledger: {size} events, {histories} histories, {containers} registered containers")
    print(f"  read + decode only   {size / best_decode:>10,.0f} events/s  ({best_decode:.2f} s)")
    print(f"  load_facts (whole)   {size / best_load:>10,.0f} events/s  ({best_load:.2f} s)")
    print(
        f"  1,000,000 events at that rate: {1_000_000 / (size / best_load):.0f} s;"
        f" peak memory {peak_mb:.0f} MB"
    )


if __name__ == "__main__":
    main()

"""Officer queries on a million events: p95 through the service next to the bare indexed SQL.

Builds once, and caches in bench/.cache/ (the file named by the parameters and FORMAT), the
province-month of bench/bench_checker.py (its builder, imported: 500 generators, 200 trucks,
--containers containers of --events-per-container signed events each, 1,000,250 events by
default, a manifest per trip), copied and migrated to the newest revision, then given what
the officers' queries read besides the ledger:
  plate reads: each trip's truck at each checkpoint its events pass, when they pass it;
  GPS fixes: each trip's truck every --fix-interval seconds from departure to arrival, along
  straight lines through those checkpoints (one terminal per truck; JT/T 808 asks for 30 s);
  alerts: the checker run once on the whole ledger (``load_facts`` + ``check``), stored
  through ``SqlAlertStore`` (which records each alert's places).

Then measures, in one run, for each query: --requests requests to the service as
``custody serve`` runs it (uvicorn on ``create_app`` over the database, in its own process,
asked over loopback HTTP with keep-alive; no live checker; authentication off:
``Settings(auth=False)``, as ``CUSTODY_AUTH=false`` would, so what is timed is the query and
not a token look-up, and every row is in reach), each followed by
the bare SQL that fetches the same rows through the same indexes (SQLAlchemy Core, rows
fetched, nothing decoded or rendered); parameters drawn with --seed:
  GET /vehicles/{plate}/trips     a truck with manifests, first page (10 trips): the plate's
                                  manifests, its page's ledger entries, each trip's reads and
                                  GPS fixes, and the alerts naming the plate;
  GET /alerts/near?bbox=          a 0.1 degree box around a random alert's place;
  GET /containers/{id}/timeline   a random container: its entries, parties and alerts.
Prints p50, p95 and max per query, the bare query's p95 and the ratio of the p95s; exits
non-zero if nothing was measured. ``--database-url`` measures another database instead (a
PostgreSQL one is filled from the cached SQLite file first when it has no ledger).

    .venv/bin/python bench/bench_queries.py [--containers 100000] [--events-per-container 10]
        [--requests 200] [--fix-interval 30] [--database-url URL] [--rebuild]
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import multiprocessing
import random
import shutil
import socket
import statistics
import sys
import time
from collections import defaultdict
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import bench_checker
import httpx2
import uvicorn
from pydantic import SecretStr
from sqlalchemy import func, insert, select, text

from api.app import create_app
from api.settings import Settings
from custody._collector import cycle_collection_paused
from custody.alerts import Alerts
from custody.checker import check
from custody.events import Step
from custody.sightings import PlateRead
from storage.alert_store import SqlAlertStore
from storage.engine import make_engine
from storage.facts_loader import load_facts
from storage.ledger_store import naming
from storage.migrate import upgrade
from storage.sighting_store import SqlSightingStore
from storage.tables import (
    AlertContainerRow,
    AlertPlaceRow,
    AlertRow,
    ContainerRow,
    GpsFixRow,
    LedgerEntryRow,
    ManifestRow,
    ManifestVehicleRow,
    PartyRow,
    PlateReadRow,
    metadata,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    from sqlalchemy.engine import Connection, Engine

#: Bump when the generated data changes: the cached database is named by it.
FORMAT = 1
CACHE = bench_checker.CACHE
KEK = SecretStr("bench-queries key-encryption key")
BOX_DEGREES = 0.1  # an area query's box: about 10 km by 11 km around Chengdu
WARM_UP = 5  # requests per query before timing (first-use costs: imports, caches, pages)
TARGET_MS, TARGET_RATIO = 200.0, 5.0  # the targets for the p95
_FIX_CHUNK = 50_000

_T = metadata.tables
ALERT, PLACE, ALERT_CONTAINER = (_T[r.__tablename__] for r in (AlertRow, AlertPlaceRow,
                                                               AlertContainerRow))  # fmt: skip
MANIFEST, LINK = _T[ManifestRow.__tablename__], _T[ManifestVehicleRow.__tablename__]
ENTRY = _T[LedgerEntryRow.__tablename__]
READ, FIX = _T[PlateReadRow.__tablename__], _T[GpsFixRow.__tablename__]
CONTAINER, PARTY = _T[ContainerRow.__tablename__], _T[PartyRow.__tablename__]


# --- building ---------------------------------------------------------------------------------


def base_database(args: argparse.Namespace) -> Path:
    """bench_checker's cached province-month for these parameters, built if missing."""
    name = (
        f"province-c{args.containers}-e{args.events_per_container}-b{args.batch}"
        f"-s{args.seed}-f{bench_checker.FORMAT}.sqlite3"
    )
    path = CACHE / name
    if not path.exists() or not path.with_suffix(".json").exists():
        print(f"building the province-month {path} (bench_checker's builder) ...")
        CACHE.mkdir(parents=True, exist_ok=True)
        bench_checker.build(path, args)
    return path


def _links(engine: Engine) -> int:
    """Plate links of manifests that have none (bench_checker inserts manifests in bulk)."""
    done = select(LINK.c.number)
    query = select(MANIFEST.c.number, MANIFEST.c.vehicles, MANIFEST.c.created_at).where(
        MANIFEST.c.number.not_in(done)
    )
    with engine.begin() as conn:
        rows = [{"vehicle": plate, "number": number, "created_at": created}
                for number, plates, created in conn.execute(query)
                for plate in dict.fromkeys(plates)]  # fmt: skip
        if rows:
            conn.execute(insert(LINK), rows)
    return len(rows)


def _route(life: list[bench_checker.Spec]) -> list[tuple[datetime, Any]]:
    """A trip's way points (time, (lat, lon)): departure, each checkpoint passed, arrival."""
    return sorted((s.at, tuple(s.fields["location"])) for s in life
                  if s.step in {Step.DEPARTING, Step.PASSING, Step.ARRIVING})  # fmt: skip


def _fixes_along(
    route: list[tuple[datetime, Any]], every: timedelta
) -> Iterator[tuple[datetime, float, float]]:
    for (t0, a), (t1, b) in itertools.pairwise(route):
        span = (t1 - t0).total_seconds()
        at = t0
        while at < t1:
            share = (at - t0).total_seconds() / span if span > 0 else 0.0
            yield at, a[0] + (b[0] - a[0]) * share, a[1] + (b[1] - a[1]) * share
            at += every
    if route:
        end, (lat, lon) = route[-1]
        yield end, lat, lon


def _observations(engine: Engine, args: argparse.Namespace) -> tuple[int, int]:
    """Plate reads and GPS fixes of every trip, from the plan bench_checker signed."""
    cast = bench_checker.make_cast(args.seed)
    passes = args.events_per_container - bench_checker.FIXED_STEPS
    planner = bench_checker._Planner(cast, args.seed, passes)  # noqa: SLF001  # reused as is
    plan = planner.run(args.containers)
    life_of = dict(zip(plan.ids, plan.lives, strict=True))
    terminals = {plate: f"0138{n:08d}" for n, plate in enumerate(sorted(cast.phone))}
    reads: list[PlateRead] = []
    seen: set[tuple[str, datetime]] = set()
    batch: list[dict[str, Any]] = []
    fixes = 0
    every = timedelta(seconds=args.fix_interval)
    with engine.begin() as conn:
        for manifest in plan.manifests:
            plate = manifest.vehicles[0]
            life = life_of[manifest.containers[0]]  # the first drum loaded: it passes first
            reads += [PlateRead(s.fields["read_point"], plate, s.at, 0.95) for s in life
                      if s.step is Step.PASSING]  # fmt: skip
            for at, lat, lon in _fixes_along(_route(life), every):
                key = (terminals[plate], at)
                if key in seen:  # a truck on two trips at once: the first fix stays
                    continue
                seen.add(key)
                batch.append({"terminal": key[0], "fix_time": at, "plate": plate,
                              "lat": round(lat, 6), "lon": round(lon, 6), "crs": "WGS84",
                              "altitude_m": 500, "speed_kmh": 45.0, "heading": 0, "alarm": 0,
                              "status": 0, "received_at": at})  # fmt: skip
            if len(batch) >= _FIX_CHUNK:
                conn.execute(insert(FIX), batch)
                fixes += len(batch)
                batch = []
        if batch:
            conn.execute(insert(FIX), batch)
            fixes += len(batch)
    del plan, life_of, seen
    return SqlSightingStore(engine).add_reads(reads), fixes


def _alerts(engine: Engine) -> dict[str, int]:
    """The checker once on the whole ledger; its alerts stored as the service stores them."""
    facts = load_facts(engine, as_of=bench_checker.END)
    found = check(facts)
    del facts
    stored = Alerts(SqlAlertStore(engine)).raise_all(found, bench_checker.END)
    by_rule: dict[str, int] = defaultdict(int)
    for alert in stored:
        by_rule[alert.rule] += 1
    return dict(by_rule)


def build(path: Path, args: argparse.Namespace) -> dict[str, Any]:
    """The base province copied, migrated and given reads, fixes and alerts (via a .partial)."""
    began = time.perf_counter()
    base = base_database(args)
    partial = path.with_suffix(".partial")
    for leftover in CACHE.glob(f"{partial.name}*"):
        leftover.unlink()
    shutil.copyfile(base, partial)
    url = f"sqlite:///{partial}"
    upgrade(url)  # 0007 fills the plate links of the manifests already there
    engine = make_engine(url)
    linked = _links(engine)
    print(f"  copied and migrated ({time.perf_counter() - began:.0f} s); {linked} plate links")
    with cycle_collection_paused():
        reads, fixes = _observations(engine, args)
        print(f"  {reads:,} plate reads, {fixes:,} GPS fixes ({time.perf_counter() - began:.0f} s)")
        alerts = _alerts(engine)
    print(f"  {sum(alerts.values()):,} alerts stored ({time.perf_counter() - began:.0f} s)")
    with engine.connect() as conn:
        conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
    engine.dispose()
    partial.replace(path)
    base_meta = json.loads(base.with_suffix(".json").read_text())
    meta = {"format": FORMAT, "events": base_meta["events"], "manifests": base_meta["manifests"],
            "containers": base_meta["containers"], "plate_reads": reads, "gps_fixes": fixes,
            "alerts": alerts, "build_s": round(time.perf_counter() - began, 1)}  # fmt: skip
    path.with_suffix(".json").write_text(json.dumps(meta, indent=1))
    return meta


def copy_into(source: str, target: str) -> None:
    """Every table of the cached SQLite database into an empty migrated database at ``target``."""
    upgrade(target)
    src, dst = make_engine(source), make_engine(target)
    with dst.connect() as conn:
        if conn.execute(select(func.count()).select_from(ENTRY)).scalar():
            src.dispose()
            dst.dispose()
            return  # filled by an earlier run
    began = time.perf_counter()
    with src.connect() as reading, dst.begin() as writing:
        writing.execute(text("DELETE FROM ledger_state"))
        for table in metadata.sorted_tables:
            if table.name == "alembic_version":
                continue
            rows = reading.execute(select(table)).mappings()
            count = 0
            while batch := rows.fetchmany(_FIX_CHUNK):
                writing.execute(insert(table), [dict(r) for r in batch])
                count += len(batch)
            print(f"  copied {table.name}: {count:,} rows ({time.perf_counter() - began:.0f} s)")
        if dst.dialect.name == "postgresql":  # serial keys: continue after the copied rows
            for table in metadata.sorted_tables:
                if "id" in table.c and table.c.id.autoincrement is True:
                    writing.execute(text(
                        f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "  # noqa: S608  # our own table names
                        f"COALESCE((SELECT MAX(id) FROM {table.name}), 0) + 1, false)"
                    ))  # fmt: skip
        writing.execute(text("ANALYZE"))
    src.dispose()
    dst.dispose()


# --- the parameters ---------------------------------------------------------------------------


def _parameters(engine: Engine, n: int, seed: int) -> dict[str, list[Any]]:
    """Plates with manifests, boxes around alerts' places, containers: drawn with ``seed``."""
    rng = random.Random(f"queries/{seed}")
    with engine.connect() as conn:
        plates = sorted(conn.execute(select(LINK.c.vehicle).distinct()).scalars())
        places = conn.execute(select(PLACE.c.lat, PLACE.c.lon).order_by(
            PLACE.c.alert_id, PLACE.c.lat, PLACE.c.lon)).all()  # fmt: skip
        size = conn.execute(select(func.count()).select_from(CONTAINER)).scalar() or 0
        offsets = sorted(rng.sample(range(size), min(n, size)))
        containers = [conn.execute(select(CONTAINER.c.digital_id).order_by(
            CONTAINER.c.digital_id).offset(k).limit(1)).scalar_one() for k in offsets]  # fmt: skip
    half = BOX_DEGREES / 2
    boxes = []
    for lat, lon in (rng.choice(places) for _ in range(n if places else 0)):
        boxes.append((round(lon - half, 4), round(lat - half, 4), round(lon + half, 4),
                      round(lat + half, 4)))  # fmt: skip
    rng.shuffle(containers)
    return {"trips": [rng.choice(plates) for _ in range(n)] if plates else [],
            "near": boxes, "timeline": containers}  # fmt: skip


# --- the bare queries -------------------------------------------------------------------------


def _listing(query: Any, limit: int) -> Any:  # noqa: ANN401  # SQLAlchemy statements
    a = ALERT.c
    return query.order_by(a.severity_rank.desc(), a.end.desc(), a.alert_id).limit(limit)


def _rows(conn: Connection, query: Any) -> int:  # noqa: ANN401  # SQLAlchemy statements
    return len(conn.execute(query).all())


def _entries_naming(*containers: str) -> Any:  # noqa: ANN401  # a SQLAlchemy statement
    """The containers' entries through both history indexes, as the service reads them."""
    return select(ENTRY).where(ENTRY.c.idx.in_(naming(containers)))


def bare_trips(conn: Connection, plate: str, body: dict[str, Any]) -> int:
    """The plate's manifests; the page's entries; each trip's reads and fixes; its alerts."""
    mine = (
        select(MANIFEST)
        .join(LINK, LINK.c.number == MANIFEST.c.number)
        .where(LINK.c.vehicle == plate)
        .order_by(LINK.c.created_at, LINK.c.number)
    )
    manifests = conn.execute(mine).all()
    page = {t["manifest"]["number"] for t in body["items"]}
    drums = sorted({c for m in manifests if m.number in page for c in m.containers})
    rows = len(manifests) + _rows(conn, _entries_naming(*drums))
    for trip in body["items"]:
        if trip["started"] is None:
            continue
        start = datetime.fromisoformat(trip["started"])
        end = datetime.fromisoformat(trip["ended"]) + timedelta(microseconds=1)
        r, f = READ.c, FIX.c
        rows += _rows(conn, select(READ).where(r.plate == plate, r.seen_at >= start,
                                               r.seen_at < end))  # fmt: skip
        rows += _rows(conn, select(FIX).where(f.plate == plate, f.fix_time >= start,
                                              f.fix_time < end))  # fmt: skip
    return rows + _rows(conn, _listing(select(ALERT).where(ALERT.c.vehicle == plate), 101))


def bare_near(conn: Connection, box: tuple[float, ...], body: dict[str, Any]) -> int:
    """The alerts with a place in the box, one page in the listing's order; and the count."""
    del body
    west, south, east, north = box
    p = PLACE.c
    inside = select(p.alert_id).where(p.lat.between(south, north), p.lon.between(west, east))
    rows = _rows(conn, _listing(select(ALERT).where(ALERT.c.alert_id.in_(inside)), 51))
    return rows + _rows(conn, select(func.count()).select_from(ALERT))


def bare_timeline(conn: Connection, container: str, body: dict[str, Any]) -> int:
    """The container's row, its entries, the parties named, the first page of its alerts."""
    rows = _rows(conn, select(CONTAINER).where(CONTAINER.c.digital_id == container))
    rows += _rows(conn, _entries_naming(container))
    named = {body["generator"]}
    named |= {e[k] for e in body["events"] for k in ("party", "counterparty") if e[k]}
    rows += _rows(conn, select(PARTY).where(PARTY.c.credit_code.in_(sorted(named))))
    linked = select(ALERT_CONTAINER.c.alert_id).where(ALERT_CONTAINER.c.container == container)
    return rows + _rows(conn, _listing(select(ALERT).where(ALERT.c.alert_id.in_(linked)), 101))


# --- measuring --------------------------------------------------------------------------------

QUERIES: dict[str, tuple[str, Callable[[Any], tuple[str, dict[str, str]]], Any]] = {
    "trips": ("GET /vehicles/{plate}/trips", lambda p: (f"/vehicles/{p}/trips", {}), bare_trips),
    "near": (
        "GET /alerts/near?bbox=",
        lambda b: ("/alerts/near", {"bbox": ",".join(str(x) for x in b)}),
        bare_near,
    ),
    "timeline": (
        "GET /containers/{id}/timeline",
        lambda c: (f"/containers/{c}/timeline", {}),
        bare_timeline,
    ),
}


def _settings(url: str, data_dir: Path) -> Settings:
    values: dict[str, Any] = {"database_url": url, "data_dir": data_dir, "checker": False,
                              "migrate_on_start": False, "key_encryption_key": KEK,
                              "log_level": "warning"}  # fmt: skip
    if "auth" in Settings.model_fields:  # the officers' sign-in: not what is measured here
        values["auth"] = False
    return Settings(**values)


def _serve(url: str, data_dir: Path, port: int) -> None:
    """The service as ``custody serve`` runs it: uvicorn on the app, in its own process."""
    uvicorn.run(create_app(_settings(url, data_dir)), host="127.0.0.1", port=port,
                log_level="warning")  # fmt: skip


@contextmanager
def served(url: str, data_dir: Path) -> Iterator[httpx2.Client]:
    """A client of the service running in another process on a free loopback port."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = multiprocessing.get_context("spawn").Process(
        target=_serve, args=(url, data_dir, port), daemon=True
    )
    server.start()
    try:
        with httpx2.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
            deadline = time.monotonic() + 60
            while True:
                try:
                    client.get("/healthz")
                    break
                except httpx2.TransportError:
                    if time.monotonic() > deadline or not server.is_alive():
                        raise SystemExit("the service did not start") from None
                    time.sleep(0.1)
            yield client
    finally:
        server.terminate()
        server.join(10)


def measure(url: str, args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """Each query's requests, each followed by its bare SQL; milliseconds, and rows seen."""
    engine = make_engine(url)
    params = _parameters(engine, args.requests, args.seed)
    results: dict[str, dict[str, Any]] = {}
    data_dir = CACHE / "service"
    data_dir.mkdir(parents=True, exist_ok=True)
    with served(url, data_dir) as client:
        for name, (_, route, bare) in QUERIES.items():
            chosen = params[name]
            app_ms, bare_ms, rows, items = [], [], 0, 0
            for k, value in enumerate(chosen[:WARM_UP] + chosen):
                path, query = route(value)
                start = time.perf_counter()
                response = client.get(path, params=query)  # the whole answer read
                took = (time.perf_counter() - start) * 1000
                body = response.json()
                if response.status_code != 200:
                    raise SystemExit(f"{path} {query}: {response.status_code} {response.text}")
                # No cycle collection in the floor: a full one over this process's parameters
                # and answers would be charged to the bare query.
                with engine.connect() as conn, cycle_collection_paused():
                    start = time.perf_counter()
                    seen = bare(conn, value, body)
                    bare_took = (time.perf_counter() - start) * 1000
                if k >= WARM_UP:
                    app_ms.append(took)
                    bare_ms.append(bare_took)
                    rows += seen
                    items += len(body.get("items", body.get("events", [])))
            results[name] = {"app": app_ms, "bare": bare_ms, "rows": rows, "items": items}
    engine.dispose()
    return results


def _p(values: list[float], q: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)]


def report(meta: dict[str, Any], url: str, results: dict[str, dict[str, Any]]) -> int:
    """The table; the number of queries measured."""
    alerts = meta["alerts"]
    print(
        f"\nprovince-month: {meta['events']:,} events, {meta['containers']:,} containers, "
        f"{meta['manifests']:,} manifests, {meta['plate_reads']:,} plate reads, "
        f"{meta['gps_fixes']:,} GPS fixes, {sum(alerts.values()):,} alerts "
        f"({', '.join(f'{n:,} {r}' for r, n in sorted(alerts.items()))})"
    )
    print(f"  database {make_engine(url).url.render_as_string(hide_password=True)}")
    head = (f"  {'query':<32} {'n':>4} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} "
            f"{'bare p95':>9} {'ratio':>6} {'rows/req':>9}  targets")  # fmt: skip
    print(f"\n{head}")
    measured = 0
    for name, r in results.items():
        app, bare = r["app"], r["bare"]
        if not app:
            print(f"  {QUERIES[name][0]:<32} nothing to ask (no parameters)")
            continue
        measured += 1
        p95, bare95 = _p(app, 0.95), _p(bare, 0.95)
        ratio = p95 / bare95 if bare95 > 0 else math.inf
        fast = "ok" if p95 < TARGET_MS else "OVER"
        close = "ok" if ratio <= TARGET_RATIO else "OVER"
        ok = f"{fast} {TARGET_MS:.0f} ms, {close} {TARGET_RATIO:.0f}x"
        print(
            f"  {QUERIES[name][0]:<32} {len(app):>4} {statistics.median(app):>8.1f} {p95:>8.1f} "
            f"{max(app):>8.1f} {bare95:>9.1f} {ratio:>6.1f} {r['rows'] / len(app):>9.0f}  {ok}"
        )
    print("  (bare: the same rows through the same indexes, SQLAlchemy Core, nothing decoded)")
    return measured


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--containers", type=int, default=100_000)
    parser.add_argument("--events-per-container", type=int, default=10)
    parser.add_argument("--batch", type=int, default=2000, help="Events per Ledger.append.")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--requests", type=int, default=200, help="Timed requests per query.")
    parser.add_argument("--fix-interval", type=int, default=30, help="Seconds between fixes.")
    parser.add_argument("--database-url", help="Measure this database (filled if empty).")
    parser.add_argument("--rebuild", action="store_true")
    args = parser.parse_args()

    name = (f"queries-c{args.containers}-e{args.events_per_container}-b{args.batch}"
            f"-s{args.seed}-i{args.fix_interval}-f{FORMAT}.sqlite3")  # fmt: skip
    path = CACHE / name
    if args.rebuild or not path.exists() or not path.with_suffix(".json").exists():
        print(f"building {path} ...")
        meta = build(path, args)
        print(f"built in {meta['build_s']:.0f} s")
    meta = json.loads(path.with_suffix(".json").read_text())
    url = f"sqlite:///{path}"
    upgrade(url)  # a cache built by an earlier version gets the migrations added since
    if args.database_url:
        copy_into(url, args.database_url)
        url = args.database_url
    if report(meta, url, measure(url, args)) == 0:
        sys.exit("nothing was measured")


if __name__ == "__main__":
    main()

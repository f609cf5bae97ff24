"""Signed events ingested per second over HTTP, next to their floors measured in the same run.

A real service (`custody serve`, one uvicorn process) on a fresh SQLite file, with parties,
drums and one enrolled device per client connection. A client of asyncio connections, each
its own device sending its own pre-signed events in order:

  single  one event per request, CONNECTIONS connections, closed loop (as fast as answered)
          vs the same requests with ?dry_run=true (every check, nothing appended)
  paced   one event per request at a fixed offered rate: the latency a checkpoint sees
  batch   BATCH events per request vs raw batched inserts of the same entry rows

Targets: single >= 40 % of validation-only, p99 < 25 ms at 32 connections; batch >= 50 % of
raw batched insert.

    .venv/bin/python bench/bench_ingest.py [--connections 32] [--per-connection 40]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import insert
from sqlmodel import Session

from api.auth import Access
from custody import _cose
from custody.access import Principal, Role
from custody.containers import Container, ContainerType, NewContainer, PhysicalForm
from custody.devices import Device, DeviceKind
from custody.digital_id import DigitalId, parse_digital_id
from custody.events import NO_PREVIOUS, CustodyEvent, Step, event_hash, sign_event
from custody.keyring import Keyring
from custody.keys import KeyRole, SigningKey
from custody.ledger import make_entry
from custody.parties import Party, PartyRole
from custody.registry import Registry
from storage.access_store import SqlAccessStore
from storage.container_store import SqlContainerStore
from storage.device_store import SqlDeviceStore
from storage.engine import make_engine
from storage.key_store import SqlKeyStore
from storage.migrate import upgrade
from storage.registry_store import SqlRegistryStore
from storage.tables import LedgerContainerRow, LedgerEntryRow, metadata

ROOT = Path(__file__).resolve().parent.parent
GENERATOR = "91510100MA61R8XQ02"
KEK = "bench-only key-encryption key"
NOW = datetime.now(UTC).replace(microsecond=0)


class Device_:  # noqa: N801  # a bench device, not the core's Device
    """A scanner with its own key, its drum, its counter and its chain."""

    def __init__(self, n: int) -> None:
        self.key = SigningKey.from_private(
            Ed25519PrivateKey.generate(), name=f"{GENERATOR}/device/{n + 1}", owner=GENERATOR,
            role=KeyRole.DEVICE, valid_from=NOW - timedelta(days=1),
            valid_until=NOW + timedelta(days=30),
        )  # fmt: skip
        self.drum = DigitalId(GENERATOR, "900-249-08", date(2026, 11, 1), n + 1).text
        self.counter, self.last = 0, NO_PREVIOUS

    def events(self, n: int) -> list[bytes]:
        out = []
        for _ in range(n):
            self.counter += 1
            event = CustodyEvent(
                event_id=str(uuid.uuid4()), step=Step.STORING, containers=(self.drum,),
                party=GENERATOR, device=self.key.record.name, counter=self.counter,
                event_time=NOW, prev=(self.last,),
            )  # fmt: skip
            message = sign_event(event, self.key)
            self.last = event_hash(message)
            out.append(message)
        return out


def _setup(url: str, devices: list[Device_]) -> str:
    """Parties, drums and devices in a fresh database; the scanners' token, returned."""
    upgrade(url)
    engine = make_engine(url)
    with Session(engine) as session:
        access = Access(SqlAccessStore(session))
        access.create_account(Principal("bench-scanners", Role.GENERATOR, party=GENERATOR,
                                        device=True))  # fmt: skip
        _, token = access.issue("bench-scanners", days=1)
        Registry(SqlRegistryStore(session)).register_party(
            Party(GENERATOR, "基准测试产废单位", frozenset({PartyRole.GENERATOR}))
        )
        keys, store = SqlKeyStore(session), SqlDeviceStore(session)
        containers = SqlContainerStore(session)
        for d in devices:
            keys.insert_key(d.key.record, None)
            store.insert_device(Device(d.key.record.name, DeviceKind.HANDHELD, GENERATOR, "", NOW))
            facts = NewContainer(GENERATOR, "900-249-08", date(2026, 11, 1), PhysicalForm.LIQUID,
                                 ContainerType.DRUM, 200, 150_000)  # fmt: skip
            containers.insert_container(Container(parse_digital_id(d.drum), "2021", facts))
        Keyring(keys, KEK.encode()).publish()
    engine.dispose()
    return token


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def _service(url: str, data_dir: Path, port: int):  # noqa: ANN202  # a context manager
    env = {**os.environ, "CUSTODY_DATABASE_URL": url, "CUSTODY_DATA_DIR": str(data_dir),
           "CUSTODY_KEY_ENCRYPTION_KEY": KEK, "CUSTODY_LOG_LEVEL": "warning",
           "CUSTODY_MIGRATE_ON_START": "false", "PYTHONPATH": str(ROOT),
           # The scanners sign in with a token (its look-up is part of each request); the write
           # limits are lifted: they are not what is measured.
           "CUSTODY_WRITE_RATE_PER_MINUTE": "1000000",
           "CUSTODY_WRITE_BURST": "1000000"}  # fmt: skip
    proc = subprocess.Popen(  # noqa: S603  # our own interpreter and command
        [str(Path(sys.executable).parent / "custody"), "serve", "--port", str(port)],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        for _ in range(400):
            with contextlib.suppress(OSError):
                urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/healthz", timeout=1
                ).read()  # loopback
                break
            time.sleep(0.05)
        yield proc
    finally:
        proc.terminate()
        proc.wait()


def _request(port: int, messages: list[bytes], *, dry_run: bool, token: str) -> bytes:
    body = json.dumps({"events": [base64.b64encode(m).decode() for m in messages]}).encode()
    path = "/events?dry_run=true" if dry_run else "/events"
    head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Authorization: Bearer {token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n")  # fmt: skip
    return head.encode() + body


async def _exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                    raw: bytes) -> int:  # fmt: skip
    writer.write(raw)
    await writer.drain()
    status_line = await reader.readline()
    length = 0
    while (line := await reader.readline()) not in {b"\r\n", b""}:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    await reader.readexactly(length)
    return int(status_line.split()[1])


async def _client(port: int, requests: list[bytes], latencies: list[float],
                  interval: float | None, start_at: float) -> None:  # fmt: skip
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    loop = asyncio.get_running_loop()
    for i, raw in enumerate(requests):
        if interval is not None:  # open loop: send at the planned time, late or not
            await asyncio.sleep(max(0.0, start_at + i * interval - loop.time()))
        began = time.perf_counter()
        status = await _exchange(reader, writer, raw)
        if status not in {200, 201}:
            raise SystemExit(f"the service answered {status}")
        latencies.append(time.perf_counter() - began)
    writer.close()


def _run(
    port: int, per_client: list[list[bytes]], rate: float | None = None
) -> tuple[float, list[float]]:  # one signature line
    latencies: list[float] = []

    async def main() -> float:
        loop = asyncio.get_running_loop()
        start_at = loop.time() + 0.2
        interval = len(per_client) / rate if rate else None
        began = time.perf_counter()
        await asyncio.gather(*(
            _client(port, reqs, latencies, interval, start_at + (k / rate if rate else 0))
            for k, reqs in enumerate(per_client)
        ))  # fmt: skip
        return time.perf_counter() - began - (0.2 if rate else 0)

    elapsed = asyncio.run(main())
    return sum(len(r) for r in per_client) / elapsed, latencies


def _p(latencies: list[float], q: float) -> float:
    return statistics.quantiles(latencies, n=1000)[int(q * 1000) - 1] * 1000


def _raw_batched_insert(url: str, messages: list[bytes], batch: int) -> float:
    upgrade(url)
    engine = make_engine(url)
    entry_t = metadata.tables[LedgerEntryRow.__tablename__]
    cont_t = metadata.tables[LedgerContainerRow.__tablename__]
    rows = [({"idx": i, "event_id": str(uuid.uuid4()), "event_hash": event_hash(m),
              "leaf_hash": bytes(32), "entry": make_entry(NOW, m), "received_at": NOW,
              "device": "bench", "counter": i},
             {"container": f"drum-{i}", "idx": i, "event_hash": event_hash(m)})
            for i, m in enumerate(messages)]  # fmt: skip
    start = time.perf_counter()
    for i in range(0, len(rows), batch):
        chunk = rows[i : i + batch]
        with engine.begin() as conn:
            conn.execute(insert(entry_t), [r[0] for r in chunk])
            conn.execute(insert(cont_t), [r[1] for r in chunk])
    elapsed = time.perf_counter() - start
    engine.dispose()
    return len(rows) / elapsed


def _raw_verify(messages: list[bytes], device: Device_) -> float:
    key = device.key.record.verifier()
    parsed = [_cose.parse_sign1(m) for m in messages]
    start = time.perf_counter()
    for sign1 in parsed:
        sign1.verify(key)
    return len(parsed) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--per-connection", type=int, default=40)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--batches", type=int, default=8)
    args = parser.parse_args()
    conns, per = args.connections, args.per_connection

    singles = [Device_(n) for n in range(conns)]
    batchers = [Device_(conns + n) for n in range(args.batches)]
    paced = [Device_(conns + args.batches + n) for n in range(conns)]
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'ingest.sqlite3'}"
        token = _setup(url, singles + batchers + paced)
        port = _free_port()
        single_events = [d.events(per) for d in singles]
        with _service(url, Path(tmp), port):

            def post(messages: list[bytes], *, dry_run: bool = False) -> bytes:
                return _request(port, messages, dry_run=dry_run, token=token)

            as_requests = [[post([m], dry_run=True) for m in ms] for ms in single_events]
            _run(port, [r[:3] for r in as_requests])  # warm up: imports, caches, first bundle
            validate, v_lat = _run(port, as_requests)
            single, s_lat = _run(port, [[post([m]) for m in ms] for ms in single_events])
            offered = single * 0.5
            paced_rate, p_lat = _run(port, [[post([m]) for m in d.events(per // 2)] for d in paced],
                                     rate=offered)  # fmt: skip
            batch_msgs = [d.events(args.batch) for d in batchers]
            batched, _ = _run(port, [[post(ms)] for ms in batch_msgs])
        batch_rate = batched * args.batch
        verify = _raw_verify(batch_msgs[0], batchers[0])
        raw = _raw_batched_insert(f"sqlite:///{Path(tmp) / 'raw.sqlite3'}",
                                  [m for ms in batch_msgs for m in ms], args.batch)  # fmt: skip

    print(f"SQLite (WAL, FULL), one uvicorn process, {conns} connections, 2 cores shared with "
          "the client")  # fmt: skip
    print(f"  validation only (dry run), 1 event/request   {validate:>9,.0f} req/s   "
          f"p50 {_p(v_lat, .5):6.1f} ms  p99 {_p(v_lat, .99):6.1f} ms")  # fmt: skip
    print(f"  ingest, 1 event/request                      {single:>9,.0f} req/s   "
          f"p50 {_p(s_lat, .5):6.1f} ms  p99 {_p(s_lat, .99):6.1f} ms")  # fmt: skip
    print(f"  ingest paced at {offered:,.0f} req/s offered           {paced_rate:>9,.0f} req/s   "
          f"p50 {_p(p_lat, .5):6.1f} ms  p99 {_p(p_lat, .99):6.1f} ms")  # fmt: skip
    print(f"  ingest, {args.batch} events/request               {batch_rate:>9,.0f} events/s")
    print(f"  raw batched insert of the same rows          {raw:>9,.0f} events/s")
    print(f"  raw Ed25519 verify of the same events, 1 core {verify:>9,.0f} events/s")
    print(f"  single / validation only = {single / validate:.2f}  (target >= 0.40)")
    print(f"  batch / raw batched insert = {batch_rate / raw:.2f}  (target >= 0.50)")
    floor = 1 / (1 / verify + 1 / raw)
    print(f"  batch / (raw verify then raw insert = {floor:,.0f}/s) = {batch_rate / floor:.2f}")
    print(
        f"  p99 at {conns} connections, closed loop = {_p(s_lat, 0.99):.1f} ms; "
        f"paced at half the peak = {_p(p_lat, 0.99):.1f} ms  (target < 25 ms)"
    )


if __name__ == "__main__":
    main()

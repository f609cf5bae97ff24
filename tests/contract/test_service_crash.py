"""The real service, killed with kill -9 in the middle of ingest and started again: every
acknowledged event is there, a retry of what was in flight adds no duplicate, and the ledger
audits clean."""

from __future__ import annotations

import base64
import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from sqlmodel import Session

from custody.audit import audit
from custody.events import Step
from custody.keyring import Keyring
from storage.engine import make_engine
from storage.key_store import SqlKeyStore
from storage.ledger_store import SqlLedgerStore
from tests.conftest import GENERATOR_CODE
from tests.ledger_fixtures import BUNDLE, Scanner, drum, enroll_scanners
from tests.support.live_service import AUTH, seed_admin

if TYPE_CHECKING:
    from collections.abc import Iterator

    from custody.events import SignedEvent

ROOT = Path(__file__).resolve().parents[2]
DRUMS = 60
KEK = "tests-only key-encryption key"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def _service(url: str, data_dir: Path, port: int) -> Iterator[subprocess.Popen[bytes]]:
    env = {**os.environ, "CUSTODY_DATABASE_URL": url, "CUSTODY_DATA_DIR": str(data_dir),
           "CUSTODY_KEY_ENCRYPTION_KEY": KEK, "CUSTODY_LOG_ORIGIN": "custody.test/log",
           "CUSTODY_MIGRATE_ON_START": "false", "PYTHONPATH": str(ROOT),
           # Durability is under test, not limits: a 429 would leave a batch out of order.
           "CUSTODY_WRITE_RATE_PER_MINUTE": "1000000", "CUSTODY_WRITE_BURST": "100000"}  # fmt: skip
    proc = subprocess.Popen(  # noqa: S603  # our own interpreter and command
        [str(Path(sys.executable).parent / "custody"), "serve", "--port", str(port)],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        for _ in range(200):
            with contextlib.suppress(OSError):
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1).read()
                break
            time.sleep(0.05)
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def _post(port: int, events: list[SignedEvent]) -> bool:
    body = '{"events": [%s]}' % ",".join(  # noqa: UP031  # a tiny JSON body by hand
        f'"{base64.b64encode(e.message).decode()}"' for e in events
    )
    request = urllib.request.Request(  # loopback URL we built
        f"http://127.0.0.1:{port}/events", data=body.encode(), method="POST",
        headers={"Content-Type": "application/json", **AUTH},
    )  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status in {200, 201}
    except OSError:
        return False


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    drop = None
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'service.sqlite3'}"
    else:  # a database of its own: the service commits keys with its own KEK
        from sqlalchemy import text  # noqa: PLC0415

        from tests.conftest import POSTGRES_SERVER, _require_postgres  # noqa: PLC0415

        admin = make_engine(POSTGRES_SERVER).execution_options(isolation_level="AUTOCOMMIT")
        name = f"custody_crash_{os.getpid()}"
        try:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
                conn.execute(text(f'CREATE DATABASE "{name}"'))
        except Exception as exc:  # noqa: BLE001  # reported as a skip or, in CI, a failure
            _require_postgres(str(exc).splitlines()[0])
        url = (
            make_engine(POSTGRES_SERVER)
            .url.set(database=name)
            .render_as_string(hide_password=False)
        )

        def drop() -> None:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()

    seed_admin(url)
    engine = make_engine(url)
    enroll_scanners(engine, KEK.encode(), DRUMS, register_parties=True)
    engine.dispose()
    yield url
    if drop is not None:
        drop()


def test_service_killed_mid_ingest_loses_nothing_acknowledged(
    database: str, tmp_path: Path
) -> None:
    scanner = Scanner(GENERATOR_CODE)
    acknowledged: list[str] = []
    sent: list[list[SignedEvent]] = []
    port = _free_port()
    with _service(database, tmp_path, port) as proc:
        stop = threading.Event()

        def client() -> None:
            b = 0
            while not stop.is_set():  # a scanner uploading its queue, batch after batch
                n = 5 * b
                batch = [scanner.scan(Step.COMMISSIONING, drum(1 + (n + i) % DRUMS), seed=n + i)
                         for i in range(5)]  # fmt: skip
                b += 1
                sent.append(batch)
                if _post(port, batch):
                    acknowledged.extend(e.event.event_id for e in batch)

        thread = threading.Thread(target=client)
        thread.start()
        time.sleep(2.5)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        stop.set()
        thread.join()
    assert acknowledged, "nothing was acknowledged before the kill"
    assert len(sent) > len(acknowledged) // 5  # at least one batch was in flight or refused

    with _service(database, tmp_path, port):  # restart; the client retries what was unconfirmed
        unconfirmed = [b for b in sent if b[0].event.event_id not in set(acknowledged)]
        for batch in unconfirmed:
            assert _post(port, batch)

    engine = make_engine(database)
    store = SqlLedgerStore(engine)
    stored = [e.event_id for e in store.entries(0, store.state().size)]
    assert set(acknowledged) <= set(stored)
    assert len(stored) == len(set(stored)) == sum(len(b) for b in sent)
    with Session(engine) as session:
        log = Keyring(SqlKeyStore(session), KEK.encode()).log_key().record.verifier_key
    report = audit(store, log, BUNDLE, workers=1)
    engine.dispose()
    assert report.ok, report.problems[:5]

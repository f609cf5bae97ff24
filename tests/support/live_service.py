"""The real service on loopback for the scanner tests, and a mobile link that can be cut.

:class:`Service` runs ``custody serve`` in a subprocess on its own SQLite database (settings
given explicitly, as tests/contract/test_service_crash.py does). :class:`Link` is a TCP relay
between the scanner and the service, one request per connection as ``urllib`` makes them; it
can drop the answer of the n-th ``POST /events`` after the service processed it, and go down.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlmodel import Session

from api.auth import Access
from custody.access import Principal, Role
from custody.credentials import secret_digest
from custody.errors import AlreadyRegistered
from storage.access_store import SqlAccessStore, TokenRecord
from storage.engine import make_engine
from storage.migrate import upgrade
from tests.conftest import GENERATOR_CODE, TRANSPORTER_CODE

ROOT = Path(__file__).resolve().parents[2]
KEK = "tests-only key-encryption key"
DRUM = {"generator": GENERATOR_CODE, "waste_code": "900-249-08", "generated_on": "2026-03-05",
        "form": "L", "container_type": "DR", "capacity_l": 200,
        "declared_net_mass_kg": 182.5}  # fmt: skip


#: The administrator's token on every test service: fixed, so a scanner pointed through a relay
#: or at a copy of the database carries the same one.
_SECRET = "t" * 43
TOKEN = f"cst_{'0' * 12}_{_SECRET}"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def seed_admin(url: str) -> None:
    """The test administrator and its fixed token in the database at ``url`` (migrated first)."""
    upgrade(url)
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            access = Access(SqlAccessStore(session))
            with contextlib.suppress(AlreadyRegistered):
                access.create_account(Principal("test-admin", Role.ADMINISTRATOR))
            if access.store.token("0" * 12) is None:
                now = datetime.now(UTC)
                access.store.add_token(TokenRecord("0" * 12, "test-admin", secret_digest(_SECRET),
                                                   session=False, label="tests",
                                                   created_at=now,
                                                   expires_at=now + timedelta(days=1),
                                                   revoked_at=None))  # fmt: skip
    finally:
        engine.dispose()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def get(url: str) -> bytes:
    request = urllib.request.Request(url, headers=AUTH)  # noqa: S310  # loopback
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310  # loopback
        return bytes(response.read())


def post(url: str, body: object) -> dict[str, object]:
    request = urllib.request.Request(  # noqa: S310  # loopback
        url, data=json.dumps(body).encode(), method="POST",
        headers={"Content-Type": "application/json", **AUTH},
    )  # fmt: skip
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310  # loopback
        answer: dict[str, object] = json.loads(response.read())
        return answer


class Service:
    """``custody serve`` on its own database, started and killed at will."""

    def __init__(self, database: Path, port: int | None = None) -> None:
        self.database = database
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Service:
        seed_admin(f"sqlite:///{self.database}")
        env = {**os.environ, "CUSTODY_DATABASE_URL": f"sqlite:///{self.database}",
               "CUSTODY_DATA_DIR": str(self.database.parent),
               "CUSTODY_KEY_ENCRYPTION_KEY": KEK, "CUSTODY_LOG_ORIGIN": "custody.test/log",
               "CUSTODY_MIGRATE_ON_START": "true", "PYTHONPATH": str(ROOT)}  # fmt: skip
        self._proc = subprocess.Popen(  # noqa: S603  # our own interpreter and command
            [str(Path(sys.executable).parent / "custody"), "serve", "--port", str(self.port)],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        for _ in range(400):
            with contextlib.suppress(OSError):
                get(f"{self.url}/healthz")
                return self
            assert self._proc.poll() is None, "the service exited while starting"
            time.sleep(0.025)
        raise AssertionError("the service did not start")

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()


def registry(url: str, drums: int) -> tuple[list[str], list[str]]:
    """Parties, a generator label key, ``drums`` containers and their labels; the log key."""
    post(f"{url}/parties", {"credit_code": GENERATOR_CODE, "name": "成都蓉新化工有限公司",
                            "roles": ["generator"]})  # fmt: skip
    post(f"{url}/parties", {"credit_code": TRANSPORTER_CODE, "name": "四川危运物流有限公司",
                            "roles": ["transporter"]})  # fmt: skip
    post(f"{url}/keys", {"owner": GENERATOR_CODE})
    ids = [str(post(f"{url}/containers", DRUM)["digital_id"]) for _ in range(drums)]
    labels = [str(post(f"{url}/containers/{i}/labels", {})["text"]) for i in ids]
    with contextlib.suppress(urllib.error.HTTPError):  # 404: empty, but the log key now exists
        get(f"{url}/ledger/checkpoint")
    return ids, labels


def ledger_event_ids(url: str, containers: list[str]) -> list[str]:
    """The event ids the ledger holds for these containers (each event once per container)."""
    return [str(item["event_id"]) for c in sorted(set(containers))
            for item in json.loads(get(f"{url}/containers/{c}/history"))]  # fmt: skip


class Link:
    """The mobile link: a TCP relay to the service.

    ``cut_on_post = n``: the n-th ``POST /events`` reaches the service and is processed, but
    its answer is dropped and the link goes down (every later connection is closed at once),
    as when a truck drives into a tunnel while the server is answering.
    """

    def __init__(self, upstream: int, port: int | None = None) -> None:
        self.upstream = upstream
        self.cut_on_post: int | None = None
        self.down = False
        self.posts = 0
        self.posted_bodies: list[bytes] = []
        self._listener = socket.create_server(("127.0.0.1", port or 0))
        self.port = int(self._listener.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # closed
            threading.Thread(target=self._relay, args=(client,), daemon=True).start()

    def _relay(self, client: socket.socket) -> None:
        with client:
            if self.down:
                return
            request = _read_request(client)
            is_post = request.startswith(b"POST /events")
            if is_post:
                self.posts += 1
                self.posted_bodies.append(request.split(b"\r\n\r\n", 1)[1])
            with socket.create_connection(("127.0.0.1", self.upstream)) as upstream:
                upstream.sendall(request)
                response = b""
                while chunk := upstream.recv(65536):
                    response += chunk
            if is_post and self.posts == self.cut_on_post:
                self.down = True  # the service acted; the answer never reaches the truck
                return
            client.sendall(response)

    def close(self) -> None:
        self._listener.close()


def _read_request(sock: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(body) < length:
        body += sock.recv(65536)
    return head + b"\r\n\r\n" + body

"""Scanners over HTTP: enrolment with the device's own key, ingest checks, revocation, anomalies."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient
from pydantic import SecretStr

from api.app import create_app
from api.settings import Settings
from custody.events import NO_PREVIOUS, CustodyEvent, Step, sign_event
from custody.keys import KeyRole, PublicKeyRecord, SigningKey
from tests.conftest import GENERATOR_CODE, TRANSPORTER_CODE
from tests.support.access import sign_in

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(
        data_dir=tmp_path,
        database_url=f"sqlite:///{tmp_path / 'devices.sqlite3'}",
        key_encryption_key=SecretStr("tests-only key-encryption key"),
    )
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        sign_in(client)
        for code, role in [(GENERATOR_CODE, "generator"), (TRANSPORTER_CODE, "transporter")]:
            party = {"credit_code": code, "name": f"单位{code[-4:]}", "roles": [role]}
            assert client.post("/parties", json=party).status_code == 201
        yield client


class Phone:
    """A scanner that made its own key and enrolled it."""

    def __init__(self, client: TestClient, owner: str = GENERATOR_CODE) -> None:
        self.private = Ed25519PrivateKey.generate()
        raw = self.private.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        body = {"owner": owner, "kind": "phone", "public_key": base64.b64encode(raw).decode()}
        response = client.post("/devices", json=body)
        assert response.status_code == 201, response.text
        self.device = response.json()
        self.owner, self.counter, self.client = owner, 0, client
        now = datetime.fromisoformat(self.device["valid_from"])
        record = PublicKeyRecord(self.device["name"], owner, KeyRole.DEVICE, raw, now,
                                 datetime.fromisoformat(self.device["valid_until"]))  # fmt: skip
        self.key = SigningKey(record, self.private)

    def scan(self, container: str, step: Step = Step.COMMISSIONING, **extra: object) -> str:
        self.counter += 1
        event = CustodyEvent(
            event_id=str(uuid.uuid4()), step=step, containers=(container,), party=self.owner,
            device=self.device["name"], counter=extra.pop("counter", self.counter),  # type: ignore[arg-type]
            event_time=datetime.now(UTC), prev=(NO_PREVIOUS,), **extra,  # type: ignore[arg-type]
        )  # fmt: skip
        return base64.b64encode(sign_event(event, self.key)).decode()


def _container(client: TestClient) -> str:
    body = {
        "generator": GENERATOR_CODE, "waste_code": "900-041-49", "generated_on": "2026-11-20",
        "form": "L", "container_type": "DR", "capacity_l": 200, "declared_net_mass_kg": 150,
    }  # fmt: skip
    response = client.post("/containers", json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["digital_id"])


def test_a_device_enrols_its_own_public_key_and_its_events_are_accepted(
    client: TestClient,
) -> None:
    phone, drum = Phone(client), _container(client)
    assert phone.device["name"] == f"{GENERATOR_CODE}/device/1"
    assert phone.device["kind_zh"] == "手机"
    response = client.post("/events", json={"events": [phone.scan(drum)]})
    assert response.status_code == 201, response.text
    assert response.json()["receipts"][0]["index"] == 0


def test_enrolling_the_same_key_again_returns_the_same_device(client: TestClient) -> None:
    phone = Phone(client)
    again = client.post("/devices", json={
        "owner": GENERATOR_CODE, "kind": "phone",
        "public_key": base64.b64encode(phone.key.record.public_key).decode(),
    })  # fmt: skip
    assert again.status_code == 200
    assert again.json()["name"] == phone.device["name"]
    assert (
        client.get("/devices", params={"owner": GENERATOR_CODE}).json()[0]["name"]
        == (phone.device["name"])
    )


def test_the_same_key_for_another_party_is_a_conflict(client: TestClient) -> None:
    phone = Phone(client)
    response = client.post("/devices", json={
        "owner": TRANSPORTER_CODE, "kind": "phone",
        "public_key": base64.b64encode(phone.key.record.public_key).decode(),
    })  # fmt: skip
    assert response.status_code == 409


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"owner": "91510100MA61R8XQ0X", "kind": "phone", "public_key": "AAAA"}, 422,
         "credit-code-invalid"),
        ({"owner": "91330100MA27XYZ451", "kind": "phone",
          "public_key": base64.b64encode(bytes(32)).decode()}, None, None),
        ({"owner": GENERATOR_CODE, "kind": "phone", "public_key": "%%%"}, 422, "record-invalid"),
        # non-ASCII made b64decode raise ValueError, not binascii.Error: a 500 (fuzz)
        ({"owner": GENERATOR_CODE, "kind": "phone", "public_key": "公钥"}, 422, "record-invalid"),
        ({"owner": GENERATOR_CODE, "kind": "phone", "public_key": "AAAA"}, 422, "record-invalid"),
        ({"owner": GENERATOR_CODE, "kind": "toaster", "public_key": "AAAA"}, 422, None),
    ],
)  # fmt: skip
def test_bad_enrolments_get_problem_details(
    client: TestClient, body: dict[str, str], status: int | None, code: str | None
) -> None:
    response = client.post("/devices", json=body)
    assert response.headers["content-type"].startswith("application/problem+json")
    if status is not None:
        assert response.status_code == status
    else:  # a well-formed code of a party nobody registered (or a bad check character)
        assert response.status_code in {404, 422}
    if code is not None:
        assert response.json()["code"] == code


def test_a_revoked_device_is_refused_from_then_on(client: TestClient) -> None:
    phone, drum = Phone(client), _container(client)
    assert client.post("/events", json={"events": [phone.scan(drum)]}).status_code == 201
    name = phone.device["name"]
    revoked = client.post(f"/devices/{name}/revocation", json={"reason": "phone stolen"})
    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"] is not None
    response = client.post("/events", json={"events": [phone.scan(drum, Step.PACKING)]})
    assert response.status_code == 422
    assert response.json()["context"]["events"][0]["code"] == "key-revoked"
    kinds = [a["kind"] for a in client.get(f"/devices/{name}/anomalies").json()]
    assert kinds == ["revoked-key"]


def test_a_cloned_device_is_refused_and_shows_in_its_anomalies(client: TestClient) -> None:
    phone, drum = Phone(client), _container(client)
    first = phone.scan(drum)
    assert client.post("/events", json={"events": [first]}).status_code == 201
    clone = phone.scan(drum, Step.PACKING, counter=1)  # the copy's counter was also at 1
    response = client.post("/events", json={"events": [clone]})
    assert response.status_code == 422
    assert response.json()["context"]["events"][0]["code"] == "counter-reused"
    (anomaly,) = client.get(f"/devices/{phone.device['name']}/anomalies").json()
    assert anomaly["kind"] == "cloned-device"
    assert (anomaly["related_index"], anomaly["evidence"]) == (0, clone)


def test_a_dry_run_checks_without_appending(client: TestClient) -> None:
    phone, drum = Phone(client), _container(client)
    response = client.post("/events", params={"dry_run": True},
                           json={"events": [phone.scan(drum)]})  # fmt: skip
    assert (response.status_code, response.json()["receipts"]) == (200, [])
    assert client.get("/ledger/checkpoint").status_code == 404


def test_an_unknown_device_name_is_404(client: TestClient) -> None:
    response = client.get(f"/devices/{GENERATOR_CODE}/device/9")
    assert (response.status_code, response.json()["code"]) == (404, "device-unknown")

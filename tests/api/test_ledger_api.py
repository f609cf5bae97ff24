"""The ledger over HTTP on a fresh database: append, receipts, proofs, history, evidence."""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from api.app import create_app
from api.settings import Settings
from custody.checkpoint import Checkpoint, open_note
from custody.events import Step
from custody.evidence import EvidenceBundle, verify_bundle
from custody.keys import VerifierKey
from storage.engine import make_engine
from tests.conftest import GENERATOR_CODE, TRANSPORTER_CODE
from tests.ledger_fixtures import Scanner, drum, enroll_scanners
from tests.support.access import sign_in

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

KEK = SecretStr("tests-only key-encryption key")


@pytest.fixture
def ledger_client(tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(  # its own database, whatever CUSTODY_DATABASE_URL says
        data_dir=tmp_path,
        database_url=f"sqlite:///{tmp_path / 'ledger.sqlite3'}",
        key_encryption_key=KEK,
        log_origin="custody.test/log",
    )
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        sign_in(client)
        for code, role in [(GENERATOR_CODE, "generator"), (TRANSPORTER_CODE, "transporter")]:
            party = {"credit_code": code, "name": f"单位{code[-4:]}", "roles": [role]}
            assert client.post("/parties", json=party).status_code == 201
        engine = make_engine(settings.effective_database_url)
        enroll_scanners(engine, KEK.get_secret_value().encode())  # devices hold their own keys
        engine.dispose()
        yield client


def _post(client: TestClient, *events: object) -> dict[str, object]:
    body = {"events": [base64.b64encode(e.message).decode() for e in events]}  # type: ignore[attr-defined]
    response = client.post("/events", json=body)
    assert response.status_code in {200, 201}, response.text
    return response.json()


def test_append_returns_receipts_that_verify(ledger_client: TestClient) -> None:
    gen = Scanner(GENERATOR_CODE)
    receipts = _post(
        ledger_client, gen.scan(Step.COMMISSIONING, drum(1)), gen.scan(Step.PACKING, drum(1))
    )["receipts"]
    assert [r["index"] for r in receipts] == [0, 1]  # type: ignore[index]
    note = ledger_client.get("/ledger/checkpoint").text.encode()
    point = Checkpoint.parse_body(note.split(b"\n\n")[0] + b"\n")
    assert (point.origin, point.size) == ("custody.test/log", 2)
    again = ledger_client.post(
        "/events",
        json={"events": [base64.b64encode(gen.scan(Step.COMMISSIONING, drum(2)).message).decode()]},
    )
    assert again.status_code == 201
    consistency = ledger_client.get("/ledger/consistency", params={"old": 2, "new": 3}).json()
    assert len(consistency["proof"]) >= 1


def test_bad_events_are_each_named_and_nothing_is_appended(ledger_client: TestClient) -> None:
    gen = Scanner(GENERATOR_CODE)
    good = base64.b64encode(gen.scan(Step.COMMISSIONING, drum(1)).message).decode()
    response = ledger_client.post(
        "/events", json={"events": [good, "%%%", base64.b64encode(b"junk").decode()]}
    )
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "events-refused"
    assert [e["position"] for e in body["context"]["events"]] == [1, 2]
    assert body["context"]["events"][1]["code"] == "event-malformed"
    assert ledger_client.get("/ledger/checkpoint").status_code == 404


def test_a_non_ascii_event_is_refused_as_not_base64(ledger_client: TestClient) -> None:
    # b64decode raises ValueError, not binascii.Error, on non-ASCII text: it was a 500 (fuzz)
    response = ledger_client.post("/events", json={"events": ["AAAA", "事件"]})
    assert response.status_code == 422
    refused = response.json()["context"]["events"]
    codes = [(e["position"], e["code"]) for e in refused]
    assert codes == [(0, "event-malformed"), (1, "not-base64")]


def test_replay_returns_the_original_receipt(ledger_client: TestClient) -> None:
    event = Scanner(GENERATOR_CODE).scan(Step.COMMISSIONING, drum(1))
    first = _post(ledger_client, event)["receipts"][0]  # type: ignore[index]
    second = ledger_client.post(
        "/events", json={"events": [base64.b64encode(event.message).decode()]}
    )
    assert second.status_code == 200
    assert second.json()["receipts"][0]["index"] == first["index"]
    assert second.json()["receipts"][0]["duplicate"] is True


def test_history_and_evidence_of_a_container(ledger_client: TestClient) -> None:
    gen, truck = Scanner(GENERATOR_CODE), Scanner(TRANSPORTER_CODE)
    _post(ledger_client, gen.scan(Step.COMMISSIONING, drum(1)))
    truck.follow(gen)
    _post(ledger_client, truck.scan(Step.LOADING, drum(1), minutes=20, vehicle="川A12345"))
    history = ledger_client.get(f"/containers/{drum(1)}/history").json()
    assert [h["step"] for h in history] == ["commissioning", "loading"]
    assert history[1]["vehicle"] == "川A12345"

    evidence = ledger_client.get(f"/containers/{drum(1)}/evidence")
    root = VerifierKey.parse(ledger_client.get("/trust-bundle/root").json()["public_key"])
    report = verify_bundle(EvidenceBundle.from_json(evidence.text), trust_root=root)
    assert len(report.events) == 2
    assert report.origin == "custody.test/log"
    assert open_note  # imported for the checkpoint parse above


def test_the_head_a_scanner_links_its_next_scan_to(ledger_client: TestClient) -> None:
    gen = Scanner(GENERATOR_CODE)

    def head(container: str) -> dict[str, object]:
        answer: dict[str, object] = ledger_client.get(f"/containers/{container}/head").json()
        return answer

    assert head(drum(1)) == {"container": drum(1), "index": None, "event_hash": None}
    _post(ledger_client, gen.scan(Step.COMMISSIONING, drum(1)),
          gen.scan(Step.COMMISSIONING, drum(2)))  # fmt: skip
    made = gen.scan(Step.CONSOLIDATING, drum(1), drum(2), parent=drum(3), minutes=5)
    _post(ledger_client, made)
    assert head(drum(1)) == {"container": drum(1), "index": 2, "event_hash": made.event_hash.hex()}
    assert head(drum(3))["index"] is None  # made by the consolidation: no chain of its own yet
    first = gen.scan(Step.PACKING, drum(3), minutes=6)
    _post(ledger_client, first)
    assert head(drum(3))["event_hash"] == first.event_hash.hex()
    history = ledger_client.get(f"/containers/{drum(3)}/history").json()
    assert [h["step"] for h in history] == ["consolidating", "packing"]


def test_epcis_of_a_container(ledger_client: TestClient) -> None:
    gen = Scanner(GENERATOR_CODE)
    _post(ledger_client, gen.scan(Step.COMMISSIONING, drum(1)), gen.scan(Step.PACKING, drum(1)))
    response = ledger_client.get(f"/containers/{drum(1)}/epcis")
    assert response.headers["content-type"].startswith("application/ld+json")
    doc = response.json()
    assert doc["type"] == "EPCISDocument"
    assert [e["disposition"] for e in doc["epcisBody"]["eventList"]] == [
        "active",
        "container_closed",
    ]

"""The PDF evidence report of an alert: over HTTP and from `custody evidence report`."""

from __future__ import annotations

import base64
import hashlib
import re
from datetime import timedelta
from typing import TYPE_CHECKING

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from typer.testing import CliRunner

from api.app import create_app
from api.cli import app as cli
from api.settings import Settings
from custody.alerts import Alert, Alerts, Severity
from custody.events import Step
from custody.sightings import PlateRead
from storage.alert_store import SqlAlertStore
from storage.engine import make_engine
from storage.sighting_store import SqlSightingStore
from tests.conftest import GENERATOR_CODE, TRANSPORTER_CODE
from tests.ledger_fixtures import T0, Scanner, drum, enroll_scanners
from tests.support.access import sign_in

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

KEK = SecretStr("tests-only key-encryption key")
ORIGIN = "custody.test/log"
PLATE = "川A12345"
LAYERS = {
    "legal_path": {"type": "LineString", "coordinates": [[104.06, 30.57], [104.10, 30.60]]},
    "sightings": {"type": "MultiPoint", "coordinates": [[104.07, 30.58]]},
}


def _text(pdf: bytes) -> str:
    """The invisible text layer: every UCS-2 hex string shown with Tj."""
    runs = re.findall(rb"<([0-9A-F]+)> Tj", pdf)
    return "\n".join(bytes.fromhex(r.decode()).decode("utf-16-be") for r in runs)


def _attachments(pdf: bytes) -> list[bytes]:
    found = re.findall(rb"/Type /EmbeddedFile [^>]*/Length (\d+) >>\nstream\n", pdf)
    out, at = [], 0
    for length in found:
        at = pdf.index(b"/Type /EmbeddedFile", at)
        start = pdf.index(b"stream\n", at) + len(b"stream\n")
        out.append(pdf[start : start + int(length)])
        at = start
    return out


@pytest.fixture
def service(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[TestClient, str]]:
    """A service on its own database with a two-event trip of drum 1 and an alert about it."""
    url = f"sqlite:///{tmp_path / 'reports.sqlite3'}"
    settings = Settings(data_dir=tmp_path, database_url=url, key_encryption_key=KEK,
                        log_origin=ORIGIN)  # fmt: skip
    for name, value in [("DATABASE_URL", url), ("KEY_ENCRYPTION_KEY", KEK.get_secret_value()),
                        ("LOG_ORIGIN", ORIGIN)]:  # fmt: skip
        monkeypatch.setenv(f"CUSTODY_{name}", value)  # for the CLI, on the same database
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        sign_in(client)
        for code, role in [(GENERATOR_CODE, "generator"), (TRANSPORTER_CODE, "transporter")]:
            party = {"credit_code": code, "name": f"单位{code[-4:]}", "roles": [role]}
            assert client.post("/parties", json=party).status_code == 201
        engine = make_engine(url)
        enroll_scanners(engine, KEK.get_secret_value().encode())
        gen, truck = Scanner(GENERATOR_CODE), Scanner(TRANSPORTER_CODE)
        first = gen.scan(Step.COMMISSIONING, drum(1))
        truck.follow(gen)
        second = truck.scan(Step.LOADING, drum(1), minutes=20, vehicle=PLATE)
        body = {"events": [base64.b64encode(e.message).decode() for e in (first, second)]}
        assert client.post("/events", json=body).status_code == 201
        SqlSightingStore(engine).add_reads(
            [PlateRead("CP-成都-01", PLATE, T0 + timedelta(minutes=40), 0.97)]
        )
        alert = Alert(
            rule="off-route", subject="M-1/off-route/20260305T083000Z", severity=Severity.HIGH,
            summary_zh="车辆偏离申报路线", summary="The vehicle left the declared route",
            start=T0, end=T0 + timedelta(hours=1), containers=(drum(1),), vehicle=PLATE,
            parties=(TRANSPORTER_CODE,), entries=(1,),
            facts={"detour_km": 12.5, "manifest": "M-1", "layers": LAYERS},
        )  # fmt: skip
        (raised,) = Alerts(SqlAlertStore(engine)).raise_all([alert])
        engine.dispose()
        yield client, raised.alert_id


def test_report_holds_the_alert_timeline_and_cited_bundle(service: tuple[TestClient, str]) -> None:
    client, alert_id = service
    response = client.get(f"/alerts/{alert_id}/report.pdf")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    pdf = response.content
    assert pdf.startswith(b"%PDF-")
    text = _text(pdf)
    assert "危险废物转移异常证据报告" in text
    assert alert_id in text
    assert drum(1) in text
    assert "装车 loading" in text  # the timeline, with the step's Chinese name
    assert "CP-成都-01" in text  # the sighting in the window
    assert "12.5" in text  # a fact
    assert "legal_path" in text  # the map's legend
    assert "custody verify" in text
    (bundle,) = _attachments(pdf)
    assert f"SHA-256 {hashlib.sha256(bundle).hexdigest()}" in text
    assert b'"container": "' + drum(1).encode() in bundle


def test_unknown_alert_is_a_404_problem(service: tuple[TestClient, str]) -> None:
    client, _ = service
    response = client.get("/alerts/AL-0000000000000000/report.pdf")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == "alert-not-found"


def test_cli_writes_the_report_and_the_bundles_it_cites(
    service: tuple[TestClient, str], tmp_path: Path
) -> None:
    _, alert_id = service
    out, bundles = tmp_path / "report.pdf", tmp_path / "bundles"
    args = ["evidence", "report", alert_id, "--out", str(out), "--bundles", str(bundles)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    pdf = out.read_bytes()
    assert pdf.startswith(b"%PDF-")
    (written,) = bundles.iterdir()
    assert written.name == f"evidence-{drum(1)}.json"
    digest = hashlib.sha256(written.read_bytes()).hexdigest()
    assert f"SHA-256 {digest}" in _text(pdf)
    assert written.read_bytes() in _attachments(pdf)
    verified = CliRunner().invoke(cli, ["verify", str(written)])
    assert verified.exit_code == 0, verified.output


def test_cli_unknown_alert_fails_and_writes_nothing(
    service: tuple[TestClient, str], tmp_path: Path
) -> None:
    out = tmp_path / "report.pdf"
    result = CliRunner().invoke(
        cli, ["evidence", "report", "AL-0000000000000000", "--out", str(out)]
    )
    assert result.exit_code != 0
    assert not out.exists()
    del service

"""The server-rendered pages: the public label check and the status page."""

from __future__ import annotations

import base64
import io
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from pydantic import SecretStr, ValidationError
from sqlmodel import Session

from api.app import create_app
from api.settings import Settings
from custody import _base45
from custody.alerts import Alert, Alerts, AlertState, Severity
from custody.digital_id import parse_digital_id
from custody.events import Step
from custody.keyring import Keyring
from custody.keys import KeyRole
from labels.payload import PREFIX, link, mint, read
from storage.alert_store import SqlAlertStore
from storage.key_store import SqlKeyStore
from tests.api.test_labels import DRUM
from tests.conftest import GENERATOR_CODE, TRANSPORTER_CODE
from tests.ledger_fixtures import T0, Scanner, enroll_scanners
from tests.support.access import sign_in
from tests.support.label_readers import decoded

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

KEK = SecretStr("tests-only key-encryption key")
GENERATOR_NAME = "成都蓉新化工有限公司"


@pytest.fixture
def pages(tmp_path: Path) -> Iterator[TestClient]:
    """The app on its own database (the pages read the ledger and alerts through the engine)."""
    settings = Settings(
        data_dir=tmp_path,
        database_url=f"sqlite:///{tmp_path / 'pages.sqlite3'}",
        key_encryption_key=KEK,
        log_origin="custody.test/log",
    )
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        sign_in(client)
        for code, name, role in [
            (GENERATOR_CODE, GENERATOR_NAME, "generator"),
            (TRANSPORTER_CODE, "运输单位", "transporter"),
        ]:
            party = {"credit_code": code, "name": name, "roles": [role]}
            assert client.post("/parties", json=party).status_code == 201
        enroll_scanners(client.app.state.engine, KEK.get_secret_value().encode(), drums=0)  # type: ignore[attr-defined]
        assert client.post("/keys", json={"owner": GENERATOR_CODE}).status_code == 201
        yield client


def _labelled(client: TestClient) -> tuple[str, str]:
    made = client.post("/containers", json=DRUM)
    assert made.status_code == 201, made.text
    digital_id = str(made.json()["digital_id"])
    text = str(client.post(f"/containers/{digital_id}/labels").json()["text"])
    return digital_id, text


def _page(client: TestClient, text: str, status: int = 200) -> str:
    response = client.get("/verify", params={"label": text})
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("text/html")
    return response.text


def _post_events(client: TestClient, *events: object) -> None:
    body = {"events": [base64.b64encode(e.message).decode() for e in events]}  # type: ignore[attr-defined]
    response = client.post("/events", json=body)
    assert response.status_code == 201, response.text


# -- the label check ----------------------------------------------------------------------------


def test_genuine_label_shows_the_container_and_no_personal_data(pages: TestClient) -> None:
    digital_id, text = _labelled(pages)
    page = _page(pages, text)
    assert '<html lang="zh-CN">' in page
    assert 'name="viewport"' in page
    assert "真实有效" in page
    assert page.index("真实有效") < page.index("Genuine")  # Chinese first
    for shown in (digital_id, "废机油", "900-249-08", "HW08", GENERATOR_NAME, "182.5 kg"):
        assert shown in page
    assert "2026-03-05" in page
    assert "易燃性" in page
    assert "毒性" in page
    assert "液态" in page
    assert "028-12345678" not in page
    assert "张工" not in page
    assert "尚无交接记录" in page


def test_genuine_label_shows_the_latest_custody_step(pages: TestClient) -> None:
    digital_id, text = _labelled(pages)
    gen = Scanner(GENERATOR_CODE)
    commissioning = gen.scan(Step.COMMISSIONING, digital_id)
    packing = gen.scan(Step.PACKING, digital_id, minutes=60 * 20)  # 2026-03-06 04:00 UTC+8
    _post_events(pages, commissioning, packing)
    page = _page(pages, text)
    assert "封装 2026-03-06" in page
    assert "贴标启用" not in page


def test_tampered_label_is_not_genuine_and_says_why(pages: TestClient) -> None:
    _, text = _labelled(pages)
    tampered = text[:-6] + ("0" if text[-6] != "0" else "1") + text[-5:]
    page = _page(pages, tampered)
    assert "真实有效" not in page
    assert "标签不可信" in page
    assert "签名无效（伪造或被篡改）" in page or "标签格式错误" in page
    assert "forged or altered signature" in page or "malformed label" in page


def test_label_of_a_revoked_key_says_revoked(pages: TestClient) -> None:
    _, text = _labelled(pages)
    (key_name,) = [k["name"] for k in pages.get("/keys").json() if k["role"] == "label-issuer"]
    assert pages.post(f"/keys/{key_name}/revocation", json={"reason": "丢失"}).status_code == 200
    page = _page(pages, text)
    assert "真实有效" not in page
    assert "签名密钥已被吊销" in page
    assert "the signing key is revoked" in page


def test_text_that_is_no_label_is_malformed(pages: TestClient) -> None:
    page = _page(pages, "hello")
    assert "标签格式错误" in page
    assert "真实有效" not in page


def test_genuine_label_of_an_unknown_container_is_404(pages: TestClient) -> None:
    digital_id, text = _labelled(pages)
    _, payload = read(text)
    unknown = digital_id[:-3] + "999"
    key = Keyring(SqlKeyStore(Session(pages.app.state.engine)), pages.app.state.kek).active(  # type: ignore[attr-defined]
        GENERATOR_CODE, KeyRole.LABEL_ISSUER
    )
    label = mint(replace(payload, digital_id=parse_digital_id(unknown)), key)
    page = _page(pages, label, status=404)
    assert "未找到该容器" in page
    assert unknown in page
    assert "真实有效" not in page


def test_without_a_label_the_page_asks_for_one(pages: TestClient) -> None:
    page = _page(pages, "")
    assert '<form method="get" action="/verify">' in page


def test_stylesheet_is_served_locally(pages: TestClient) -> None:
    response = pages.get("/static/pages.css")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/css")
    assert "http" not in response.text
    assert "http" not in _page(pages, "").replace('lang="', "")


def test_only_status_json_is_in_the_openapi_document(pages: TestClient) -> None:
    paths = pages.get("/openapi.json").json()["paths"]
    assert "/status.json" in paths
    for hidden in ("/verify", "/V/{label}", "/status", "/static/pages.css"):
        assert hidden not in paths


# -- the link a label's QR holds ----------------------------------------------------------------


def _qr_of_printed_label(client: TestClient, digital_id: str) -> str:
    """What a phone camera reads from the label as the service prints it."""
    png = client.get(f"/containers/{digital_id}/label", params={"format": "png"})
    assert png.status_code == 200, png.text
    (content,) = decoded(Image.open(io.BytesIO(png.content)))["QRCode"]
    return content


def _open(client: TestClient, url: str, status: int = 200) -> str:
    """Follow a link as a browser does: the path exactly as the QR writes it, escapes kept."""
    parts = urlsplit(url)
    assert not parts.query
    assert not parts.fragment
    response = client.get(parts.path)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("text/html")
    return response.text


def _forged(text: str) -> str:
    message = bytearray(_base45.b45decode(text.removeprefix(PREFIX)))
    message[-1] ^= 1  # one bit of the signature
    return PREFIX + _base45.b45encode(bytes(message))


def test_the_printed_qr_opens_the_check_page_and_it_says_genuine(pages: TestClient) -> None:
    digital_id, text = _labelled(pages)
    content = _qr_of_printed_label(pages, digital_id)
    assert content.startswith("HTTP://127.0.0.1:8000/V/WL1:")  # the default public URL
    assert content == link(text, "http://127.0.0.1:8000")
    page = _open(pages, content)
    assert "真实有效" in page
    assert page.index("真实有效") < page.index("Genuine label")
    for shown in (digital_id, "废机油", GENERATOR_NAME, "182.5 kg"):
        assert shown in page
    # A phone that scans the drum has no account: the page is public.
    assert "真实有效" in _open(TestClient(pages.app), content)


def test_a_percent_sign_before_hex_digits_is_decoded_once(pages: TestClient) -> None:
    # "%41" in the signed text is written "%2541"; decoded twice it would turn into "A".
    for _ in range(40):
        digital_id, text = _labelled(pages)
        if re.search("%[0-9A-F]{2}", text):
            break
    else:
        pytest.fail("no label with a % before two hex digits in 40 tries")
    page = _open(pages, _qr_of_printed_label(pages, digital_id))
    assert "真实有效" in page


def test_a_link_with_a_forged_signed_text_is_not_genuine(pages: TestClient) -> None:
    _, text = _labelled(pages)
    page = _open(pages, link(_forged(text), "https://hjj.sc.gov.cn"))
    assert "真实有效" not in page
    assert "标签不可信 · 签名无效（伪造或被篡改）" in page
    assert "Not genuine · forged or altered signature" in page


def test_the_link_path_keeps_its_case(pages: TestClient) -> None:
    _, text = _labelled(pages)
    page = _open(pages, link(text, "https://hjj.sc.gov.cn").replace("/V/WL1:", "/V/wl1:"))
    assert "真实有效" not in page
    assert "标签格式错误" in page
    assert "malformed label" in page


def test_a_link_pasted_into_the_form_is_checked_too(pages: TestClient) -> None:
    digital_id, text = _labelled(pages)
    page = _page(pages, link(text, "https://any.host.example"))
    assert "真实有效" in page
    assert digital_id in page


def test_public_url_setting_is_the_base_of_the_printed_link(pages: TestClient) -> None:
    state = pages.app.state  # type: ignore[attr-defined]
    state.settings = state.settings.model_copy(update={"public_url": "https://hjj.sc.gov.cn/CS"})
    digital_id, text = _labelled(pages)
    assert _qr_of_printed_label(pages, digital_id) == link(text, "https://hjj.sc.gov.cn/CS")
    assert _qr_of_printed_label(pages, digital_id).startswith("HTTPS://HJJ.SC.GOV.CN/CS/V/WL1:")
    state.settings = state.settings.model_copy(update={"public_url": ""})
    assert _qr_of_printed_label(pages, digital_id) == text  # no public site: the bare text


@pytest.mark.parametrize(
    "bad", ["hjj.sc.gov.cn", "https://hjj.sc.gov.cn/custody", "ftp://hjj.sc.gov.cn"]
)
def test_a_public_url_no_qr_can_carry_is_refused_at_start(bad: str) -> None:
    with pytest.raises(ValidationError, match="public URL"):
        Settings(public_url=bad)


# -- the status page ----------------------------------------------------------------------------


def _alert(n: int, severity: Severity) -> Alert:
    return Alert(
        rule="missing-handoff",
        subject=f"subject-{n}",
        severity=severity,
        summary_zh=f"测试告警 {n}",
        summary=f"test alert {n}",
        start=T0,
        end=T0 + timedelta(hours=1),
    )


def _cell(page: str, row: str) -> int:
    found = re.search(rf'id="{row}">.*?<td class="num">(\d+)</td>', page, re.DOTALL)
    assert found, row
    return int(found.group(1))


def test_status_of_an_empty_service(pages: TestClient) -> None:
    body = pages.get("/status.json").json()
    assert body["ledger_size"] == 0
    assert body["checkpoint"] is None
    assert body["open_alerts"] == {"info": 0, "low": 0, "medium": 0, "high": 0}
    assert body["version"] == "0.1.0"
    page = pages.get("/status").text
    assert "账本为空" in page


def test_status_counts_the_ledger_and_open_alerts(pages: TestClient) -> None:
    digital_id, _ = _labelled(pages)
    gen = Scanner(GENERATOR_CODE)
    _post_events(pages, *(gen.scan(s, digital_id) for s in (Step.COMMISSIONING, Step.PACKING)))
    ledger = pages.app.state.ledger  # type: ignore[attr-defined]  # opened by the append
    earlier = datetime.now(UTC) - timedelta(hours=3)
    ledger.append([gen.scan(Step.STORING, digital_id, minutes=5)], received_at=earlier)
    alerts = Alerts(SqlAlertStore(pages.app.state.engine))  # type: ignore[attr-defined]
    raised = alerts.raise_all(
        [_alert(n, Severity(s)) for n, s in enumerate(["high", "high", "low", "medium"])],
        T0 + timedelta(days=1),
    )
    alerts.change(raised[3].alert_id, AlertState.DISMISSED, "officer", "误报")

    body = pages.get("/status.json").json()
    assert body["ledger_size"] == 3
    assert (body["received_last_hour"], body["received_last_day"]) == (2, 3)
    assert body["checkpoint"]["size"] == 3
    assert body["checkpoint"]["origin"] == "custody.test/log"
    assert len(base64.b64decode(body["checkpoint"]["root"])) == 32
    assert body["checkpoint"]["signed_at"] is not None
    assert body["open_alerts"] == {"info": 0, "low": 1, "medium": 0, "high": 2}
    assert body["open_alerts_total"] == 3

    page = pages.get("/status").text
    assert page.index("运行状态") < page.index("Service status")
    assert re.search(r'id="ledger-size">3<', page)
    assert re.search(r'id="last-hour">2<', page)
    assert body["checkpoint"]["root"] in page
    assert (_cell(page, "alerts-high"), _cell(page, "alerts-low")) == (2, 1)
    assert _cell(page, "alerts-medium") == 0
    assert _cell(page, "alerts-total") == 3

"""The generators' pages: their containers, registering one, minting and printing its label."""

from __future__ import annotations

import base64
import re
from html import unescape
from typing import TYPE_CHECKING
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from api.app import create_app
from api.settings import Settings
from custody.access import Principal, Role
from custody.events import Step
from tests.conftest import DISPOSER_CODE, GENERATOR_CODE, TRANSPORTER_CODE
from tests.ledger_fixtures import Scanner, drum, enroll_scanners
from tests.support.access import ADMIN, headers_for, log_in
from tests.support.label_readers import decoded, pdf_pages

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

KEK = "tests-only key-encryption key"
FORM = {"content-type": "application/x-www-form-urlencoded"}
CLERK = Principal("rongxin.clerk", Role.GENERATOR, party=GENERATOR_CODE)
#: The disposer registered as a generator too: "another generator" for these tests.
OTHER = Principal("suining.clerk", Role.GENERATOR, party=DISPOSER_CODE)
DRIVER = Principal("weiyun.dispatch", Role.TRANSPORTER, party=TRANSPORTER_CODE)
NAMES = {
    GENERATOR_CODE: ("成都蓉新化工有限公司", ["generator"]),
    TRANSPORTER_CODE: ("四川危运物流有限公司", ["transporter"]),
    DISPOSER_CODE: ("遂宁环保处置有限公司", ["disposer", "generator"]),
}
DRUM_FORM = {
    "waste_code": "900-249-08",
    "waste_name": "废机油",
    "form": "L",
    "container_type": "DR",
    "capacity_l": "200",
    "declared_net_mass_kg": "182.5",
    "generated_on": "2026-03-05",
    "seal_no": "S-000981",
    "contact": "张工 028-12345678",
}


def _app(tmp_path: Path, **settings: object) -> TestClient:
    values: dict[str, object] = {
        "data_dir": tmp_path,
        "database_url": f"sqlite:///{tmp_path / 'generator.sqlite3'}",
        "key_encryption_key": SecretStr(KEK),
        "checker": False,
    } | settings
    return TestClient(create_app(Settings(**values)), raise_server_exceptions=False)  # type: ignore[arg-type]


def _seed(client: TestClient, drums: int = 0) -> None:
    """The three parties, the generators' label keys and the fixture scanners."""
    admin = headers_for(client, ADMIN)
    for code, (name, roles) in NAMES.items():
        party = {"credit_code": code, "name": name, "roles": roles}
        assert client.post("/parties", json=party, headers=admin).status_code == 201
    for code in (GENERATOR_CODE, DISPOSER_CODE):
        key = client.post("/keys", json={"owner": code}, headers=admin)
        assert key.status_code == 201, key.text
    engine = client.app.state.engine  # type: ignore[attr-defined]
    enroll_scanners(engine, KEK.encode(), drums=drums)


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    """The app on its own database, the generator's clerk logged in on the pages."""
    with _app(tmp_path) as test_client:
        _seed(test_client)
        log_in(test_client, CLERK)
        yield test_client


def _html(client: TestClient, url: str, status: int = 200) -> str:
    response = client.get(url)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("text/html")
    return unescape(response.text)


def _register(client: TestClient, **changes: str) -> str:
    response = client.post(
        "/generator/containers",
        content=urlencode(DRUM_FORM | changes),
        headers=FORM,
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    found = re.fullmatch(r"/generator/containers/(\w{37})", response.headers["location"])
    assert found is not None, response.headers["location"]
    return found[1]


def _mint(client: TestClient, digital_id: str) -> None:
    response = client.post(f"/generator/containers/{digital_id}/labels", follow_redirects=False)
    assert response.status_code == 303, response.text
    assert response.headers["location"] == f"/generator/containers/{digital_id}#label"


def _append(client: TestClient, *scans: bytes) -> None:
    body = {"events": [base64.b64encode(s).decode() for s in scans]}
    answer = client.post("/events", json=body, headers=headers_for(client, ADMIN))
    assert answer.status_code == 201, answer.text


# -- registering --------------------------------------------------------------------------------


def test_register_form_offers_the_list_and_todays_date(client: TestClient) -> None:
    page = _html(client, "/generator/containers/new")
    assert '<option value="900-249-08"' in page
    assert 'name="generated_on" type="date"' in page
    assert "产废单位为当前登录账户所属单位" in page


def test_registered_container_belongs_to_the_account_not_to_the_form(
    client: TestClient,
) -> None:
    digital_id = _register(client, generator=DISPOSER_CODE)
    assert digital_id.startswith(GENERATOR_CODE)
    body = client.get(f"/containers/{digital_id}", headers=headers_for(client, ADMIN)).json()
    assert body["generator"] == GENERATOR_CODE
    assert body["declared_net_mass_kg"] == 182.5
    assert body["waste_name"] == "废机油"
    page = _html(client, f"/generator/containers/{digital_id}")
    assert "成都蓉新化工有限公司" in page
    assert "尚未签发标签" in page


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"declared_net_mass_kg": "一百"}, "申报净重须为数字"),
        ({"declared_net_mass_kg": "0"}, "申报净重须大于 0"),
        ({"capacity_l": "-5"}, "容积须在 0 至 100000 升之间"),
        ({"generated_on": "2026/03/05"}, "产生日期格式应为"),
        ({"form": "X"}, "形态取值无效"),
        ({"container_type": ""}, "容器类型取值无效"),
        ({"waste_code": "900-999-99"}, "900-999-99"),
    ],
)
def test_bad_input_shows_the_form_again_with_the_reason(
    client: TestClient, changes: dict[str, str], message: str
) -> None:
    response = client.post(
        "/generator/containers", content=urlencode(DRUM_FORM | changes), headers=FORM
    )
    assert response.status_code in {404, 422}, response.text
    page = unescape(response.text)
    assert message in page
    assert 'id="error"' in page
    assert 'value="S-000981"' in page  # what was typed stays


# -- labels -------------------------------------------------------------------------------------


def test_minting_shows_the_label_and_its_print_links(client: TestClient) -> None:
    digital_id = _register(client)
    _mint(client, digital_id)
    page = _html(client, f"/generator/containers/{digital_id}")
    assert re.search(r'<figure class="label">\s*<svg ', page)
    for fmt in ("pdf", "zpl", "png"):
        assert f"/containers/{digital_id}/label?format={fmt}" in page
    # The login cookie opens the JSON API's label too.
    pdf = client.get(f"/containers/{digital_id}/label", params={"format": "pdf"})
    assert pdf.status_code == 200
    assert pdf.content.startswith(b"%PDF")


def test_a4_sheet_holds_labels_that_verify(client: TestClient) -> None:
    ids = [_register(client), _register(client, waste_code="900-041-49")]
    for digital_id in ids:
        _mint(client, digital_id)
    body = urlencode([("container", d) for d in ids])
    sheet = client.post("/generator/labels/sheet", content=body, headers=FORM)
    assert sheet.status_code == 200, sheet.text
    assert sheet.headers["content-type"] == "application/pdf"
    assert sheet.headers["content-disposition"].startswith("attachment;")
    found = [t for _, images in pdf_pages(sheet.content) for i in images
             for t in decoded(i)["QRCode"]]  # fmt: skip
    assert len(found) == 2
    admin = headers_for(client, ADMIN)
    verified = []
    for text in found:
        answer = client.post("/labels/verifications", json={"text": text}, headers=admin)
        assert answer.status_code == 200, answer.text
        verified.append(answer.json()["digital_id"])
    assert sorted(verified) == sorted(ids)


def test_a4_sheet_of_a_container_without_label_is_refused(client: TestClient) -> None:
    digital_id = _register(client)
    response = client.post(
        "/generator/labels/sheet", content=urlencode({"container": digital_id}), headers=FORM
    )
    assert response.status_code == 404
    assert "尚未生成标签" in unescape(response.text)
    nothing = client.post("/generator/labels/sheet", content="", headers=FORM)
    assert nothing.status_code == 422
    assert "请选择" in unescape(nothing.text)


# -- whose containers ---------------------------------------------------------------------------


def test_another_generators_container_is_not_found(client: TestClient) -> None:
    theirs = _register(log_in(client, OTHER))
    _mint(client, theirs)
    log_in(client, CLERK)
    assert "未找到该容器" in _html(client, f"/generator/containers/{theirs}", 404)
    mint = client.post(f"/generator/containers/{theirs}/labels", follow_redirects=False)
    assert mint.status_code == 404
    sheet = client.post(
        "/generator/labels/sheet", content=urlencode({"container": theirs}), headers=FORM
    )
    assert sheet.status_code == 404
    assert sheet.headers["content-type"].startswith("text/html")
    assert theirs not in _html(client, "/generator")


def test_unknown_malformed_and_others_codes_read_the_same(client: TestClient) -> None:
    theirs = _register(log_in(client, OTHER))
    log_in(client, CLERK)
    unknown = f"{GENERATOR_CODE}9002490820990101001"
    pages = [_html(client, f"/generator/containers/{code}", 404)
             for code in (theirs, unknown, "not-a-code")]  # fmt: skip
    for page in pages:
        assert "未找到该容器" in page
        assert "未登记" not in page


def test_transporter_gets_the_refusal_page(client: TestClient) -> None:
    log_in(client, DRIVER)
    page = _html(client, "/generator", 403)
    assert "无此权限" in page
    posted = client.post("/generator/containers", content=urlencode(DRUM_FORM), headers=FORM)
    assert posted.status_code == 403


def test_administrator_is_told_a_generator_account_is_needed(client: TestClient) -> None:
    log_in(client, Principal("page-admin", Role.ADMINISTRATOR))
    for url in ("/generator", "/generator/containers/new"):
        assert "此页面供产废单位账户使用" in _html(client, url, 403)


def test_not_signed_in_goes_to_the_login_page(tmp_path: Path) -> None:
    with _app(tmp_path) as anonymous:
        response = anonymous.get("/generator?state=in-transit", follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"] == "/login?next=%2Fgenerator%3Fstate%3Din-transit"
        posted = anonymous.post("/generator/containers", content="", headers=FORM,
                                follow_redirects=False)  # fmt: skip
        assert posted.status_code == 303


def test_writes_spend_the_accounts_write_tokens(tmp_path: Path) -> None:
    with _app(tmp_path, write_burst=6, write_rate_per_minute=0.01) as client:
        _seed(client)  # the administrator's own six
        log_in(client, CLERK)
        digital_id = _register(client)
        for _ in range(5):
            _mint(client, digital_id)
        refused = client.post(f"/generator/containers/{digital_id}/labels")
        assert refused.status_code == 429
        assert "写入过于频繁" in unescape(refused.text)
        assert int(refused.headers["retry-after"]) > 0


# -- where the waste is -------------------------------------------------------------------------


def test_list_shows_where_each_container_is_now(client: TestClient) -> None:
    loaded, waiting = _register(client), _register(client)
    _mint(client, loaded)
    generator, transporter = Scanner(GENERATOR_CODE), Scanner(TRANSPORTER_CODE)
    first = generator.scan(Step.COMMISSIONING, loaded)
    transporter.follow(generator)
    second = transporter.scan(Step.LOADING, loaded, minutes=30, vehicle="川A12345",
                              counterparty=GENERATOR_CODE)  # fmt: skip
    _append(client, first.message, second.message)

    page = _html(client, "/generator")
    row = re.search(rf'<li id="{loaded}".*?</li>', page, re.DOTALL)
    assert row is not None
    assert "运输中" in row[0]
    assert "装车" in row[0]
    assert "四川危运物流有限公司" in row[0]
    assert "川A·12345" in row[0] or "川A12345" in row[0]
    assert "16:30" in row[0]  # the fixture scanners' 08:00 UTC, 30 minutes on, in China time
    assert "已签发标签" in row[0]
    assert f'name="container" value="{loaded}"' in row[0]
    other = re.search(rf'<li id="{waiting}".*?</li>', page, re.DOTALL)
    assert other is not None
    assert "未出厂" in other[0]
    assert "未签发标签" in other[0]

    moving = _html(client, "/generator?state=in-transit")
    assert loaded in moving
    assert waiting not in moving
    home = _html(client, "/generator?state=at-generator")
    assert waiting in home
    assert loaded not in home
    assert "状态无效" in _html(client, "/generator?state=lost", 422)
    assert "数字识别码" in _html(client, "/generator?cursor=not-a-code", 422)

    timeline = _html(client, f"/generator/containers/{loaded}")
    assert timeline.index("贴标启用") < timeline.index("装车")


def test_list_pages_newest_first(tmp_path: Path) -> None:
    with _app(tmp_path) as client:
        _seed(client, drums=55)  # drums 1-55, all generated on 2026-03-05
        log_in(client, CLERK)
        newest = _register(client, generated_on="2026-04-01")
        page = _html(client, "/generator")
        first = re.findall(r'<li id="(\w{37})"', page)
        assert len(first) == 50
        assert first[0] == newest
        found = re.search(r'href="(/generator\?cursor=\w+)" rel="next"', page)
        assert found is not None
        rest = re.findall(r'<li id="(\w{37})"', _html(client, found[1]))
        assert len(rest) == 6
        assert first[1:] + rest == sorted((drum(n) for n in range(1, 56)), reverse=True)
        assert 'rel="next"' not in _html(client, found[1])

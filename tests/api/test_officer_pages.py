"""The officers' alert pages: the list, one alert, its map and the forms that change it."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape
from typing import TYPE_CHECKING
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from api.app import create_app
from api.settings import Settings
from custody.access import Principal, Role
from custody.alerts import Alert, Alerts, AlertState, Severity
from storage.alert_store import SqlAlertStore
from tests.conftest import GENERATOR_CODE
from tests.facts_fixtures import drum_id
from tests.support.access import log_in
from tests.support.alerts import T0, handoff_alert

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

FORM = {"content-type": "application/x-www-form-urlencoded"}
OFFICER = Principal("police.li", Role.POLICE, districts=("51",))


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(
        data_dir=tmp_path,
        database_url=f"sqlite:///{tmp_path / 'officer.sqlite3'}",
        key_encryption_key=SecretStr("tests-only key-encryption key"),
    )
    with TestClient(create_app(settings), raise_server_exceptions=False) as test_client:
        log_in(test_client, OFFICER)
        yield test_client


def _alert(n: int, **changes: object) -> Alert:
    return handoff_alert(n, **{"entries": (n + 7,)} | changes)


def _alerts(client: TestClient) -> Alerts:
    return Alerts(SqlAlertStore(client.app.state.engine))  # type: ignore[attr-defined]


def _raise(client: TestClient, *alerts: Alert) -> list[str]:
    _alerts(client).raise_all(alerts, T0 + timedelta(days=1))
    return [a.alert_id for a in alerts]


def _html(client: TestClient, url: str, status: int = 200) -> str:
    response = client.get(url)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("text/html")
    return unescape(response.text)


def _row(page: str, alert_id: str) -> str:
    found = re.search(rf'<tr id="{alert_id}">(.*?)</tr>', page, re.DOTALL)
    assert found, alert_id
    return found.group(1)


def _change(client: TestClient, alert_id: str, **fields: str) -> tuple[int, str]:
    response = client.post(
        f"/officer/alerts/{alert_id}/changes",
        content=urlencode(fields),
        headers=FORM,
        follow_redirects=False,
    )
    return response.status_code, response.headers.get("location", response.text)


def test_list_shows_raised_alerts_in_chinese_and_filters(client: TestClient) -> None:
    handoff, dwell = _raise(
        client,
        _alert(1),
        _alert(2, rule="dwell", severity=Severity.LOW, vehicle="川B54321", summary_zh="异常停留"),
    )
    page = _html(client, "/officer/alerts")
    assert "交接缺失" in _row(page, handoff)
    assert "异常停留" in _row(page, dwell)
    assert "川B54321" in _row(page, dwell)
    assert page.index(handoff) < page.index(dwell)  # the high one first
    assert f'href="/officer/alerts/{handoff}"' in page
    assert '<span class="badge sev-high">' in page

    filtered = _html(client, "/officer/alerts?rule=&state=open&min_severity=medium&vehicle=")
    assert handoff in filtered
    assert dwell not in filtered
    by_vehicle = _html(client, "/officer/alerts?vehicle=川B54321")
    assert dwell in by_vehicle
    assert handoff not in by_vehicle


def test_list_pages_with_a_next_link(client: TestClient) -> None:
    ids = _raise(client, *(_alert(n) for n in range(51)))
    page = _html(client, "/officer/alerts?state=open")
    found = re.search(r'href="(/officer/alerts\?[^"]*cursor=[^"]+)" rel="next">下一页', page)
    assert found
    assert "state=open" in found.group(1)
    rest = _html(client, found.group(1))
    assert sum(i in page for i in ids) == 50
    assert sum(i in rest for i in ids) == 1
    assert "下一页" not in rest


def test_bad_filter_says_so(client: TestClient) -> None:
    page = _html(client, "/officer/alerts?container=nope", status=422)
    assert 'id="error"' in page


def test_alert_page_shows_summary_containers_and_history(client: TestClient) -> None:
    (alert_id,) = _raise(client, _alert(3))
    _alerts(client).change(alert_id, AlertState.ACKNOWLEDGED, "王科长", "已电话核实")
    page = _html(client, f"/officer/alerts/{alert_id}")
    assert page.index("容器 3 未经交接") < page.index("container 3 held")  # Chinese first
    assert f'href="/containers/{drum_id(3)}/timeline"' in page
    assert 'href="/ledger/entries/10"' in page
    assert "川A12345" in page
    assert GENERATOR_CODE in page
    assert "gap_h" in page
    assert "王科长" in page
    assert "已电话核实" in page
    assert "已确认" in page
    assert "<svg" not in page  # no layers, no map
    assert page.count(f'action="/officer/alerts/{alert_id}/changes"') == 3
    assert f'href="/alerts/{alert_id}/report.pdf"' in page  # the evidence report for court


def test_acknowledge_then_dismiss_through_the_forms(client: TestClient) -> None:
    (alert_id,) = _raise(client, _alert(4))
    assert _change(client, alert_id, state="acknowledged", by="李四", reason="") == (
        303,
        f"/officer/alerts/{alert_id}",
    )
    status, _ = _change(client, alert_id, state="dismissed", by="李四", reason="车辆维修，已核实")
    assert status == 303
    history = _alerts(client).history(alert_id)
    assert [(c.state, c.by) for c in history] == [
        (AlertState.ACKNOWLEDGED, "police.li"),
        (AlertState.DISMISSED, "police.li"),
    ]
    assert history[1].reason == "车辆维修，已核实"
    page = _html(client, f"/officer/alerts/{alert_id}")
    assert "已排除" in page
    assert "车辆维修，已核实" in page


def test_dismiss_without_a_reason_is_refused(client: TestClient) -> None:
    (alert_id,) = _raise(client, _alert(5))
    status, body = _change(client, alert_id, state="dismissed", by="李四", reason="")
    assert status == 409
    page = unescape(body)
    assert "排除或重新打开告警须填写理由" in page
    assert "needs a reason" in page
    assert _alerts(client).history(alert_id) == []
    assert _alerts(client).get(alert_id).state is AlertState.OPEN


def test_a_change_the_lifecycle_forbids_is_refused(client: TestClient) -> None:
    (alert_id,) = _raise(client, _alert(6))
    _alerts(client).change(alert_id, AlertState.DISMISSED, "李四", "误报")
    status, body = _change(client, alert_id, state="acknowledged", by="李四")
    assert status == 409
    assert "不能变更为" in unescape(body)
    assert len(_alerts(client).history(alert_id)) == 1


def test_route_alert_with_layers_has_a_map(client: TestClient) -> None:
    layers = {
        "route": {"type": "LineString", "coordinates": [[104.0, 30.6], [104.1, 30.65]]},
        "corridor": {
            "type": "Polygon",
            "coordinates": [[[103.99, 30.59], [104.11, 30.59], [104.11, 30.66], [103.99, 30.59]]],
        },
        "episode": {"type": "LineString", "coordinates": [[104.05, 30.62], [104.06, 30.64]]},
        "stop": {"type": "Point", "coordinates": [104.06, 30.64]},
        "sightings": {"type": "MultiPoint", "coordinates": [[104.0, 30.6], [104.1, 30.65]]},
    }
    (alert_id,) = _raise(
        client, _alert(7, rule="off-route", facts={"detour_m": 1200, "layers": layers})
    )
    page = _html(client, f"/officer/alerts/{alert_id}")
    assert "偏离路线" in page
    assert '<svg class="alert-map"' in page
    for layer in ("route", "corridor", "episode", "stop", "sightings"):
        assert f'data-layer="{layer}"' in page
    assert "偏离路段" in page  # the legend
    assert "detour_m" in page
    assert "104.05" not in page.split("</figure>", 1)[1]  # layers are not listed as facts
    assert page.count("<circle") == 3
    route = re.search(r'data-layer="route"><path d="M([\d.]+) [\d.]+ L([\d.]+)', page)
    assert route
    assert float(route.group(1)) < float(route.group(2))  # drawn west to east, as stored


def test_unknown_alert_is_404(client: TestClient) -> None:
    page = _html(client, "/officer/alerts/AL-0000000000000000", status=404)
    assert "未找到告警" in page
    status, _ = _change(client, "AL-0000000000000000", state="acknowledged", by="李四")
    assert status == 404


def test_officer_pages_are_not_in_the_openapi_document(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert not [p for p in paths if p.startswith("/officer")]

"""Alerts over HTTP: filtered, paginated, looked at, and moved through their lifecycle."""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from api.app import create_app
from api.problems import PROBLEM_JSON
from api.settings import Settings
from custody.access import Principal, Role
from custody.alerts import Alert, Alerts, Severity
from custody.digital_id import DigitalId
from storage.alert_store import SqlAlertStore
from tests.conftest import DISPOSER_CODE, GENERATOR_CODE, TRANSPORTER_CODE
from tests.facts_fixtures import WASTE, drum_id
from tests.support.access import headers_for, sign_in
from tests.support.alerts import T0
from tests.support.alerts import handoff_alert as alert

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    """The service on its own database: alerts are written on their own connections."""
    settings = Settings(data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'alerts.sqlite3'}",
                        key_encryption_key=SecretStr("tests-only key-encryption key"))  # fmt: skip
    with TestClient(create_app(settings), raise_server_exceptions=False) as test_client:
        sign_in(test_client)
        yield test_client


def raise_alerts(client: TestClient, *alerts: Alert) -> list[str]:
    engine = client.app.state.engine  # type: ignore[attr-defined]
    Alerts(SqlAlertStore(engine)).raise_all(alerts, T0 + timedelta(days=1))
    return [a.alert_id for a in alerts]


def problem(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    body: dict[str, Any] = response.json()
    assert (body["code"], body["status"], body["type"]) == (code, status, f"/problems/{code}")
    assert body["title_zh"]
    return body


def change(
    client: TestClient, alert_id: str, who: dict[str, str] | None = None, **body: str
) -> Any:
    return client.post(f"/alerts/{alert_id}/changes", json=body, headers=who)


# -- reading -----------------------------------------------------------------------------------


def test_an_alert_is_shown_with_its_evidence_in_utc(client: TestClient) -> None:
    (key,) = raise_alerts(client, alert(1))
    body = client.get(f"/alerts/{key}").json()
    assert body == {
        "id": key,
        "rule": "missing-handoff",
        "subject": drum_id(1),
        "severity": "high",
        "severity_zh": "高",
        "state": "open",
        "state_zh": "待处理",
        "summary_zh": "容器 1 未经交接即由运输单位持有",
        "summary": "container 1 held by the transporter without a hand-off",
        "start": "2026-03-02T08:00:00Z",
        "end": "2026-03-02T09:00:00Z",
        "containers": [drum_id(1)],
        "vehicle": "川A12345",
        "parties": [GENERATOR_CODE, TRANSPORTER_CODE],
        "entries": [1],
        "facts": {"gap_h": 1.5},
        "raised_at": "2026-03-03T08:00:00Z",
        "changes": [],
    }


def test_an_unknown_alert_is_a_404_problem(client: TestClient) -> None:
    body = problem(client.get("/alerts/AL-0000000000000000"), 404, "alert-not-found")
    assert body["title_zh"] == "未找到该告警"
    problem(change(client, "AL-0000000000000000", state="acknowledged", by="王科长"), 404,
            "alert-not-found")  # fmt: skip


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, [3, 1, 2, 4]),
        ({"rule": "vanished"}, [3]),
        ({"state": "open"}, [3, 1, 2, 4]),
        ({"min_severity": "medium"}, [3, 1, 2]),
        ({"container": drum_id(2)}, [2]),
        ({"container": drum_id(2).lower()}, [2]),
        ({"vehicle": "川b·54321"}, [4]),
        ({"party": DISPOSER_CODE}, [3]),
        ({"since": "2026-03-02T15:00:00+08:00"}, [3, 1, 2]),  # windows ending at 07:00Z or later
        ({"until": "2026-03-02T16:00:00+08:00"}, [4]),  # windows starting before 08:00Z
        ({"rule": "missing-handoff", "min_severity": "high"}, [1]),
    ],
)
def test_alerts_are_filtered_and_ranked(
    client: TestClient, params: dict[str, str], expected: list[int]
) -> None:
    keys = raise_alerts(
        client,
        alert(1),
        alert(2, severity=Severity.MEDIUM, containers=(drum_id(2), drum_id(20))),
        alert(3, rule="vanished", end=T0 + timedelta(hours=5), parties=(DISPOSER_CODE,)),
        alert(
            4,
            severity=Severity.LOW,
            start=T0 - timedelta(days=1),
            end=T0 - timedelta(hours=2),
            vehicle="川B54321",
        ),
    )
    body = client.get("/alerts", params=params).json()
    assert [a["id"] for a in body["items"]] == [keys[n - 1] for n in expected]
    assert body["next"] is None


@pytest.mark.parametrize(("count", "limit"), [(7, 3), (6, 3), (1, 1), (3, 500)])
def test_cursor_pages_visit_every_alert_once(client: TestClient, count: int, limit: int) -> None:
    raise_alerts(client, *(alert(n, end=T0 + timedelta(hours=n % 3)) for n in range(count)))
    everything = [a["id"] for a in client.get("/alerts", params={"limit": 500}).json()["items"]]
    seen: list[str] = []
    params: dict[str, Any] = {"limit": limit}
    pages = 0
    for _ in range(30):  # bounded: a cursor that repeats a page must fail, not hang
        body = client.get("/alerts", params=params).json()
        pages += 1
        seen += [a["id"] for a in body["items"]]
        if body["next"] is None:
            break
        params["cursor"] = body["next"]
    assert seen == everything
    assert len(set(seen)) == count
    assert pages == -(-count // limit)  # no empty last page


def test_the_default_page_is_fifty(client: TestClient) -> None:
    raise_alerts(client, *(alert(n) for n in range(51)))
    first = client.get("/alerts").json()
    assert len(first["items"]) == 50
    assert len(client.get("/alerts", params={"cursor": first["next"]}).json()["items"]) == 1


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"limit": 501}, "request-invalid"),
        ({"limit": 0}, "request-invalid"),
        ({"state": "closed"}, "request-invalid"),
        ({"min_severity": "urgent"}, "request-invalid"),
        ({"since": "2026-03-02T10:00:00"}, "request-invalid"),
        ({"container": "NOT-A-DRUM"}, "digital-id-invalid"),
        ({"vehicle": "XX12345"}, "plate-invalid"),
        ({"party": "91510100MA61R8XQ03"}, "credit-code-invalid"),
        ({"cursor": "AL-0000000000000000"}, "record-invalid"),
    ],
)
def test_a_bad_filter_is_a_422_problem(
    client: TestClient, params: dict[str, Any], code: str
) -> None:
    problem(client.get("/alerts", params=params), 422, code)


# -- the lifecycle -----------------------------------------------------------------------------


def test_acknowledge_then_dismiss_with_a_reason_then_reopen(client: TestClient) -> None:
    (key,) = raise_alerts(client, alert(1))
    wang = headers_for(client, Principal("police.wang", Role.POLICE, districts=("51",)))
    li = headers_for(client, Principal("env.li", Role.ENVIRONMENT, districts=("5101",)))
    acked = change(client, key, wang, state="acknowledged")
    assert acked.status_code == 200, acked.text
    assert (acked.json()["state"], acked.json()["state_zh"]) == ("acknowledged", "已确认")
    refused = change(client, key, wang, state="dismissed")
    assert "理由" in problem(refused, 409, "alert-transition-invalid")["detail_zh"]
    dismissed = change(client, key, wang, state="dismissed", reason="补录了交接记录")
    assert dismissed.json()["state"] == "dismissed"
    not_allowed = change(client, key, li, state="acknowledged")
    body = problem(not_allowed, 409, "alert-transition-invalid")
    assert body["title_zh"] == "告警状态不可如此变更"
    assert body["context"]["state"] == "dismissed"
    problem(change(client, key, li, state="open"), 409, "alert-transition-invalid")
    reopened = change(client, key, li, state="open", by="王科长", reason="处置单位称未收到")
    assert reopened.json()["state"] == "open"
    history = client.get(f"/alerts/{key}").json()["changes"]
    # Who decided is the signed-in account; a name claimed in the body is not taken.
    assert [(c["state"], c["by"], c["reason"]) for c in history] == [
        ("acknowledged", "police.wang", ""),
        ("dismissed", "police.wang", "补录了交接记录"),
        ("open", "env.li", "处置单位称未收到"),
    ]
    assert all(c["at"].endswith("Z") for c in history)
    assert reopened.json()["changes"] == history


def test_escalating_an_open_alert_is_allowed(client: TestClient) -> None:
    (key,) = raise_alerts(client, alert(1))
    escalated = change(client, key, state="escalated", by="王科长", reason="疑似非法倾倒")
    assert escalated.json()["state_zh"] == "已上报"
    listed = client.get("/alerts", params={"state": "escalated"}).json()["items"]
    assert [a["id"] for a in listed] == [key]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"state": "closed", "by": "王科长"}, "request-invalid"),
        ({"state": "acknowledged", "by": ""}, "request-invalid"),
        ({"state": "acknowledged", "by": "王科长", "when": "now"}, "request-invalid"),
        ({"state": "acknowledged", "by": "王科长", "reason": "x" * 1001}, "request-invalid"),
    ],
)
def test_a_bad_change_is_a_422_problem_and_changes_nothing(
    client: TestClient, body: dict[str, str], code: str
) -> None:
    (key,) = raise_alerts(client, alert(1))
    problem(client.post(f"/alerts/{key}/changes", json=body), 422, code)
    assert client.get(f"/alerts/{key}").json()["changes"] == []


def test_every_error_is_described_in_the_openapi(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert {"404", "409", "422"} <= set(paths["/alerts/{alert_id}/changes"]["post"]["responses"])
    assert "404" in paths["/alerts/{alert_id}"]["get"]["responses"]
    assert "422" in paths["/alerts"]["get"]["responses"]
    described = paths["/alerts/{alert_id}/changes"]["post"]["description"]
    assert "authentication" in described


def test_alerts_are_found_by_the_waste_code_of_a_container_they_name(client: TestClient) -> None:
    other = DigitalId(GENERATOR_CODE, "900-041-49", date(2026, 3, 1), 7).text
    with_other, without = raise_alerts(
        client, alert(1, containers=(drum_id(1), other)), alert(2, containers=(drum_id(2),))
    )
    for code in ("900-041-49", "90004149"):
        found = client.get("/alerts", params={"waste_code": code}).json()["items"]
        assert [a["id"] for a in found] == [with_other]
    both = client.get("/alerts", params={"waste_code": WASTE}).json()["items"]
    assert {a["id"] for a in both} == {with_other, without}
    assert client.get("/alerts", params={"waste_code": "900-041-29"}).json()["items"] == []
    problem(client.get("/alerts", params={"waste_code": "900-249-99"}), 422, "waste-code-invalid")

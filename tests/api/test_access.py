"""Who may do what: tokens, roles, each party's own records, officers' districts, the read log.

The province here: generator G and transporter T2 in Chengdu's 510100, transporter T in 510112,
disposer D in Suining (510900). A Chengdu officer (districts 5101) sees what names G, T or T2;
a Suining officer (5109) only what names D; a Mianyang officer (5107) nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import text
from sqlmodel import Session

from api.app import create_app
from api.auth import SESSION_COOKIE
from api.problems import PROBLEM_JSON
from api.settings import Settings
from custody.access import Principal, Role
from custody.alerts import Alert, Alerts, Severity
from custody.credentials import secret_digest
from storage.access_store import SqlAccessStore
from storage.alert_store import SqlAlertStore
from storage.tables import AccessTokenRow
from tests.checker_fixtures import PLATE, PLATE2, T2, D, G, T
from tests.facts_fixtures import drum_id
from tests.support.access import PASSWORD, bearer, headers_for, log_in, sign_in, token_for

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
CHENGDU = Principal("police.cd", Role.POLICE, districts=("5101",))
SUINING = Principal("env.sn", Role.ENVIRONMENT, districts=("5109",))
MIANYANG = Principal("transport.my", Role.TRANSPORT, districts=("5107",))
CARRIER = Principal("carrier.t", Role.TRANSPORTER, party=T)
RIVAL = Principal("carrier.t2", Role.TRANSPORTER, party=T2)
MAKER = Principal("maker.g", Role.GENERATOR, party=G)
GATE = Principal("gate.g5", Role.CHECKPOINT, device=True)


def _manifest(number: str, transporter: str, plate: str, receiver: str = D) -> dict[str, Any]:
    return {"number": number, "generator": G, "transporter": transporter, "receiver": receiver,
            "vehicles": [plate], "waste_codes": ["900-041-49"], "containers": [drum_id(0)],
            "declared_mass_g": 200_000, "created_at": "2026-03-02T09:30:00+08:00"}  # fmt: skip


M_T = "20260351010000001"  # carried by T
M_T2 = "20260351010000002"  # carried by T2


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    """The service on its own database, signed in as the administrator, with the province."""
    settings = Settings(data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'a.sqlite3'}",
                        key_encryption_key=SecretStr("tests-only key-encryption key"),
                        checker=False, write_burst=8, write_rate_per_minute=1)  # fmt: skip
    with TestClient(create_app(settings), raise_server_exceptions=False) as test_client:
        sign_in(test_client)
        for code, role in [(G, "generator"), (T, "transporter"), (T2, "transporter"),
                           (D, "disposer")]:  # fmt: skip
            party = {"credit_code": code, "name": f"单位{code[-4:]}", "roles": [role]}
            assert test_client.post("/parties", json=party).status_code == 201
        for number, carrier, plate in [(M_T, T, PLATE), (M_T2, T2, PLATE2)]:
            created = test_client.post("/manifests", json=_manifest(number, carrier, plate))
            assert created.status_code == 201, created.text
        engine = test_client.app.state.engine  # type: ignore[attr-defined]
        Alerts(SqlAlertStore(engine)).raise_all(
            [_alert(1, (G, T)), _alert(2, (T2,)), _alert(3, (D,))], T0 + timedelta(days=1)
        )
        yield test_client


def _alert(n: int, parties: tuple[str, ...]) -> Alert:
    return Alert(rule="missing-handoff", subject=drum_id(n), severity=Severity.HIGH,
                 summary_zh=f"容器 {n} 交接缺失", summary=f"container {n}: missing hand-off",
                 start=T0, end=T0 + timedelta(hours=1), containers=(drum_id(n),),
                 parties=parties)  # fmt: skip


def as_(client: TestClient, who: Principal) -> dict[str, str]:
    return headers_for(client, who)


def alert_subjects(client: TestClient, who: Principal) -> set[str]:
    response = client.get("/alerts", headers=as_(client, who))
    assert response.status_code == 200, response.text
    return {a["subject"] for a in response.json()["items"]}


def chengdu_alert(client: TestClient) -> str:
    """The id of the alert naming G and T (in Chengdu)."""
    found = client.get("/alerts", params={"container": drum_id(1)}).json()["items"]
    return str(found[0]["id"])


def problem(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    body: dict[str, Any] = response.json()
    assert body["code"] == code
    return body


# -- who is asking ----------------------------------------------------------------------------


def test_without_a_token_only_public_things_answer(client: TestClient) -> None:
    anonymous = TestClient(client.app, raise_server_exceptions=False)
    refused = anonymous.get("/alerts")
    problem(refused, 401, "not-authenticated")
    assert refused.headers["www-authenticate"].startswith("Bearer")
    for path in ["/healthz", "/trust-bundle/root", "/waste-codes/900-041-49", "/status.json",
                 "/verify", "/ledger/consistency?old=0&new=0"]:  # fmt: skip
        assert anonymous.get(path).status_code == 200, path
    problem(anonymous.post("/parties", json={}), 401, "not-authenticated")
    login = anonymous.get("/officer/alerts", follow_redirects=False)
    assert (login.status_code, login.headers["location"]) == (
        303,
        "/login?next=%2Fofficer%2Falerts",
    )


@pytest.mark.parametrize(
    "header",
    ["Bearer cst_000000000000_" + "x" * 43, "Bearer nonsense", "Basic dXNlcjpwYXNz", "Bearer "],
)
def test_a_bad_token_is_401(client: TestClient, header: str) -> None:
    problem(client.get("/alerts", headers={"Authorization": header}), 401, "not-authenticated")


def test_expired_revoked_and_disabled_tokens_stop_working(client: TestClient) -> None:
    engine = client.app.state.engine  # type: ignore[attr-defined]
    with Session(engine) as session:
        expired = token_for(session, CHENGDU, days=1)
        revoked = token_for(session, CHENGDU)
        disabled = token_for(session, SUINING)
        row = session.get(AccessTokenRow, expired[4:16])
        assert row is not None
        row.expires_at = datetime(2020, 1, 1, tzinfo=UTC)
        session.add(row)
        session.commit()
    assert client.get("/alerts", headers=bearer(revoked)).status_code == 200
    assert client.post(f"/tokens/{revoked[4:16]}/revocation").status_code == 200
    assert client.post(f"/accounts/{SUINING.name}/disablement").status_code == 200
    for token, why in [(expired, "expired"), (revoked, "revoked"), (disabled, "disabled")]:
        body = problem(client.get("/alerts", headers=bearer(token)), 401, "not-authenticated")
        assert why in body["detail"]


def test_a_token_is_shown_once_and_stored_only_as_a_digest(client: TestClient) -> None:
    made = client.post("/accounts", json={"name": "scanner-17", "role": "transporter",
                                          "party": T, "device": True})  # fmt: skip
    assert made.status_code == 201, made.text
    issued = client.post("/accounts/scanner-17/tokens", json={"label": "川A12345 驾驶室"})
    assert issued.status_code == 201, issued.text
    token = issued.json()["token"]
    me = client.get("/me", headers=bearer(token)).json()
    assert (me["name"], me["role"], me["party"]) == ("scanner-17", "transporter", T)
    listed = client.get("/accounts/scanner-17/tokens").json()
    assert [t["token_id"] for t in listed] == [issued.json()["token_id"]]
    assert "token" not in listed[0]
    engine = client.app.state.engine  # type: ignore[attr-defined]
    with engine.connect() as connection:
        stored = connection.execute(text("SELECT digest FROM access_token")).scalars().all()
    secret = token.split("_", 2)[2]  # the secret itself may hold "_" (URL-safe base64)
    assert all(secret not in d for d in stored)
    assert secret_digest(secret) in stored


def test_only_an_administrator_opens_accounts(client: TestClient) -> None:
    body = {"name": "mallory", "role": "administrator"}
    problem(client.post("/accounts", json=body, headers=as_(client, CHENGDU)), 403, "forbidden")
    problem(client.get("/read-log", headers=as_(client, MAKER)), 403, "forbidden")


# -- roles -------------------------------------------------------------------------------------


def test_each_register_has_its_keeper(client: TestClient) -> None:
    party = {"credit_code": "91510100MA6CGUDD7H", "name": "x", "roles": ["transporter"]}
    problem(client.post("/parties", json=party, headers=as_(client, CARRIER)), 403, "forbidden")
    vehicle = {"plate": "川A99999", "operator": T, "permit_number": "x", "max_load_kg": 1000}
    refused = client.post("/vehicles", json=vehicle, headers=as_(client, CHENGDU))
    assert "交通运输" in problem(refused, 403, "forbidden")["detail_zh"]
    reads = {"reads": []}
    problem(client.post("/plate-reads", json=reads, headers=as_(client, MAKER)), 403, "forbidden")
    problem(client.get("/alerts", headers=as_(client, GATE)), 403, "forbidden")


def test_a_generator_acts_only_for_itself(client: TestClient) -> None:
    drum = {"generator": T2, "waste_code": "900-041-49", "generated_on": "2026-03-01",
            "form": "L", "container_type": "DR", "capacity_l": 200,
            "declared_net_mass_kg": 180}  # fmt: skip
    refused = client.post("/containers", json=drum, headers=as_(client, MAKER))
    assert problem(refused, 403, "forbidden")["detail_zh"] == "只能以本单位名义操作"
    other = _manifest("20260351010000009", T, PLATE) | {"generator": T2}
    problem(client.post("/manifests", json=other, headers=as_(client, MAKER)), 403, "forbidden")


def test_writes_are_rate_limited_per_account(client: TestClient) -> None:
    who = as_(client, MAKER)
    answers = [client.post("/manifests", json=_manifest(M_T, T, PLATE), headers=who)
               for _ in range(9)]  # fmt: skip
    assert [a.status_code for a in answers[:8]] == [200] * 8  # the same manifest again
    limited = problem(answers[8], 429, "rate-limited")
    assert int(answers[8].headers["retry-after"]) >= 1
    assert "秒后重试" in limited["detail_zh"]
    # Another account has its own bucket.
    assert client.post("/manifests", json=_manifest(M_T, T, PLATE)).status_code == 200


# -- each party its own ------------------------------------------------------------------------


def test_a_transporter_cannot_read_another_transporters_trips(client: TestClient) -> None:
    mine = client.get(f"/vehicles/{PLATE}/trips", headers=as_(client, CARRIER)).json()
    assert [t["manifest"]["number"] for t in mine["items"]] == [M_T]
    theirs = client.get(f"/vehicles/{PLATE2}/trips", headers=as_(client, CARRIER))
    assert theirs.status_code == 200
    assert theirs.json()["items"] == []
    problem(client.get(f"/manifests/{M_T2}", headers=as_(client, CARRIER)), 404,
            "manifest-not-found")  # fmt: skip
    listed = client.get("/manifests", headers=as_(client, CARRIER)).json()["items"]
    assert [m["number"] for m in listed] == [M_T]
    rival = client.get("/manifests", headers=as_(client, RIVAL)).json()["items"]
    assert [m["number"] for m in rival] == [M_T2]


def test_a_party_sees_the_alerts_that_name_it(client: TestClient) -> None:
    assert alert_subjects(client, CARRIER) == {drum_id(1)}
    assert alert_subjects(client, RIVAL) == {drum_id(2)}
    assert alert_subjects(client, MAKER) == {drum_id(1)}
    hidden = client.get(f"/alerts?container={drum_id(2)}", headers=as_(client, CARRIER))
    assert hidden.json()["items"] == []


# -- officers: their districts ----------------------------------------------------------------


def test_an_officer_sees_only_their_districts(client: TestClient) -> None:
    assert alert_subjects(client, CHENGDU) == {drum_id(1), drum_id(2)}
    assert alert_subjects(client, SUINING) == {drum_id(3)}
    assert alert_subjects(client, MIANYANG) == set()
    everything = client.get("/alerts").json()["items"]
    assert len(everything) == 3  # the administrator


def test_an_officer_outside_the_jurisdiction_gets_nothing(client: TestClient) -> None:
    outside = as_(client, MIANYANG)
    alert_id = chengdu_alert(client)
    problem(client.get(f"/alerts/{alert_id}", headers=outside), 404, "alert-not-found")
    problem(client.get(f"/alerts/{alert_id}/report.pdf", headers=outside), 404, "alert-not-found")
    change = {"state": "acknowledged"}
    problem(client.post(f"/alerts/{alert_id}/changes", json=change, headers=outside), 404,
            "alert-not-found")  # fmt: skip
    assert client.get("/manifests", headers=outside).json()["items"] == []
    problem(client.get(f"/manifests/{M_T}", headers=outside), 404, "manifest-not-found")
    trips = client.get(f"/vehicles/{PLATE}/trips", headers=outside).json()
    assert (trips["items"], trips["alerts"]) == ([], [])
    problem(client.get(f"/parties/{G}/balance", headers=outside), 404, "party-not-found")
    inside = client.get(f"/alerts/{alert_id}", headers=as_(client, CHENGDU))
    assert inside.status_code == 200


def test_officers_read_the_plate_reads_of_their_districts_checkpoints(
    client: TestClient,
) -> None:
    gates = {"CD-1": "510112", "MY-1": "510703", "OLD-1": ""}  # Chengdu, Mianyang, not given
    for n, (gate, division) in enumerate(gates.items()):
        body = {"checkpoint_id": gate, "name": f"卡口{n}", "kind": "anpr_gate",
                "lat": 30.6 + n, "lon": 104.0, "division": division}  # fmt: skip
        keeper = as_(client, MIANYANG)  # transport officers keep the checkpoints
        assert client.post("/checkpoints", json=body, headers=keeper).status_code == 201
    reads = [{"checkpoint": gate, "plate": PLATE, "seen_at": f"2026-03-02T0{n}:00:00+08:00",
              "confidence": 0.9} for n, gate in enumerate(gates)]  # fmt: skip
    sent = client.post("/plate-reads", json={"reads": reads}, headers=as_(client, GATE))
    assert sent.status_code == 201

    def seen(who: Principal | None, **query: str) -> list[str]:
        headers = as_(client, who) if who else {}
        page = client.get("/plate-reads", params={"plate": PLATE, **query}, headers=headers)
        assert page.status_code == 200, page.text
        return [r["checkpoint"] for r in page.json()["items"]]

    assert seen(None) == ["CD-1", "MY-1", "OLD-1"]  # the administrator
    assert seen(CHENGDU) == ["CD-1", "OLD-1"]
    assert seen(MIANYANG) == ["MY-1", "OLD-1"]
    assert seen(CHENGDU, checkpoint="MY-1") == []
    listed = client.get("/checkpoints").json()
    assert {c["checkpoint_id"]: c["division"] for c in listed} == gates


def test_reads_by_officers_appear_in_the_read_log(client: TestClient) -> None:
    officer = as_(client, CHENGDU)
    alert_id = chengdu_alert(client)
    assert client.get(f"/alerts/{alert_id}", headers=officer).status_code == 200
    assert client.get("/alerts/AL-0000000000000000", headers=officer).status_code == 404
    assert client.get(f"/vehicles/{PLATE}/trips", headers=officer).status_code == 200
    client.get("/manifests", headers=as_(client, CARRIER))  # a party's reads are not logged
    log = client.get("/read-log").json()["items"]
    assert [(e["account"], e["method"], e["target"], e["status"]) for e in log] == [
        (CHENGDU.name, "GET", f"/vehicles/{PLATE}/trips", 200),
        (CHENGDU.name, "GET", "/alerts/AL-0000000000000000", 404),
        (CHENGDU.name, "GET", f"/alerts/{alert_id}", 200),
    ]
    assert all(e["role"] == "police" for e in log)
    only = client.get("/read-log", params={"account": "nobody"}).json()["items"]
    assert only == []


def test_an_officers_read_that_cannot_be_logged_is_not_answered(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    officer = as_(client, CHENGDU)
    alert_id = chengdu_alert(client)

    def full_disk(*_: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(SqlAccessStore, "record_read", full_disk)
    refused = client.get(f"/alerts/{alert_id}", headers=officer)
    problem(refused, 503, "read-log-unavailable")
    assert alert_id not in refused.text
    assert client.get(f"/alerts/{alert_id}").status_code == 200  # no officer, nothing to log


def test_an_officers_page_reads_are_logged_too(client: TestClient) -> None:
    officer = TestClient(client.app, raise_server_exceptions=False)
    log_in(officer, CHENGDU)
    assert officer.get("/officer/alerts").status_code == 200
    targets = [e["target"] for e in client.get("/read-log").json()["items"]]
    assert targets == ["/officer/alerts"]


# -- logging in on the pages ------------------------------------------------------------------


def test_log_in_open_the_pages_then_log_out(client: TestClient) -> None:
    person = TestClient(client.app, raise_server_exceptions=False)
    with Session(client.app.state.engine) as session:  # type: ignore[attr-defined]
        token_for(session, CHENGDU, password=PASSWORD)
    wrong = person.post("/login", data={"name": CHENGDU.name, "password": "not it at all"})
    assert wrong.status_code == 401
    assert "账户名或密码错误" in wrong.text
    back = "/officer/alerts?state=open"
    ok = person.post("/login", data={"name": CHENGDU.name, "password": PASSWORD, "next": back},
                     follow_redirects=False)  # fmt: skip
    assert (ok.status_code, ok.headers["location"]) == (303, back)
    cookie = ok.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "samesite=lax" in cookie.lower()
    page = person.get("/officer/alerts")
    assert page.status_code == 200
    assert CHENGDU.name in page.text
    session_token = person.cookies[SESSION_COOKIE]
    assert person.post("/logout", follow_redirects=False).status_code == 303
    # The login was revoked, not only forgotten by this browser.
    problem(client.get("/alerts", headers=bearer(session_token)), 401, "not-authenticated")


def test_a_login_does_not_bounce_to_another_site(client: TestClient) -> None:
    person = TestClient(client.app, raise_server_exceptions=False)
    with Session(client.app.state.engine) as session:  # type: ignore[attr-defined]
        token_for(session, CHENGDU, password=PASSWORD)
    form = {"name": CHENGDU.name, "password": PASSWORD, "next": "//evil.example/x"}
    ok = person.post("/login", data=form, follow_redirects=False)
    assert ok.headers["location"] == "/officer/alerts"


def test_a_cross_site_form_with_the_login_cookie_is_refused(client: TestClient) -> None:
    person = TestClient(client.app, raise_server_exceptions=False)
    log_in(person, CHENGDU)
    alert_id = chengdu_alert(client)
    forged = person.post(f"/alerts/{alert_id}/changes", json={"state": "acknowledged"},
                         headers={"Origin": "https://evil.example"})  # fmt: skip
    problem(forged, 403, "forbidden")
    same = person.post(f"/alerts/{alert_id}/changes", json={"state": "acknowledged"},
                       headers={"Origin": "http://testserver"})  # fmt: skip
    assert same.status_code == 200, same.text


def test_login_attempts_are_limited(client: TestClient) -> None:
    person = TestClient(client.app, raise_server_exceptions=False)
    answers = [person.post("/login", data={"name": "police.cd", "password": "guess-" + str(i)})
               for i in range(11)]  # fmt: skip
    assert [a.status_code for a in answers] == [401] * 10 + [429]


def test_a_page_the_role_does_not_open_says_so(client: TestClient) -> None:
    person = TestClient(client.app, raise_server_exceptions=False)
    log_in(person, MAKER)
    page = person.get("/officer/alerts")
    assert page.status_code == 403
    assert "不能打开此页面" in page.text

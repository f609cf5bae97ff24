"""Transfer manifests over HTTP: recorded once, never changed, every error a problem."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from api.problems import PROBLEM_JSON
from tests.conftest import DISPOSER_CODE, GENERATOR_CODE, TRANSPORTER_CODE
from tests.facts_fixtures import drum_id

if TYPE_CHECKING:
    from fastapi.testclient import TestClient

MANIFEST: dict[str, Any] = {
    "number": "20260351010000123",
    "generator": GENERATOR_CODE,
    "transporter": TRANSPORTER_CODE,
    "receiver": DISPOSER_CODE,
    "vehicles": ["川a·12345"],
    "waste_codes": ["90024908"],
    "containers": [drum_id(0), drum_id(1)],
    "declared_mass_g": 300000,
    "created_at": "2026-03-02T09:30:00+08:00",
    "origin": {"lat": 30.657, "lon": 104.066},
    "destination": {"lat": 30.89, "lon": 103.84},
    "depart_after": "2026-03-02T10:00:00+08:00",
    "arrive_before": "2026-03-02T18:00:00+08:00",
}


def problem(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    body: dict[str, Any] = response.json()
    assert body["code"] == code
    assert body["type"] == f"/problems/{code}"
    assert body["status"] == status
    assert body["title_zh"]
    return body


def test_a_manifest_is_recorded_normalised_and_in_utc(client: TestClient) -> None:
    created = client.post("/manifests", json=MANIFEST)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["vehicles"] == ["川A12345"]
    assert body["waste_codes"] == ["900-249-08"]
    assert body["created_at"] == "2026-03-02T01:30:00Z"
    assert body["arrive_before"] == "2026-03-02T10:00:00Z"
    assert body["origin"] == {"lat": 30.657, "lon": 104.066}
    assert client.get("/manifests/20260351010000123").json() == body


def test_the_same_manifest_again_is_200_and_a_changed_one_409(client: TestClient) -> None:
    assert client.post("/manifests", json=MANIFEST).status_code == 201
    again = client.post("/manifests", json=MANIFEST)
    assert again.status_code == 200
    changed = client.post("/manifests", json=MANIFEST | {"declared_mass_g": 310000})
    body = problem(changed, 409, "already-registered")
    assert "不可更改" in body["detail_zh"]
    assert client.get("/manifests/20260351010000123").json()["declared_mass_g"] == 300000


def test_an_unknown_manifest_is_a_404_problem(client: TestClient) -> None:
    body = problem(client.get("/manifests/99999999999"), 404, "manifest-not-found")
    assert body["title_zh"] == "未找到转移联单"


def test_manifests_are_listed_by_issue_time_in_a_window(client: TestClient) -> None:
    for number, created in (("2026000000003", "2026-03-03T08:00:00+08:00"),
                            ("2026000000001", "2026-03-01T08:00:00+08:00"),
                            ("2026000000002", "2026-03-02T08:00:00+08:00")):  # fmt: skip
        body = MANIFEST | {"number": number, "created_at": created}
        assert client.post("/manifests", json=body).status_code == 201
    listed = client.get("/manifests").json()["items"]
    assert [m["number"] for m in listed] == ["2026000000001", "2026000000002", "2026000000003"]
    window = {"since": "2026-03-02T00:00:00Z", "until": "2026-03-03T00:00:00Z"}
    assert [m["number"] for m in client.get("/manifests", params=window).json()["items"]] == [
        "2026000000002"
    ]


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"number": "123"}, 422, "record-invalid"),
        ({"generator": "91510100MA61R8XQ03"}, 422, "record-invalid"),
        ({"vehicles": ["XX12345"]}, 422, "record-invalid"),
        ({"containers": [drum_id(0), drum_id(0)]}, 422, "record-invalid"),
        ({"arrive_before": "2026-03-02T09:00:00+08:00"}, 422, "record-invalid"),
        ({"created_at": "2026-03-02T09:30:00"}, 422, "request-invalid"),
        ({"vehicles": []}, 422, "request-invalid"),
        ({"declared_mass_g": 0}, 422, "request-invalid"),
        ({"origin": {"lat": 91, "lon": 104}}, 422, "request-invalid"),
        ({"colour": "red"}, 422, "request-invalid"),
        # before year 1 once in UTC: overflowed in the store (fuzz)
        ({"created_at": "0001-01-01T00:00:00+08:00"}, 422, "request-invalid"),
        ({"arrive_before": "9999-12-31T23:00:00-08:00"}, 422, "request-invalid"),
    ],
)
def test_a_bad_manifest_is_refused_with_a_problem(
    client: TestClient, change: dict[str, Any], status: int, code: str
) -> None:
    problem(client.post("/manifests", json=MANIFEST | change), status, code)
    assert client.get("/manifests").json()["items"] == []


def test_a_window_without_zone_is_refused(client: TestClient) -> None:
    problem(client.get("/manifests", params={"since": "2026-03-02T00:00:00"}), 422,
            "request-invalid")  # fmt: skip


def test_every_error_is_described_in_the_openapi(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert {"200", "201", "409", "422"} <= set(paths["/manifests"]["post"]["responses"])
    assert "404" in paths["/manifests/{number}"]["get"]["responses"]
    assert "422" in paths["/manifests"]["get"]["responses"]


def test_manifests_come_in_cursor_pages(client: TestClient) -> None:
    numbers = [f"202600000000{n}" for n in range(1, 6)]
    for n, number in enumerate(numbers):
        body = MANIFEST | {"number": number, "created_at": f"2026-03-0{n + 1}T08:00:00+08:00"}
        assert client.post("/manifests", json=body).status_code == 201
    seen, cursor, pages = [], None, 0
    while True:
        page = client.get(
            "/manifests", params={"limit": 2} | ({"cursor": cursor} if cursor else {})
        )
        seen += [m["number"] for m in page.json()["items"]]
        pages += 1
        cursor = page.json()["next"]
        if cursor is None:
            break
    assert (seen, pages) == (numbers, 3)
    problem(client.get("/manifests", params={"cursor": "2099"}), 422, "record-invalid")

"""The service: health, docs, reference data and the registry over HTTP."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tests.conftest import DISPOSER_CODE, GENERATOR_CODE, TRANSPORTER_CODE

if TYPE_CHECKING:
    from fastapi.testclient import TestClient


def test_healthz_answers_with_database(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    assert response.json()["database"] in {"sqlite", "postgresql"}


def test_interactive_docs_are_served_without_the_internet(client: TestClient) -> None:
    page = client.get("/docs").text
    assert "swagger" in page.lower()
    assert "cdn." not in page
    script = next(part.split('"')[1] for part in page.split("src=")[1:] if "swagger" in part)
    assert client.get(script).status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/healthz", "/parties", "/waste-codes/{code}", "/vehicles/{plate}"} <= set(paths)


def test_waste_code_lookup(client: TestClient) -> None:
    body = client.get("/waste-codes/90004149").json()
    assert body["code"] == "900-041-49"
    assert body["category"] == "HW49"
    assert body["category_name"] == "其他废物"
    assert body["hazards"] == ["T", "In"]


def test_waste_codes_filtered_by_category(client: TestClient) -> None:
    codes = client.get("/waste-codes", params={"category": "hw01"}).json()
    assert [c["code"] for c in codes] == [f"841-00{i}-01" for i in range(1, 6)]


def test_waste_categories_count_codes(client: TestClient) -> None:
    hw01 = client.get("/waste-categories/HW01").json()
    assert hw01 == {"category": "HW01", "name": "医疗废物", "codes": 5}


def _register_parties(client: TestClient) -> None:
    for code, name, role in [
        (GENERATOR_CODE, "成都蓉新化工有限公司", "generator"),
        (TRANSPORTER_CODE, "四川危运物流有限公司", "transporter"),
        (DISPOSER_CODE, "遂宁环保处置有限公司", "disposer"),
    ]:
        response = client.post(
            "/parties", json={"credit_code": code, "name": name, "roles": [role]}
        )
        assert response.status_code == 201, response.text


def test_party_registration_is_idempotent_and_never_overwrites(client: TestClient) -> None:
    _register_parties(client)
    again = {"credit_code": GENERATOR_CODE, "name": "成都蓉新化工有限公司", "roles": ["generator"]}
    assert client.post("/parties", json=again).status_code == 200

    changed = client.post("/parties", json={**again, "name": "别的名字"})
    assert changed.status_code == 409
    assert changed.json()["code"] == "already-registered"
    assert client.get(f"/parties/{GENERATOR_CODE}").json()["name"] == "成都蓉新化工有限公司"


def test_bad_credit_code_is_refused_with_position(client: TestClient) -> None:
    bad = GENERATOR_CODE[:-1] + ("0" if GENERATOR_CODE[-1] != "0" else "1")
    response = client.post(
        "/parties", json={"credit_code": bad, "name": "x", "roles": ["generator"]}
    )
    assert response.status_code == 422
    assert response.json()["code"] == "credit-code-invalid"
    assert response.json()["context"]["position"] == 18


def test_vehicle_needs_known_operator_and_valid_plate(client: TestClient) -> None:
    vehicle = {"plate": "川A·12345", "operator": TRANSPORTER_CODE}
    assert client.post("/vehicles", json=vehicle).status_code == 404

    _register_parties(client)
    created = client.post("/vehicles", json=vehicle)
    assert created.status_code == 201
    assert created.json()["plate"] == "川A12345"
    assert client.get("/vehicles/川A12345").json()["operator"] == TRANSPORTER_CODE
    assert [v["plate"] for v in client.get(f"/parties/{TRANSPORTER_CODE}/vehicles").json()] == [
        "川A12345"
    ]

    bad = client.post("/vehicles", json={"plate": "川I·12345", "operator": TRANSPORTER_CODE})
    assert bad.status_code == 422
    assert bad.json()["code"] == "plate-invalid"


def test_permits_and_licences_belong_to_a_party(client: TestClient) -> None:
    _register_parties(client)
    permit = {
        "number": "川交运管许可成字510100000123号",
        "valid_from": "2024-01-01",
        "valid_to": "2027-12-31",
    }
    assert client.post(f"/parties/{TRANSPORTER_CODE}/permits", json=permit).status_code == 201
    assert (
        client.get(f"/parties/{TRANSPORTER_CODE}/permits").json()[0]["holder"] == TRANSPORTER_CODE
    )

    licence = {
        "number": "川环危第510900001号",
        "scope": ["hw08", "900-041-49"],
        "methods": ["incineration"],
        "capacity_t_per_year": 30000,
        "valid_from": "2024-06-01",
        "valid_to": "2029-05-31",
    }
    created = client.post(f"/parties/{DISPOSER_CODE}/licences", json=licence)
    assert created.status_code == 201
    assert created.json()["scope"] == ["900-041-49", "HW08"]

    backwards = {**licence, "number": "X-1", "valid_from": "2030-01-01"}
    refused = client.post(f"/parties/{DISPOSER_CODE}/licences", json=backwards)
    assert refused.status_code == 422
    assert refused.json()["code"] == "record-invalid"


def test_checkpoints(client: TestClient) -> None:
    gate = {
        "checkpoint_id": "CD-G5-K1234",
        "name": "G5成都北",
        "kind": "toll",
        "lat": 30.74,
        "lon": 104.07,
    }
    assert client.post("/checkpoints", json=gate).status_code == 201
    stored = client.get("/checkpoints/CD-G5-K1234").json()
    assert stored["source_crs"] == "WGS84"
    assert (stored["source_lat"], stored["source_lon"]) == (30.74, 104.07)
    assert client.get("/checkpoints/NOPE").status_code == 404


def test_api_edition_choices_match_the_shipped_editions() -> None:
    from typing import get_args  # noqa: PLC0415

    from api.endpoints.reference import DEFAULT_EDITION, Edition  # noqa: PLC0415
    from custody.wastes import CURRENT_EDITION, EDITIONS  # noqa: PLC0415

    assert set(get_args(Edition)) == set(EDITIONS)
    assert DEFAULT_EDITION == CURRENT_EDITION


def test_identifier_checks(client: TestClient) -> None:
    code = client.get(f"/credit-codes/{GENERATOR_CODE.lower()}").json()
    assert code["division"] == "510100"
    plate = client.get("/plates/川a·12345").json()
    assert plate == {
        "text": "川A12345",
        "display": "川A·12345",
        "province": "川",
        "authority": "A",
        "kind": "standard",
    }
    ident = client.get(f"/digital-ids/{GENERATOR_CODE}9000414920230701001").json()
    assert ident["waste_code"] == "900-041-49"
    assert ident["day"] == "2023-07-01"

    bad = client.get(f"/digital-ids/{GENERATOR_CODE}9000414920230230001")
    assert bad.status_code == 422
    assert bad.json()["context"]["rule"] == "date"

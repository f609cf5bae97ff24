"""Every domain error has an HTTP status, and errors come out as RFC 9457 problem details."""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING

from api.problems import PROBLEM_JSON, STATUS
from custody import errors

if TYPE_CHECKING:
    from fastapi.testclient import TestClient


def _all_error_classes() -> set[type[errors.CustodyError]]:
    return {
        obj
        for _, obj in inspect.getmembers(errors, inspect.isclass)
        if issubclass(obj, errors.CustodyError)
    }


def test_every_custody_error_class_is_mapped_explicitly() -> None:
    assert _all_error_classes() - set(STATUS) == set()


def test_error_codes_are_unique() -> None:
    codes = [cls.code for cls in _all_error_classes()]
    assert len(codes) == len(set(codes))


def test_every_error_has_chinese_and_english_titles() -> None:
    for cls in _all_error_classes():
        assert cls.title
        assert cls.title_zh
        assert cls.title != cls.title_zh


def test_domain_error_becomes_problem_json_with_code_and_chinese(client: TestClient) -> None:
    response = client.get("/waste-codes/900-041-43")
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM_JSON
    body = response.json()
    assert body["type"] == "/problems/waste-code-invalid"
    assert body["code"] == "waste-code-invalid"
    assert body["status"] == 422
    assert body["context"]["rule"] == "category"
    assert "类别" in body["detail_zh"]


def test_problem_type_uri_resolves_to_its_explanation(client: TestClient) -> None:
    problem = client.get("/waste-codes/900-998-49").json()
    explained = client.get(problem["type"])
    assert explained.status_code == 200
    assert explained.json()["status"] == 404
    assert explained.json()["title_zh"] == errors.WasteCodeUnknown.title_zh


def test_schema_violation_is_a_problem_naming_the_field(client: TestClient) -> None:
    response = client.post("/parties", json={"name": "x", "roles": ["generator"]})
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM_JSON
    body = response.json()
    assert body["code"] == "request-invalid"
    assert ["body", "credit_code"] in [e["location"] for e in body["errors"]]


def test_unknown_path_is_a_problem_too(client: TestClient) -> None:
    response = client.get("/no-such-thing")
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM_JSON


def test_unexpected_failure_is_500_with_correlation_id_and_no_internals(client: TestClient) -> None:
    def boom() -> None:
        raise RuntimeError("secret internals")

    client.app.add_api_route("/boom", boom)  # type: ignore[attr-defined]
    response = client.get("/boom")
    assert response.status_code == 500
    body = response.json()
    assert body["correlation_id"] in body["detail"]
    assert "secret internals" not in response.text

"""Every operation in the OpenAPI document, fuzzed: bad input is a 4xx problem, never a 5xx."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from pydantic import SecretStr
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    response_schema_conformance,
    status_code_conformance,
)

from api.app import create_app
from api.settings import Settings
from tests.conftest import GENERATOR_CODE, TRANSPORTER_CODE
from tests.support.access import sign_in

if TYPE_CHECKING:
    from collections.abc import Iterator

    from schemathesis import Case, HookContext

KEK = SecretStr("tests-only key-encryption key")
BASE_URL = "http://testserver"
SEEDED = {GENERATOR_CODE: "generator", TRANSPORTER_CODE: "transporter"}
CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]


def _settings(data_dir: Path) -> Settings:
    return Settings(  # its own database, whatever CUSTODY_DATABASE_URL says
        data_dir=data_dir,
        database_url=f"sqlite:///{data_dir / 'fuzz.sqlite3'}",
        key_encryption_key=KEK,
        write_burst=1_000_000,  # fuzz every write, not the rate limiter
    )


# Only the document is read here; the app never starts, so nothing touches the disk.
schema = schemathesis.openapi.from_dict(create_app(_settings(Path("unused"))).openapi())


@schema.hook
def map_path_parameters(
    _: HookContext, path_parameters: dict[str, Any] | None
) -> dict[str, Any] | None:
    # Random codes never name a stored party; swap about half in so handlers past the lookup
    # get fuzzed too. The choice follows the generated value, so it stays deterministic.
    code = (path_parameters or {}).get("credit_code")
    if path_parameters and code is not None and len(str(code)) % 2:
        path_parameters["credit_code"] = GENERATOR_CODE
    return path_parameters


@pytest.fixture(scope="module")
def fuzz_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    app = create_app(_settings(tmp_path_factory.mktemp("fuzz")))
    # A 500 must come back as a response the check can see, not as an exception.
    with TestClient(app, raise_server_exceptions=False) as client:
        sign_in(client)  # as the administrator: every operation is reachable
        for code, role in SEEDED.items():
            party = {"credit_code": code, "name": f"单位{code[-4:]}", "roles": [role]}
            assert client.post("/parties", json=party).status_code == 201
        yield client


def _for_httpx(kwargs: dict[str, Any]) -> dict[str, Any]:
    # schemathesis speaks `requests`; httpx deprecates per-request cookies and raw `data`.
    if kwargs.pop("cookies", None):
        raise AssertionError("no operation takes cookies; send them on the client if one does")
    if isinstance(kwargs.get("data"), str | bytes):
        kwargs["content"] = kwargs.pop("data")
    return kwargs


@schema.parametrize()
@settings(
    max_examples=20,
    deadline=timedelta(seconds=5),
    derandomize=True,  # the same cases on every run, so CI cannot flake
    database=None,
    # Big generated bodies are slow to build and shrink; that is the point, not a problem.
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
    ],
)
def test_no_operation_answers_with_a_server_error(case: Case, fuzz_client: TestClient) -> None:
    response = fuzz_client.request(**_for_httpx(case.as_transport_kwargs(base_url=BASE_URL)))
    case.validate_response(response, checks=CHECKS)

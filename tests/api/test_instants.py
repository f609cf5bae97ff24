"""Query windows whose ends cannot be expressed in UTC are refused, not a storage failure."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from api.problems import PROBLEM_JSON

if TYPE_CHECKING:
    from fastapi.testclient import TestClient

BBOX = {"bbox": "103.9,30.5,104.2,30.8"}


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/plate-reads", {}),
        ("/manifests", {}),
        ("/alerts", {}),
        ("/alerts/near", BBOX),
        ("/vehicles/川A12345/trips", {}),
    ],
)
@pytest.mark.parametrize(
    "when",
    ["0001-01-01T00:00:03+01:00", "9999-12-31T23:59:59-01:00"],  # outside datetime in UTC
)
def test_a_window_end_out_of_range_in_utc_is_a_422(
    client: TestClient, path: str, params: dict[str, str], when: str
) -> None:
    # These overflowed in the stores' UTC conversion and came back 503 (fuzz)
    for end in ("since", "until"):
        response = client.get(path, params=params | {end: when})
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == PROBLEM_JSON
        assert response.json()["code"] == "request-invalid"

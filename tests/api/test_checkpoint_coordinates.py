"""Checkpoints given as a Chinese map shows them are stored in WGS-84, the original kept.

A point read off AMap or Tencent is GCJ-02, one read off Baidu is BD-09; in Chengdu they sit
about 360 m and 950 m from the truth, more than any corridor is wide. The edge converts them;
the record keeps the point as given, as evidence.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest
from pyproj import Geod
from typer.testing import CliRunner

from api.cli import app
from custody.registry import Registry
from routes.coords import to_wgs84
from storage.engine import make_engine
from storage.registry_store import SqlRegistryStore

if TYPE_CHECKING:
    from pathlib import Path

    from fastapi.testclient import TestClient

GEOD = Geod(ellps="WGS84")
TIANFU_SQUARE = (104.0658, 30.6574)  # Chengdu, (lon, lat) as a map app would show it


def _gate(crs: str | None, checkpoint_id: str = "CD-TFGC-1") -> dict[str, Any]:
    body: dict[str, Any] = {
        "checkpoint_id": checkpoint_id,
        "name": "天府广场卡口",
        "kind": "anpr_gate",
        "lon": TIANFU_SQUARE[0],
        "lat": TIANFU_SQUARE[1],
    }
    if crs is not None:
        body["crs"] = crs
    return body


def _moved_m(stored: dict[str, Any]) -> float:
    """How far the stored WGS-84 point is from the point as given."""
    given = (stored["source_lon"], stored["source_lat"])
    return float(GEOD.inv(*given, stored["lon"], stored["lat"])[2])


@pytest.mark.parametrize(
    ("crs", "stored_crs", "offset_m"),
    [
        pytest.param("GCJ02", "GCJ02", 360, id="gcj02-amap"),
        pytest.param("gcj-02", "GCJ02", 360, id="gcj02-lower-case-with-hyphen"),
        pytest.param("BD09", "BD09", 951, id="bd09-baidu"),
        pytest.param("bd-09", "BD09", 951, id="bd09-lower-case-with-hyphen"),
    ],
)
def test_a_map_app_point_is_stored_in_wgs84_with_the_given_point_kept(
    client: TestClient, crs: str, stored_crs: str, offset_m: float
) -> None:
    created = client.post("/checkpoints", json=_gate(crs))
    assert created.status_code == 201, created.text

    stored = client.get("/checkpoints/CD-TFGC-1").json()
    assert created.json() == stored
    assert stored["source_crs"] == stored_crs
    assert (stored["source_lon"], stored["source_lat"]) == TIANFU_SQUARE  # untouched
    assert _moved_m(stored) == pytest.approx(offset_m, abs=10)
    expected = to_wgs84(*TIANFU_SQUARE, stored_crs)
    assert (stored["lon"], stored["lat"]) == pytest.approx(expected, abs=1e-12)


def test_a_point_without_a_system_is_wgs84_and_not_moved(client: TestClient) -> None:
    assert client.post("/checkpoints", json=_gate(None)).status_code == 201
    stored = client.get("/checkpoints/CD-TFGC-1").json()
    assert stored["source_crs"] == "WGS84"
    assert (stored["lon"], stored["lat"]) == TIANFU_SQUARE
    assert (stored["source_lon"], stored["source_lat"]) == TIANFU_SQUARE


def test_registering_the_same_gcj02_point_again_is_already_on_file(client: TestClient) -> None:
    assert client.post("/checkpoints", json=_gate("GCJ02")).status_code == 201
    again = client.post("/checkpoints", json=_gate("gcj02"))
    assert again.status_code == 200  # the conversion is deterministic: same record
    assert again.json()["source_crs"] == "GCJ02"


def test_the_same_numbers_in_another_system_are_another_place_and_refused(
    client: TestClient,
) -> None:
    assert client.post("/checkpoints", json=_gate("GCJ02")).status_code == 201
    clash = client.post("/checkpoints", json=_gate("WGS84"))
    assert clash.status_code == 409  # 360 m apart: the record on file stays
    assert client.get("/checkpoints/CD-TFGC-1").json()["source_crs"] == "GCJ02"


@pytest.mark.parametrize("crs", ["BD09MC", "EPSG:3857", "CGCS2000", "mars"])
def test_an_unknown_system_is_a_problem_and_nothing_is_stored(client: TestClient, crs: str) -> None:
    refused = client.post("/checkpoints", json=_gate(crs))
    assert refused.status_code == 422
    assert refused.headers["content-type"] == "application/problem+json"
    problem = refused.json()
    assert problem["code"] == "request-invalid"
    assert problem["title_zh"]
    assert [e["location"] for e in problem["errors"]] == [["body", "crs"]]
    assert "'WGS84', 'GCJ02' or 'BD09'" in problem["errors"][0]["message"]
    assert client.get("/checkpoints/CD-TFGC-1").status_code == 404


def test_the_api_documents_the_systems_it_accepts(client: TestClient) -> None:
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    assert schemas["CoordinateSystem"]["enum"] == ["WGS84", "GCJ02", "BD09"]
    assert "crs" in schemas["CheckpointCreate"]["properties"]
    assert "crs" not in schemas["CheckpointPublic"]["properties"]  # stored points are WGS-84


def test_registry_import_converts_a_gcj02_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `custody registry import` reads checkpoints with the same schema as the API.
    url = f"sqlite:///{tmp_path / 'import.sqlite3'}"
    monkeypatch.setenv("CUSTODY_DATABASE_URL", url)
    runner = CliRunner()
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    file = tmp_path / "registry.json"
    file.write_text(json.dumps({"checkpoints": [_gate("GCJ-02")]}, ensure_ascii=False), "utf-8")

    result = runner.invoke(app, ["registry", "import", str(file)])
    assert result.exit_code == 0, result.output

    engine = make_engine(url)
    try:
        checkpoint = Registry(SqlRegistryStore(engine)).checkpoint("CD-TFGC-1")
    finally:
        engine.dispose()
    assert checkpoint.source.crs == "GCJ02"
    assert (checkpoint.source.lon, checkpoint.source.lat) == TIANFU_SQUARE
    location = (checkpoint.location.lon, checkpoint.location.lat)
    assert location == pytest.approx(to_wgs84(*TIANFU_SQUARE, "GCJ02"), abs=1e-12)

"""`custody route check`: a trip from files, its findings in a table, a map, JSON, exit codes."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from typer.testing import CliRunner

from api.route_cli import FINDINGS_EXIT, read_checkpoints, read_track, route_app
from routes.coords import from_wgs84
from routes.corridor import plan_trip
from routes.network import RoadNetwork
from routes.synthetic import drive
from tests.routes.example_trip import EXAMPLES, START

if TYPE_CHECKING:
    from collections.abc import Sequence

    from routes.model import Fix

MONACO = Path(__file__).resolve().parents[2] / "routes" / "data" / "monaco.osm.pbf"
runner = CliRunner()


@pytest.fixture(scope="module")
def monaco(tmp_path_factory: pytest.TempPathFactory) -> RoadNetwork:
    return RoadNetwork.load(MONACO, tmp_path_factory.mktemp("roads"))


@pytest.fixture(autouse=True)
def data_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """One data folder for the module, so the network is built once and then read."""
    folder = tmp_path_factory.getbasetemp() / "route-cli-data"
    monkeypatch.setenv("CUSTODY_DATA_DIR", str(folder))
    return folder


def check(*args: str | Path) -> tuple[int, str]:
    result = runner.invoke(route_app, ["check", *map(str, args)])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def example(*names: str) -> list[str]:
    """Options for the example trip's files."""
    options = {
        "track": "track.csv",
        "sightings": "sightings.csv",
        "checkpoints": "checkpoints.csv",
        "areas": "areas.geojson",
    }
    return [part for name in names for part in (f"--{name}", str(EXAMPLES / options[name]))]


def write_track(path: Path, fixes: Sequence[Fix]) -> Path:
    lines = ["time,lon,lat", *(f"{f.at.isoformat()},{f.lon},{f.lat}" for f in fixes)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# -- the example trip ---------------------------------------------------------------------------


def test_the_example_detour_is_flagged_with_a_map_and_json(tmp_path: Path) -> None:
    svg, out = tmp_path / "trip.svg", tmp_path / "trip.json"
    code, output = check(
        EXAMPLES / "manifest.json",
        *example("track", "sightings", "checkpoints", "areas"),
        "--map",
        svg,
        "--json",
        out,
    )
    assert code == FINDINGS_EXIT == 28
    for rule in ("off-route", "off-route-sighting", "dwell"):
        assert f" {rule} " in output
    assert "停车 40 分钟" in output
    assert output.index("联单 Trip") < output.index("严重程度 Severity")
    assert "路线图已写入 Map written" in output
    root = ET.fromstring(svg.read_bytes())  # noqa: S314  # our own output
    ids = {g.attrib.get("id") for g in root.iter("{http://www.w3.org/2000/svg}g")}
    assert {"deviations", "stops", "checkpoints", "areas", "track", "route"} <= ids
    body = json.loads(out.read_text(encoding="utf-8"))
    assert body["trip"] == {"trip_id": "DEMO-2025-0314-01", "vehicle": "川A12345"}
    assert {f["rule"] for f in body["findings"]} >= {"off-route", "off-route-sighting", "dwell"}


def test_the_outputs_are_the_same_bytes_on_a_second_run(tmp_path: Path) -> None:
    outputs = []
    for run in ("first", "second"):
        svg, out = tmp_path / f"{run}.svg", tmp_path / f"{run}.json"
        check(
            EXAMPLES / "manifest.json",
            *example("track", "checkpoints", "sightings"),
            "--map",
            svg,
            "--json",
            out,
        )
        outputs.append((svg.read_bytes(), out.read_bytes()))
    assert outputs[0] == outputs[1]


def test_a_trip_that_keeps_to_its_route_exits_0(monaco: RoadNetwork, tmp_path: Path) -> None:
    from api.route_cli import read_manifest  # noqa: PLC0415  # the manifest as the command reads it

    plan = plan_trip(monaco, read_manifest(EXAMPLES / "manifest.json"))
    track = write_track(tmp_path / "clean.csv", drive(monaco, plan.fastest, START, seed=2))
    code, output = check(EXAMPLES / "manifest.json", "--track", track)
    assert code == 0, output
    assert "未发现问题 · No findings" in output


def test_fail_on_lets_lesser_findings_pass(monaco: RoadNetwork, tmp_path: Path) -> None:
    from api.route_cli import read_manifest  # noqa: PLC0415  # the manifest as the command reads it

    plan = plan_trip(monaco, read_manifest(EXAMPLES / "manifest.json"))
    fixes = drive(monaco, plan.fastest, START, seed=2)
    silent = write_track(tmp_path / "silent.csv", fixes[:3] + fixes[15:])  # six quiet minutes
    code, output = check(EXAMPLES / "manifest.json", "--track", silent)
    assert code == FINDINGS_EXIT
    assert "中 MEDIUM" in output
    assert " gps-gap " in output
    code, output = check(EXAMPLES / "manifest.json", "--track", silent, "--fail-on", "high")
    assert code == 0
    assert " gps-gap " in output  # still reported


# -- bad input --------------------------------------------------------------------------------


def test_a_bad_csv_row_is_named_by_its_line(tmp_path: Path) -> None:
    rows = (EXAMPLES / "track.csv").read_text(encoding="utf-8").splitlines()
    rows[3] = rows[3].replace(",43.", ",north of 43.")
    bad = tmp_path / "track.csv"
    bad.write_text("\n".join(rows) + "\n", encoding="utf-8")
    code, output = check(EXAMPLES / "manifest.json", "--track", bad)
    assert code == 3
    lines = output.splitlines()
    assert "record-invalid" in lines[0]
    assert "第 4 行" in lines[1]  # Chinese first ...
    assert "line 4" in lines[2]  # ... then English
    assert "not numbers" in lines[2]


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        ("2025-03-14T09:00:00,7.41,43.73", "has no zone"),
        ("yesterday,7.41,43.73", "not ISO 8601"),
        ("2025-03-14T09:00:00+08:00,7.41,93.73", "latitude 93.73"),
        ("2025-03-14T09:00:00+08:00,7.41,43.73,-5", "not a speed"),
        ("2025-03-14T09:00:00+08:00,7.41,43.73,50,ETRS89", "ETRS89"),
        ("2025-03-14T09:00:00+08:00,7.41,43.73,50,WGS84,extra", "more values"),
    ],
)
def test_each_kind_of_bad_track_row_is_explained(tmp_path: Path, row: str, expected: str) -> None:
    bad = tmp_path / "track.csv"
    bad.write_text(f"time,lon,lat,speed_kmh,crs\n{row}\n", encoding="utf-8")
    code, output = check(EXAMPLES / "manifest.json", "--track", bad)
    assert code == 3
    assert "line 2" in output
    assert expected in output


def test_an_unreadable_file_is_reported_in_both_languages(tmp_path: Path) -> None:
    code, output = check(tmp_path / "nowhere.json")
    assert code == 3
    assert "无法读取联单文件" in output
    assert "cannot read" in output
    assert "Traceback" not in output


def test_a_manifest_without_a_destination_names_the_field(tmp_path: Path) -> None:
    manifest = json.loads((EXAMPLES / "manifest.json").read_text(encoding="utf-8"))
    del manifest["destination"]
    bad = tmp_path / "manifest.json"
    bad.write_text(json.dumps(manifest), encoding="utf-8")
    code, output = check(bad)
    assert code == 3
    assert "字段 destination" in output
    assert "field destination" in output


def test_a_manifest_that_is_not_json_names_line_and_column(tmp_path: Path) -> None:
    bad = tmp_path / "manifest.json"
    bad.write_text('{\n  "trip_id": "X",\n  oops\n}\n', encoding="utf-8")
    code, output = check(bad)
    assert code == 3
    assert "line 3 column 3" in output


def test_a_place_far_from_every_road_is_refused(tmp_path: Path) -> None:
    manifest = json.loads((EXAMPLES / "manifest.json").read_text(encoding="utf-8"))
    manifest["destination"] |= {"lon": 7.6, "lat": 43.9}  # 15 km beyond the extract
    bad = tmp_path / "manifest.json"
    bad.write_text(json.dumps(manifest), encoding="utf-8")
    code, output = check(bad)
    assert code == 3
    assert "coordinate-invalid" in output


def test_a_sighting_at_an_unknown_checkpoint_exits_4(tmp_path: Path) -> None:
    sightings = tmp_path / "sightings.csv"
    sightings.write_text("checkpoint_id,seen_at\nCP-99,2025-03-14T09:05:00+08:00\n", "utf-8")
    code, output = check(
        EXAMPLES / "manifest.json", "--sightings", sightings, *example("checkpoints")
    )
    assert code == 4
    assert "CP-99" in output


def test_a_checkpoint_off_the_roads_is_refused_with_its_line(tmp_path: Path) -> None:
    rows = (EXAMPLES / "checkpoints.csv").read_text(encoding="utf-8").splitlines()
    rows[2] = rows[2].replace("7.417754,43.735820", "7.440000,43.730000")  # in the sea
    bad = tmp_path / "checkpoints.csv"
    bad.write_text("\n".join(rows) + "\n", encoding="utf-8")
    code, output = check(EXAMPLES / "manifest.json", "--checkpoints", bad)
    assert code == 3
    assert "line 3" in output
    assert "须人工确认" in output


def test_a_write_that_fails_is_reported(tmp_path: Path) -> None:
    code, output = check(EXAMPLES / "manifest.json", "--map", tmp_path / "no" / "such" / "m.svg")
    assert code == 3
    assert "无法写入路线图" in output


# -- formats -----------------------------------------------------------------------------------


def test_a_track_in_gcj02_is_converted_to_wgs84(tmp_path: Path) -> None:
    chengdu = (104.0665, 30.5728)  # WGS-84
    given = from_wgs84(*chengdu, "GCJ02")
    assert abs(given[0] - chengdu[0]) > 0.001  # the two systems differ by hundreds of metres
    track = tmp_path / "track.csv"
    track.write_text(
        f"time,lon,lat,crs\n2025-03-14T09:00:00+08:00,{given[0]},{given[1]},GCJ-02\n",
        encoding="utf-8",
    )
    (fix,) = read_track(track)
    assert (fix.lon, fix.lat) == pytest.approx(chengdu, abs=1e-6)
    assert fix.at == datetime(2025, 3, 14, 1, 0, tzinfo=UTC)


def test_a_geojson_track_reads_as_the_csv_does(tmp_path: Path) -> None:
    fixes = read_track(EXAMPLES / "track.csv")
    points = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [f.lon, f.lat]},
                "properties": {"time": f.at.isoformat(), "speed_kmh": f.speed_kmh},
            }
            for f in fixes
        ],
    }
    line = {
        "type": "Feature",
        "geometry": {"type": "LineString", "coordinates": [[f.lon, f.lat] for f in fixes]},
        "properties": {
            "times": [f.at.isoformat() for f in fixes],
            "speeds_kmh": [f.speed_kmh for f in fixes],
        },
    }
    for name, body in (("points.geojson", points), ("line.geojson", line)):
        (tmp_path / name).write_text(json.dumps(body), encoding="utf-8")
        assert read_track(tmp_path / name) == fixes


def test_a_geojson_line_needs_a_time_for_each_point(tmp_path: Path) -> None:
    line = {
        "type": "Feature",
        "properties": {"times": ["2025-03-14T09:00:00+08:00"]},
        "geometry": {"type": "LineString", "coordinates": [[7.41, 43.73], [7.42, 43.74]]},
    }
    bad = tmp_path / "track.geojson"
    bad.write_text(json.dumps(line), encoding="utf-8")
    code, output = check(EXAMPLES / "manifest.json", "--track", bad)
    assert code == 3
    assert "feature 0" in output
    assert "one time per point" in output


def test_checkpoints_from_geojson_snap_as_from_csv(monaco: RoadNetwork, tmp_path: Path) -> None:
    from_csv = read_checkpoints(EXAMPLES / "checkpoints.csv", monaco)
    features = [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [c.lon, c.lat]},
            "properties": {"id": c.checkpoint_id, "name": c.name, "kind": c.kind},
        }
        for c in from_csv
    ]
    path = tmp_path / "checkpoints.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}), "utf-8")
    assert read_checkpoints(path, monaco) == from_csv
    assert all(c.snap_m < 1 for c in from_csv)  # the examples sit on their roads


def test_help_explains_the_exit_codes() -> None:
    result = runner.invoke(route_app, ["check", "--help"])
    assert result.exit_code == 0
    for text in ("--track", "--sightings", "--checkpoints", "--areas", "--map", "--json", "28"):
        assert text in result.output

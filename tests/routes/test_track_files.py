"""Tracks of many vehicles from CSV and GeoJSON: grouped by plate, sorted, converted to WGS-84,
and refused whole with the line or feature named when something is wrong."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pytest

from custody.errors import CoordinateInvalid, InputError, RecordInvalid
from routes.coords import from_wgs84
from routes.track_files import read_track_csv, read_track_geojson

if TYPE_CHECKING:
    from pathlib import Path

NINE = datetime(2025, 3, 14, 1, 0, tzinfo=UTC)  # 09:00 in China
CHENGDU = (104.066, 30.657)  # WGS-84: inside China, where GCJ-02 moves points by ~300 m


def metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    dx = (a[0] - b[0]) * 111_320 * math.cos(math.radians(a[1]))
    return math.hypot(dx, (a[1] - b[1]) * 110_860)


CSV = """\ufeffPlate,Time,Lon,Lat,Speed_kmh,note
川A12345,2025-03-14T09:01:00+08:00,104.067,30.658,42.5,second
川a·12345,2025-03-14T09:00:00+08:00,104.066,30.657,,first

沪B54321,2025-03-14T01:00:00Z,121.47,31.23,0,parked
"""


def test_csv_fixes_are_grouped_by_canonical_plate_and_sorted_by_time() -> None:
    tracks = read_track_csv(CSV)
    assert list(tracks) == ["川A12345", "沪B54321"]
    first, second = tracks["川A12345"]
    assert (first.at, first.lon, first.lat, first.speed_kmh) == (NINE, 104.066, 30.657, None)
    assert (second.speed_kmh, second.at.minute) == (42.5, 1)
    (parked,) = tracks["沪B54321"]
    assert parked.at == NINE
    assert parked.at.tzinfo is UTC


def test_gcj02_and_bd09_rows_are_converted_to_wgs84() -> None:
    gcj = from_wgs84(*CHENGDU, "GCJ02")
    bd = from_wgs84(*CHENGDU, "BD09")
    assert metres(gcj, CHENGDU) > 200  # what is at stake: far wider than a corridor
    text = ("plate,time,lon,lat,crs\n"
            f"川A12345,2025-03-14T09:00:00+08:00,{gcj[0]},{gcj[1]},GCJ02\n"
            f"川A12345,2025-03-14T09:00:30+08:00,{bd[0]},{bd[1]},bd09\n"
            f"川A12345,2025-03-14T09:01:00+08:00,{CHENGDU[0]},{CHENGDU[1]},\n")  # fmt: skip
    fixes = read_track_csv(text)["川A12345"]
    for fix in fixes:
        assert metres((fix.lon, fix.lat), CHENGDU) < 0.01


def test_a_csv_file_is_read_from_its_path(tmp_path: Path) -> None:
    path = tmp_path / "track.csv"
    path.write_text(CSV, encoding="utf-8")
    assert read_track_csv(path) == read_track_csv(str(path)) == read_track_csv(CSV)
    with pytest.raises(InputError, match="cannot read"):
        read_track_csv(tmp_path / "missing.csv")


@pytest.mark.parametrize(
    ("row", "error", "field"),
    [
        ("川A12345,2025-03-14T09:00:00,104.066,30.657", RecordInvalid, "time"),
        ("川A12345,at nine,104.066,30.657", RecordInvalid, "time"),
        ("川A1234,2025-03-14T09:00:00+08:00,104.066,30.657", RecordInvalid, "plate"),
        (",2025-03-14T09:00:00+08:00,104.066,30.657", RecordInvalid, "plate"),
        ("川A12345,2025-03-14T09:00:00+08:00,east,30.657", CoordinateInvalid, "lon/lat"),
        ("川A12345,2025-03-14T09:00:00+08:00,504066.1,3392117.8", CoordinateInvalid, "lat"),
        ("川A12345,2025-03-14T09:00:00+08:00,104.066,30.657,-3", RecordInvalid, "speed_kmh"),
        ("川A12345,2025-03-14T09:00:00+08:00,104.066,30.657,,MARS", CoordinateInvalid, "crs"),
        ("川A12345,2025-03-14T09:00:00+08:00,104.066,30.657,,,extra", RecordInvalid, "row"),
    ],
)
def test_a_bad_row_is_refused_naming_its_line(row: str, error: type[Exception], field: str) -> None:
    text = ("plate,time,lon,lat,speed_kmh,crs\n"
            "川A12345,2025-03-14T08:59:30+08:00,104.066,30.657,,\n"
            "\n"
            f"{row}\n")  # fmt: skip
    with pytest.raises(error) as caught:
        read_track_csv(text)
    assert isinstance(caught.value, RecordInvalid | CoordinateInvalid)
    assert caught.value.context["line"] == 4  # the header is line 1, the blank line counts
    assert caught.value.context["field"] == field
    assert caught.value.message.startswith("line 4, ")
    assert caught.value.zh.startswith("第 4 行")


def test_a_header_without_the_required_columns_is_refused() -> None:
    with pytest.raises(RecordInvalid) as caught:
        read_track_csv("time,lon,lat\n2025-03-14T09:00:00+08:00,104.066,30.657\n")
    assert "plate" in caught.value.message
    assert caught.value.context["line"] == 1


def feature(geometry: dict[str, Any], **props: Any) -> dict[str, Any]:
    return {"type": "Feature", "geometry": geometry, "properties": props}


def test_geojson_points_and_lines_are_read_by_plate() -> None:
    gcj = from_wgs84(*CHENGDU, "GCJ02")
    doc = {"type": "FeatureCollection", "features": [
        feature({"type": "Point", "coordinates": [104.067, 30.658]},
                plate="川A12345", time="2025-03-14T09:01:00+08:00", speed_kmh=40),
        feature({"type": "LineString", "coordinates": [[*gcj], [104.0, 30.6, 500.0]]},
                plate="川A·12345", crs="GCJ02", speeds_kmh=[0, 30.5],
                times=["2025-03-14T09:00:00+08:00", "2025-03-14T09:02:00+08:00"]),
        feature({"type": "LineString", "coordinates": [[121.47, 31.23]]},
                plate="沪B54321", coordTimes=["2025-03-14T01:00:00Z"]),
    ]}  # fmt: skip
    tracks = read_track_geojson(doc)
    assert list(tracks) == ["川A12345", "沪B54321"]
    a, b, c = tracks["川A12345"]
    assert [f.at.minute for f in (a, b, c)] == [0, 1, 2]
    assert metres((a.lon, a.lat), CHENGDU) < 0.01  # GCJ-02 converted
    assert (b.speed_kmh, c.speed_kmh, a.speed_kmh) == (40, 30.5, 0)
    assert tracks["沪B54321"][0].at == NINE
    assert read_track_geojson(json.dumps(doc)) == tracks


def test_a_geojson_file_and_a_single_feature_are_read(tmp_path: Path) -> None:
    one = feature({"type": "Point", "coordinates": [104.066, 30.657]}, plate="川A12345",
                  time="2025-03-14T09:00:00+08:00")  # fmt: skip
    path = tmp_path / "track.geojson"
    path.write_text(json.dumps(one, ensure_ascii=False), encoding="utf-8")
    assert read_track_geojson(path)["川A12345"][0].at == NINE


@pytest.mark.parametrize(
    ("bad", "error", "where", "field"),
    [
        (feature({"type": "Point", "coordinates": [104.066, 30.657]}, plate="川A12345"),
         RecordInvalid, {"feature": 1}, "time"),
        (feature({"type": "Point", "coordinates": [104.066]}, plate="川A12345",
                 time="2025-03-14T09:00:00+08:00"), CoordinateInvalid, {"feature": 1},
         "coordinates"),
        (feature({"type": "Point", "coordinates": [104.066, 30.657]},
                 time="2025-03-14T09:00:00+08:00"), RecordInvalid, {"feature": 1}, "plate"),
        (feature({"type": "LineString", "coordinates": [[104.066, 30.657], [104.0, 30.6]]},
                 plate="川A12345", times=["2025-03-14T09:00:00+08:00"]),
         RecordInvalid, {"feature": 1}, "times"),
        (feature({"type": "LineString", "coordinates": [[104.066, 30.657], [204.0, 30.6]]},
                 plate="川A12345",
                 times=["2025-03-14T09:00:00+08:00", "2025-03-14T09:01:00+08:00"]),
         CoordinateInvalid, {"feature": 1, "point": 1}, "lon"),
        (feature({"type": "Polygon", "coordinates": []}, plate="川A12345"),
         RecordInvalid, {"feature": 1}, "geometry"),
        ({"type": "Feature", "geometry": None}, RecordInvalid, {"feature": 1}, "geometry"),
    ],
)  # fmt: skip
def test_a_bad_feature_is_refused_naming_it(
    bad: dict[str, Any], error: type[Exception], where: dict[str, int], field: str
) -> None:
    good = feature({"type": "Point", "coordinates": [104.066, 30.657]}, plate="川A12345",
                   time="2025-03-14T09:00:00+08:00")  # fmt: skip
    with pytest.raises(error) as caught:
        read_track_geojson({"type": "FeatureCollection", "features": [good, bad]})
    assert isinstance(caught.value, RecordInvalid | CoordinateInvalid)
    assert {k: caught.value.context[k] for k in where} == where
    assert caught.value.context["field"] == field
    assert caught.value.zh.startswith("第 1 个要素")


def test_text_that_is_not_geojson_is_refused_with_its_place() -> None:
    with pytest.raises(RecordInvalid) as caught:
        read_track_geojson('{"type": "FeatureCollection",\n "features": [}')
    assert caught.value.context["line"] == 2
    with pytest.raises(RecordInvalid, match="FeatureCollection"):
        read_track_geojson({"type": "Point", "coordinates": [104.066, 30.657]})

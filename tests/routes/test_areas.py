"""Sensitive-area layers are read whole and exactly, or refused with the reason."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest
import shapely

from routes.areas import AreasInvalid, load_areas
from tests.routes.support import at, town

if TYPE_CHECKING:
    from pathlib import Path

    from routes.network import RoadNetwork


@pytest.fixture(scope="module")
def small() -> RoadNetwork:
    return town()


def square(x: float, y: float, half: float) -> list[list[list[float]]]:
    corners = [(x - half, y - half), (x + half, y - half), (x + half, y + half),
               (x - half, y + half), (x - half, y - half)]  # fmt: skip
    return [[list(at(*c)) for c in corners]]


def feature(
    name: Any = "清溪水源地", kind: Any = "drinking_water_source", **geometry: Any
) -> dict[str, Any]:
    shape = geometry or {"type": "Polygon", "coordinates": square(2300, -3000, 400)}
    return {"type": "Feature", "properties": {"name": name, "kind": kind}, "geometry": shape}


def collection(*features: dict[str, Any]) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": list(features)}


def test_a_protection_zone_is_read_into_metres(small: RoadNetwork) -> None:
    (zone,) = load_areas(collection(feature()), small)
    assert zone.name == "清溪水源地"
    assert (zone.kind, zone.kind_zh) == ("drinking_water_source", "饮用水水源保护区")
    assert zone.kind_en == "drinking-water source protection zone"
    assert zone.geometry.area == pytest.approx(800 * 800, rel=0.01)
    assert shapely.contains_xy(zone.geometry, *small.project(*at(2300, -3000)))
    assert not shapely.contains_xy(zone.geometry, *small.project(*at(2300, -3500)))


def test_a_file_a_single_feature_and_a_multipolygon_are_read(
    small: RoadNetwork, tmp_path: Path
) -> None:
    two = {"type": "MultiPolygon", "coordinates": [square(0, 0, 100), square(4000, 0, 100)]}
    path = tmp_path / "areas.geojson"
    path.write_text(json.dumps(collection(feature("城区", "city_centre", **two))), encoding="utf-8")
    (centre,) = load_areas(path, small)
    assert centre.geometry.geom_type == "MultiPolygon"
    assert load_areas(str(path), small)[0].name == "城区"
    (single,) = load_areas(feature(), small)
    assert single.name == "清溪水源地"


def test_chinese_kinds_are_understood_and_other_kinds_kept(small: RoadNetwork) -> None:
    reserve, other = load_areas(collection(feature("龙泉山", "自然保护区"),
                                           feature("学校", "school")), small)  # fmt: skip
    assert (reserve.kind, reserve.kind_en) == ("nature_reserve", "nature reserve")
    assert (other.kind, other.kind_zh) == ("school", "school")


@pytest.mark.parametrize(
    ("layer", "message"),
    [
        ([], "must be a GeoJSON object"),
        ({"type": "Polygon", "coordinates": []}, "FeatureCollection or Feature, not 'Polygon'"),
        ({"type": "FeatureCollection"}, "no list of features"),
        (collection({"type": "Point"}), "feature 0 is not a GeoJSON Feature"),
        (collection(feature(name="")), "feature 0 has no name"),
        (collection({"type": "Feature", "properties": ["name"]}), "properties that are not an"),
        (collection(feature(), feature(kind=None)), r"feature 1 \(清溪水源地\) has no kind"),
        (collection(feature(type="Point", coordinates=[105.0, 30.6])), "is a Point, not a Polygon"),
        (collection({"type": "Feature", "properties": {"name": "a", "kind": "b"}}),
         "is a missing geometry"),
        (collection(feature(type="Polygon", coordinates=[[[105.0]]])), "malformed coordinates"),
        (collection(feature(type="Polygon", coordinates=[[[0, 0], [500000, 0], [500000, 9e5],
                                                          [0, 0]]])), "projected metres"),
        (collection(feature(type="Polygon", coordinates=[[[105.0, 30.6], [105.01, 30.61],
                                                          [105.01, 30.6], [105.0, 30.61],
                                                          [105.0, 30.6]]])), "Self-intersection"),
    ],
)  # fmt: skip
def test_a_bad_layer_is_refused_naming_the_fault(
    small: RoadNetwork, layer: Any, message: str
) -> None:
    with pytest.raises(AreasInvalid, match=message) as refused:
        load_areas(layer, small)
    assert refused.value.code == "areas-invalid"
    assert refused.value.zh != refused.value.message  # a Chinese message too


def test_an_unreadable_or_broken_file_is_refused(small: RoadNetwork, tmp_path: Path) -> None:
    with pytest.raises(AreasInvalid, match="cannot read"):
        load_areas(tmp_path / "missing.geojson", small)
    broken = tmp_path / "broken.geojson"
    broken.write_text('{"type": "FeatureCollection", "features": [', encoding="utf-8")
    with pytest.raises(AreasInvalid, match=r"not JSON: .* line 1"):
        load_areas(broken, small)
    binary = tmp_path / "binary.geojson"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(AreasInvalid, match="not UTF-8"):
        load_areas(binary, small)

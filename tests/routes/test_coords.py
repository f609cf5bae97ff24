"""Coordinate systems: WGS-84, GCJ-02 and BD-09 against published reference points.

Distances are measured on the WGS-84 ellipsoid with pyproj, independently of the converter.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import Geod

from custody.errors import CoordinateInvalid
from custody.parties import GivenPoint, WGS84Point
from custody.tracks import CRS
from routes.coords import (
    CHINA_BOX,
    CoordinateSystem,
    GivenCoordinate,
    from_wgs84,
    in_china_box,
    to_wgs84,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    Convert = Callable[[float, float, CoordinateSystem], tuple[float, float]]

GEOD = Geod(ellps="WGS84")
FORWARD_M = 0.01  # published values are printed to 1e-14 degrees: we must agree to the centimetre
INVERSE_M = 0.01  # the iterative inverse lands within millimetres (measured: under 5 mm)
ROUND_TRIP_M = 0.1  # what route checks need: far below GPS noise and any corridor width
WGS84, GCJ02, BD09 = CoordinateSystem.WGS84, CoordinateSystem.GCJ02, CoordinateSystem.BD09


def metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Geodesic distance between two (lon, lat) points."""
    return float(GEOD.inv(a[0], a[1], b[0], b[1])[2])


# googollee/eviltransform (MIT), the test vectors its Go, JavaScript, Python and C# ports share:
# go/transform_test.go and python/test.py, as (wgsLat, wgsLng, gcjLat, gcjLng); here (lon, lat).
EVILTRANSFORM = [
    pytest.param((121.5272106, 31.1774276), (121.531541859215, 31.17530398364597), id="shanghai"),
    pytest.param((113.912316, 22.543847), (113.9171764808363, 22.540796131694766), id="shenzhen"),
    pytest.param((116.377817, 39.911954), (116.38404722455657, 39.91334545536069), id="beijing"),
    # wandergis/coordtransform (MIT) README, "wgs84togcj02(116.404, 39.915)"; the same pair
    # is in dromara/hutool's CoordinateUtilTest.wgs84ToGcj02Test.
    pytest.param((116.404, 39.915), (116.41024449916938, 39.91640428150164), id="wandergis"),
]


@pytest.mark.parametrize(("wgs", "gcj"), EVILTRANSFORM)
def test_wgs84_to_gcj02_matches_the_published_value(
    wgs: tuple[float, float], gcj: tuple[float, float]
) -> None:
    assert metres(from_wgs84(*wgs, GCJ02), gcj) < FORWARD_M


@pytest.mark.parametrize(("wgs", "gcj"), EVILTRANSFORM)
def test_gcj02_to_wgs84_recovers_the_published_origin(
    wgs: tuple[float, float], gcj: tuple[float, float]
) -> None:
    assert metres(to_wgs84(*gcj, GCJ02), wgs) < INVERSE_M


# dromara/hutool (Mulan PSL v2) hutool-core/src/test/java/org/dromara/hutool/core/util/
# CoordinateUtilTest.java, wgs84toBd09Test and wgs84toBd09Test2 (the latter "https://tool.lu/coordinate/").
HUTOOL_BD09 = [
    pytest.param((116.404, 39.915), (116.41662724378733, 39.922699552216216), id="beijing"),
    pytest.param(
        (122.99395597, 44.99804071), (123.00636516028885, 45.0063690918959), id="tool.lu-jilin"
    ),
]


@pytest.mark.parametrize(("wgs", "bd"), HUTOOL_BD09)
def test_wgs84_to_bd09_matches_the_published_value(
    wgs: tuple[float, float], bd: tuple[float, float]
) -> None:
    assert metres(from_wgs84(*wgs, BD09), bd) < FORWARD_M
    assert metres(to_wgs84(*bd, BD09), wgs) < INVERSE_M


# GCJ-02 <-> BD-09 pairs, checked through WGS-84 (the only way the module converts):
# wandergis/coordtransform README "gcj02tobd09(116.404, 39.915)" (the exact forward formula) and
# "bd09togcj02(116.404, 39.915)" (its one-step inverse, which prcoords rates "decimeter-level":
# it is 5 cm from the exact answer); hujiulong/gcoord (MIT) test/fixtures/china-cities.json,
# three Sichuan cities printed to 7 decimals (about 1 cm, hence 2 cm).
GCJ_BD = [
    pytest.param((116.404, 39.915), (116.41036949371029, 39.92133699351021), FORWARD_M,
                 id="wandergis-gcj02tobd09"),
    pytest.param((116.39762729119315, 39.90865673957631), (116.404, 39.915), 0.06,
                 id="wandergis-bd09togcj02-one-step"),
    pytest.param((104.6276449, 30.1289052), (104.6340814, 30.1351581), 0.02, id="gcoord-ziyang"),
    pytest.param((105.4422659, 28.871815), (105.4487888, 28.8776874), 0.02, id="gcoord-luzhou"),
    pytest.param((102.2673386, 27.8816151), (102.2738428, 27.8876621), 0.02, id="gcoord-xichang"),
]  # fmt: skip


@pytest.mark.parametrize(("gcj", "bd", "tolerance"), GCJ_BD)
def test_bd09_is_the_published_shift_of_gcj02(
    gcj: tuple[float, float], bd: tuple[float, float], tolerance: float
) -> None:
    assert metres(from_wgs84(*to_wgs84(*gcj, GCJ02), BD09), bd) < tolerance
    assert metres(from_wgs84(*to_wgs84(*bd, BD09), GCJ02), gcj) < tolerance


# gcoord's WGS-84 column sits 0.66 m north-east of the formula's answer in every city we tried
# (gcoord's own test compares it to 4 decimals only, about 10 m); it still confirms the metre.
GCOORD_WGS_GCJ = [
    pytest.param((104.6252411, 30.1317508), (104.6276449, 30.1289052), id="ziyang"),
    pytest.param((105.4386655, 28.8748404), (105.4422659, 28.871815), id="luzhou"),
    pytest.param((92.0499619, 31.4784436), (92.0512438, 31.4762063), id="nagqu-tibet"),
    pytest.param((123.4253306, 41.8032629), (123.4314787, 41.8057023), id="shenyang"),
]


@pytest.mark.parametrize(("wgs", "gcj"), GCOORD_WGS_GCJ)
def test_an_independent_city_table_agrees_within_a_metre(
    wgs: tuple[float, float], gcj: tuple[float, float]
) -> None:
    assert metres(from_wgs84(*wgs, GCJ02), gcj) < 1.0
    assert metres(to_wgs84(*gcj, GCJ02), wgs) < 1.0


# The offsets measured for the design (shared/design/route-checks.md, "GCJ-02 offset") and the
# Chengdu figures of DOMAIN.md: GCJ-02 about 360 m, BD-09 about 951 m.
@pytest.mark.parametrize(
    ("wgs", "gcj_m", "bd_m"),
    [
        pytest.param((104.0658, 30.6574), 360, 951, id="chengdu-tianfu-square"),
        pytest.param((101.7186, 26.5823), 425, None, id="panzhihua"),
        pytest.param((116.3975, 39.9087), 556, None, id="beijing-tiananmen"),
        pytest.param((87.6168, 43.8256), 266, None, id="urumqi"),
    ],
)
def test_the_offset_is_hundreds_of_metres_as_measured_for_the_design(
    wgs: tuple[float, float], gcj_m: float, bd_m: float | None
) -> None:
    assert metres(wgs, from_wgs84(*wgs, GCJ02)) == pytest.approx(gcj_m, abs=10)
    if bd_m is not None:
        assert metres(wgs, from_wgs84(*wgs, BD09)) == pytest.approx(bd_m, abs=10)


def test_a_chengdu_map_point_is_north_west_of_its_gcj02_value() -> None:
    # Reading a point off AMap and using it as if it were WGS-84 would put it 360 m off.
    lon, lat = to_wgs84(104.0658, 30.6574, GCJ02)
    assert lon < 104.0658
    assert lat > 30.6574
    assert metres((lon, lat), (104.0658, 30.6574)) == pytest.approx(360, abs=10)


OUTSIDE_CHINA = [
    pytest.param((7.4246, 43.7384), id="monaco-our-test-network"),
    pytest.param((-0.1276, 51.5072), id="london"),
    pytest.param((151.2093, -33.8688), id="sydney"),
    pytest.param((-74.006, 40.7128), id="new-york"),
    pytest.param((139.0, 56.0), id="north-of-the-box"),
]


@pytest.mark.parametrize("point", OUTSIDE_CHINA)
@pytest.mark.parametrize("system", list(CoordinateSystem))
def test_points_outside_china_are_not_moved(
    point: tuple[float, float], system: CoordinateSystem
) -> None:
    # prcoords' own iterative inverse would move London 1.4 km (and warn): we test the box first.
    assert not in_china_box(*point)
    assert to_wgs84(*point, system) == point
    assert from_wgs84(*point, system) == point


def test_the_box_is_prcoords_rough_rectangle() -> None:
    west, south, east, north = CHINA_BOX
    assert in_china_box(west, south)
    assert in_china_box(east, north)
    assert not in_china_box(math.nextafter(west, -180), south)
    assert not in_china_box(east, math.nextafter(north, 90))


@pytest.mark.parametrize("system", list(CoordinateSystem))
def test_wgs84_is_never_converted(system: CoordinateSystem) -> None:
    assert to_wgs84(104.0658, 30.6574, WGS84) == (104.0658, 30.6574)
    assert from_wgs84(104.0658, 30.6574, WGS84) == (104.0658, 30.6574)
    assert (from_wgs84(104.0658, 30.6574, system) == (104.0658, 30.6574)) is (system is WGS84)


def test_the_systems_are_the_ones_gps_fixes_may_be_stored_in() -> None:
    assert {s.value for s in CoordinateSystem} == CRS  # custody.tracks cannot import routes


@pytest.mark.parametrize(
    ("text", "system"),
    [
        ("WGS84", WGS84), ("wgs84", WGS84), ("WGS-84", WGS84), ("wgs_84", WGS84),
        ("EPSG:4326", WGS84), ("gps", WGS84),
        ("GCJ02", GCJ02), ("gcj02", GCJ02), ("GCJ-02", GCJ02), (" gcj-02 ", GCJ02),
        ("ＧＣＪ－０２", GCJ02), ("amap", GCJ02), ("火星坐标", GCJ02),
        ("BD09", BD09), ("bd09", BD09), ("BD-09", BD09), ("bd09ll", BD09), ("baidu", BD09),
    ],
)  # fmt: skip
def test_common_spellings_name_the_system(text: str, system: CoordinateSystem) -> None:
    assert CoordinateSystem.parse(text) is system
    assert CoordinateSystem(text) is system  # what pydantic fields use


@pytest.mark.parametrize("text", ["", "WGS", "GCJ-03", "BD09MC", "EPSG:3857", "CGCS2000"])
def test_an_unknown_system_is_refused_in_both_languages(text: str) -> None:
    with pytest.raises(CoordinateInvalid) as caught:
        CoordinateSystem.parse(text)
    assert caught.value.context["field"] == "crs"
    assert "未知坐标系" in caught.value.zh
    assert "WGS-84, GCJ-02 or BD-09" in caught.value.message
    with pytest.raises(CoordinateInvalid):
        to_wgs84(104.0, 30.0, text)
    with pytest.raises(ValueError, match="is not a valid CoordinateSystem"):
        CoordinateSystem(text)


@pytest.mark.parametrize(
    ("lon", "lat", "field", "zh"),
    [
        (104.0, math.nan, "lat", "纬度"),
        (math.nan, 30.0, "lon", "经度"),
        (math.inf, 30.0, "lon", "经度"),
        (104.0, -math.inf, "lat", "纬度"),
        (104.0, 90.000001, "lat", "纬度"),
        (180.5, 30.0, "lon", "经度"),
        (-181.0, 30.0, "lon", "经度"),
    ],
)
@pytest.mark.parametrize("convert", [to_wgs84, from_wgs84])
@pytest.mark.parametrize("system", list(CoordinateSystem))
def test_impossible_coordinates_are_refused(
    convert: Convert, system: CoordinateSystem, lon: float, lat: float, field: str, zh: str
) -> None:
    with pytest.raises(CoordinateInvalid) as caught:
        convert(lon, lat, system)
    assert caught.value.context["field"] == field
    assert zh in caught.value.zh
    assert caught.value.code == "coordinate-invalid"


def test_a_given_coordinate_keeps_the_original_as_evidence() -> None:
    point = GivenCoordinate.of(104.0658, 30.6574, "gcj-02")
    assert point.given == GivenPoint(crs="GCJ02", lat=30.6574, lon=104.0658)
    assert point.system is GCJ02
    lon, lat = to_wgs84(104.0658, 30.6574, GCJ02)
    assert point.location == WGS84Point(lat=lat, lon=lon)
    assert metres((point.location.lon, point.location.lat), (104.0658, 30.6574)) > 300


def test_a_given_point_is_converted_on_construction_and_its_system_named_canonically() -> None:
    point = GivenCoordinate(GivenPoint(crs="bd-09", lat=30.6574, lon=104.0658))
    assert point.given.crs == "BD09"
    assert (point.location.lon, point.location.lat) == to_wgs84(104.0658, 30.6574, BD09)


def test_a_wgs84_given_coordinate_is_its_own_location() -> None:
    point = GivenCoordinate.of(104.0658, 30.6574)
    assert point.given == GivenPoint("WGS84", 30.6574, 104.0658)
    assert point.location == WGS84Point(30.6574, 104.0658)


def test_a_given_coordinate_cannot_hold_an_impossible_point() -> None:
    with pytest.raises(CoordinateInvalid):
        GivenCoordinate.of(104.0, math.nan, GCJ02)
    with pytest.raises(CoordinateInvalid):
        GivenCoordinate(GivenPoint(crs="Beijing54", lat=30.0, lon=104.0))


# Mainland China: 73°33'E-135°05'E, 18°10'N (Hainan)-53°33'N.
MAINLAND = st.tuples(
    st.floats(min_value=73.55, max_value=135.08), st.floats(min_value=18.16, max_value=53.55)
)


@settings(max_examples=300, derandomize=True, database=None, deadline=None)
@given(MAINLAND, st.sampled_from([GCJ02, BD09]))
def test_any_mainland_point_survives_the_round_trip(
    wgs: tuple[float, float], system: CoordinateSystem
) -> None:
    shifted = from_wgs84(*wgs, system)
    assert metres(wgs, shifted) > 10  # it really moved (GCJ-02: 18-715 m over the box) ...
    assert metres(to_wgs84(*shifted, system), wgs) < ROUND_TRIP_M  # ... and came back

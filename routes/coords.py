"""Coordinate systems: we store WGS-84 and convert GCJ-02 and BD-09 where they come in.

Three systems reach us, and the same place has three different numbers in them:

- **WGS-84** (``WGS84``): satellite positioning (JT/T 808 terminals, phones), OpenStreetMap.
- **GCJ-02** (``GCJ02``, "火星坐标"): maps published in China by law, AMap (高德) and Tencent
  (腾讯). WGS-84 moved by a deliberately obscure formula, hundreds of metres (Chengdu: about
  360 m), far more than a route corridor is wide.
- **BD-09** (``BD09``): Baidu (百度), GCJ-02 moved once more (Chengdu: about 950 m from WGS-84).

The rule: store WGS-84, record the system each coordinate was given in, convert at the edge
(here), and keep the original value as evidence (:class:`GivenCoordinate`, which yields the
``custody.parties`` records ``WGS84Point`` and ``GivenPoint``).

The formulas come from prcoords (CC0, Artoria2e5/PRCoords). WGS-84 to GCJ-02 or BD-09 is the
published formula; the way back has no closed form, so we use prcoords' iterative ("bored")
inverse, which ``tests/routes/test_coords.py`` measures: a WGS-84 point sent to GCJ-02 or
BD-09 and back lands within 5 mm of where it started. The one-step inverse most code copies is
off by up to about 5 m. prcoords' inverse skips its own box test (it would move a point in
London by 1.4 km), so we test the box here before calling it.

Outside China nothing moves. GCJ-02 is applied only inside prcoords' rough box around China
(longitude 72.004-137.8347, latitude 0.8293-55.8271, the box eviltransform, coordtransform and
gcoord use too), and Chinese map services give WGS-84 abroad, so any point outside that box is
returned unchanged, whatever system it is given in. The box is not the border: Seoul or Hanoi
lie inside it and would be moved, which matters to nobody tracking Chinese waste.
"""

from __future__ import annotations

import enum
import math
import unicodedata
from dataclasses import dataclass, field
from typing import Final

import prcoords  # type: ignore[import-untyped]  # one CC0 module without type hints

from custody.errors import CoordinateInvalid
from custody.parties import GivenPoint, WGS84Point

__all__ = [
    "CHINA_BOX",
    "CoordinateSystem",
    "GivenCoordinate",
    "from_wgs84",
    "in_china_box",
    "to_wgs84",
]

CHINA_BOX: Final = (72.004, 0.8293, 137.8347, 55.8271)
"""Where GCJ-02 applies: (west, south, east, north) in degrees, prcoords' ``sanity_in_china_p``."""


class CoordinateSystem(enum.StrEnum):
    """A system a longitude/latitude pair can be given in; the values are the stored names."""

    WGS84 = "WGS84"
    GCJ02 = "GCJ02"
    BD09 = "BD09"

    @property
    def label(self) -> str:
        """How people write it: ``WGS-84``, ``GCJ-02``, ``BD-09``."""
        return _LABELS[self]

    @classmethod
    def parse(cls, text: str) -> CoordinateSystem:
        """Read a system from the ways people write it (``wgs84``, ``GCJ-02``, ``bd09ll`` ...).

        Raises:
            CoordinateInvalid: the text names no system we convert.
        """
        found = cls._missing_(text)
        if found is None:
            known = "、".join(s.label for s in cls)
            raise CoordinateInvalid(
                f"unknown coordinate system {text!r}; give one of WGS-84, GCJ-02 or BD-09",
                zh=f"未知坐标系“{text}”，须为 {known} 之一",
                field="crs",
            )
        return found

    @classmethod
    def _missing_(cls, value: object) -> CoordinateSystem | None:
        # Lets CoordinateSystem("gcj-02") and pydantic fields accept the usual spellings.
        if not isinstance(value, str):
            return None
        folded = "".join(c for c in unicodedata.normalize("NFKC", value).upper() if c.isalnum())
        return _SPELLINGS.get(folded)


_LABELS: Final = {
    CoordinateSystem.WGS84: "WGS-84",
    CoordinateSystem.GCJ02: "GCJ-02",
    CoordinateSystem.BD09: "BD-09",
}

# Letters and digits only, upper case: "WGS-84", "wgs_84" and "ＷＧＳ８４" all fold to "WGS84".
# "GPS", "AUTONAVI", "BAIDU" are what the AMap, Tencent and Baidu conversion APIs call them.
_SPELLINGS: Final = {
    **dict.fromkeys(["WGS84", "WGS1984", "EPSG4326", "GPS", "WGS84坐标"], CoordinateSystem.WGS84),
    **dict.fromkeys(
        ["GCJ02", "GCJ", "AMAP", "AUTONAVI", "火星坐标", "国测局坐标"], CoordinateSystem.GCJ02
    ),
    **dict.fromkeys(["BD09", "BD09LL", "BAIDU", "百度坐标"], CoordinateSystem.BD09),
}


def in_china_box(lon: float, lat: float) -> bool:
    """Whether GCJ-02 applies at a point: inside :data:`CHINA_BOX` (not the border)."""
    west, south, east, north = CHINA_BOX
    return west <= lon <= east and south <= lat <= north


def to_wgs84(lon: float, lat: float, crs: CoordinateSystem | str) -> tuple[float, float]:
    """The WGS-84 ``(lon, lat)`` of a point given in ``crs``.

    Inside China, GCJ-02 and BD-09 are inverted iteratively, to within millimetres; outside
    :data:`CHINA_BOX` the point is returned unchanged.

    Raises:
        CoordinateInvalid: not a finite longitude in -180..180 and latitude in -90..90, or an
            unknown system.
    """
    system = _system(crs)
    _check(lon, lat)
    if system is CoordinateSystem.WGS84 or not in_china_box(lon, lat):
        return float(lon), float(lat)
    if system is CoordinateSystem.BD09:
        gcj = prcoords.bd_gcj_bored(prcoords.Coords(lat, lon))
        lat, lon = float(gcj.lat), float(gcj.lon)
        if not in_china_box(lon, lat):  # within metres of the box's edge
            return lon, lat
    # prcoords' own box test (on its first rough step) is ours, so it never warns here.
    wgs = prcoords.gcj_wgs_bored(prcoords.Coords(lat, lon))
    return float(wgs.lon), float(wgs.lat)


def from_wgs84(lon: float, lat: float, crs: CoordinateSystem | str) -> tuple[float, float]:
    """The ``(lon, lat)`` in ``crs`` of a WGS-84 point: what a Chinese map shows for it.

    Outside :data:`CHINA_BOX` the point is returned unchanged.

    Raises:
        CoordinateInvalid: as :func:`to_wgs84`.
    """
    system = _system(crs)
    _check(lon, lat)
    if system is CoordinateSystem.WGS84 or not in_china_box(lon, lat):
        return float(lon), float(lat)
    gcj = prcoords.wgs_gcj(prcoords.Coords(lat, lon), False)  # noqa: FBT003  # box checked above
    if system is CoordinateSystem.BD09:
        gcj = prcoords.gcj_bd(gcj)
    return float(gcj.lon), float(gcj.lat)


@dataclass(frozen=True, slots=True)
class GivenCoordinate:
    """A coordinate exactly as given, and the WGS-84 point it stands for.

    Build it from what was given; ``location`` is computed, so the two cannot disagree. The
    system's name in ``given`` is the canonical one (``GCJ02``), the numbers are untouched.
    """

    given: GivenPoint
    location: WGS84Point = field(init=False)

    def __post_init__(self) -> None:
        system = CoordinateSystem.parse(self.given.crs)
        lon, lat = to_wgs84(self.given.lon, self.given.lat, system)
        object.__setattr__(self, "given", GivenPoint(system.value, self.given.lat, self.given.lon))
        object.__setattr__(self, "location", WGS84Point(lat=lat, lon=lon))

    @classmethod
    def of(
        cls, lon: float, lat: float, crs: CoordinateSystem | str = CoordinateSystem.WGS84
    ) -> GivenCoordinate:
        """Convert ``(lon, lat)`` given in ``crs``; raises as :func:`to_wgs84` does."""
        return cls(GivenPoint(crs=_system(crs).value, lat=lat, lon=lon))

    @property
    def system(self) -> CoordinateSystem:
        """The system the coordinate was given in."""
        return CoordinateSystem(self.given.crs)


def _system(crs: CoordinateSystem | str) -> CoordinateSystem:
    return crs if isinstance(crs, CoordinateSystem) else CoordinateSystem.parse(crs)


def _check(lon: float, lat: float) -> None:
    if not (math.isfinite(lat) and -90.0 <= lat <= 90.0):
        raise CoordinateInvalid(
            f"latitude {lat} is not a number in -90..90",
            zh=f"纬度 {lat} 不是 -90 至 90 之间的数",
            field="lat",
        )
    if not (math.isfinite(lon) and -180.0 <= lon <= 180.0):
        raise CoordinateInvalid(
            f"longitude {lon} is not a number in -180..180",
            zh=f"经度 {lon} 不是 -180 至 180 之间的数",
            field="lon",
        )

"""How findings write numbers, times, roads and map layers, so every rule says them alike.

Distances in metres below 1 km and in km with one decimal above; durations in minutes; clock
times in China Standard Time (UTC+8), the time on the manifest and on the officer's watch;
facts keep full ISO-8601 UTC times. Map layers are GeoJSON geometries in WGS-84 with seven
decimals (about 1 cm), so the same geometry always prints the same.
"""

from __future__ import annotations

import functools
import math
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely
from pyproj import Transformer

if TYPE_CHECKING:
    from collections.abc import Mapping

    from numpy.typing import NDArray

#: China Standard Time: sentences give clock times in it; facts keep UTC.
CHINA_TIME = timezone(timedelta(hours=8), "CST")
_DEGREE_DECIMALS = 7


def road_name(data: Mapping[str, Any]) -> str:
    """An edge's ``ref`` and name ("A 8 La Provençale"), or "" for an unnamed road."""
    return " ".join(part for part in (data.get("ref", ""), data.get("name", "")) if part)


def road_zh(road: str) -> str:
    """A road for a Chinese sentence."""
    return road or "无名道路"


def road_en(road: str) -> str:
    """A road for an English sentence."""
    return road or "an unnamed road"


def distance_zh(metres: float) -> str:
    """120 米, 4.2 公里."""
    return f"{metres:.0f} 米" if metres < 1000 else f"{metres / 1000:.1f} 公里"


def distance_en(metres: float) -> str:
    """120 m, 4.2 km."""
    return f"{metres:.0f} m" if metres < 1000 else f"{metres / 1000:.1f} km"


def minutes(seconds: float) -> str:
    """Minutes as an officer reads them: whole from 10 on, one decimal below."""
    value = seconds / 60
    return f"{value:.0f}" if value >= 10 else f"{value:.1f}"


def clock(when: datetime) -> str:
    """14:02 in China Standard Time."""
    return when.astimezone(CHINA_TIME).strftime("%H:%M")


def iso(when: datetime) -> str:
    """The UTC time a fact records."""
    return when.isoformat()


def percent(ratio: float) -> str:
    """0.3 -> '30'."""
    return f"{ratio * 100:.0f}"


def finite(value: float) -> float | None:
    """A number JSON can hold: None for infinity or NaN."""
    return value if math.isfinite(value) else None


@functools.lru_cache(maxsize=8)
def _to_wgs84(crs: str) -> Transformer:
    return Transformer.from_crs(crs, "EPSG:4326", always_xy=True)


def geojson(geometry: Any, crs: str) -> dict[str, Any]:  # noqa: ANN401  # any shapely geometry
    """A shapely geometry in the network's metres as a GeoJSON geometry in WGS-84."""
    transformer = _to_wgs84(crs)

    def to_degrees(coords: NDArray[np.float64]) -> NDArray[np.float64]:
        lons, lats = transformer.transform(coords[:, 0], coords[:, 1])
        return np.round(np.column_stack([lons, lats]), _DEGREE_DECIMALS)

    mapped = shapely.geometry.mapping(shapely.transform(geometry, to_degrees))
    return _lists(mapped)  # type: ignore[no-any-return]  # a mapping in, a mapping out


def point(lon: float, lat: float) -> dict[str, Any]:
    """A WGS-84 point as a GeoJSON geometry."""
    return {"type": "Point", "coordinates": [round(lon, _DEGREE_DECIMALS),
                                             round(lat, _DEGREE_DECIMALS)]}  # fmt: skip


def _lists(value: Any) -> Any:  # noqa: ANN401  # GeoJSON values
    if isinstance(value, dict):
        return {k: _lists(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_lists(v) for v in value]
    if isinstance(value, np.floating):
        return float(value)
    return value

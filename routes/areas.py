"""Sensitive areas: polygons where a dangerous-goods truck must not linger (2019 rules, Art. 49).

Police may bar dangerous-goods vehicles from drinking-water source protection zones, nature
reserves, water-side roads and city centres. Authorities supply these as polygons; this module
reads them from GeoJSON (RFC 7946: WGS-84 longitude, latitude) into the road network's metres.
Each feature is a Polygon or MultiPolygon with the properties ``name`` and ``kind``.

A layer that does not read cleanly is refused whole, naming the feature and the fault: a
silently dropped protection zone would hide exactly the stop it was drawn for. Polygons are not
repaired either; a self-intersecting ring is sent back to whoever drew it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely
from shapely.errors import GEOSException
from shapely.validation import explain_validity

from custody.errors import InputError

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from routes.network import RoadNetwork

__all__ = ["AREA_KINDS", "AreasInvalid", "SensitiveArea", "load_areas"]

#: The kinds of area the rules know, with their Chinese and English names. Other kinds are
#: accepted as given (an authority may draw its own), and the Chinese names are accepted as kinds.
AREA_KINDS: dict[str, tuple[str, str]] = {
    "drinking_water_source": ("饮用水水源保护区", "drinking-water source protection zone"),
    "nature_reserve": ("自然保护区", "nature reserve"),
    "river_buffer": ("河道缓冲区", "river buffer zone"),
    "city_centre": ("城市中心区", "city centre"),
}
_BY_CHINESE = {zh: kind for kind, (zh, _) in AREA_KINDS.items()}


class AreasInvalid(InputError):
    """A sensitive-area layer that is not readable GeoJSON polygons with a name and kind."""

    code = "areas-invalid"
    title = "Invalid sensitive-area layer"
    title_zh = "敏感区域图层无效"


@dataclass(frozen=True, slots=True)
class SensitiveArea:
    """A named polygon in the network's metres."""

    name: str
    kind: str  # drinking_water_source | nature_reserve | river_buffer | city_centre | other
    geometry: Any  # shapely Polygon or MultiPolygon, prepared

    @property
    def kind_zh(self) -> str:
        """The kind in Chinese (饮用水水源保护区), or as given when it is not a known kind."""
        return AREA_KINDS.get(self.kind, (self.kind, self.kind))[0]

    @property
    def kind_en(self) -> str:
        """The kind in English, or as given."""
        return AREA_KINDS.get(self.kind, (self.kind, self.kind))[1]


def load_areas(source: str | Path | Mapping[str, Any], network: RoadNetwork) -> list[SensitiveArea]:
    """Read a GeoJSON FeatureCollection (or one Feature), from a file or parsed, into metres.

    Raises:
        AreasInvalid: the file cannot be read, is not JSON, or a feature is not a valid
            WGS-84 Polygon or MultiPolygon with a ``name`` and ``kind``.
    """
    document = _read(Path(source)) if isinstance(source, str | Path) else source
    if not isinstance(document, Mapping):
        raise AreasInvalid("a sensitive-area layer must be a GeoJSON object",
                           zh="敏感区域图层须为 GeoJSON 对象")  # fmt: skip
    if document.get("type") == "Feature":
        features: Any = [document]
    elif document.get("type") == "FeatureCollection":
        features = document.get("features")
        if not isinstance(features, list):
            raise AreasInvalid("the FeatureCollection has no list of features",
                               zh="FeatureCollection 缺少 features 列表")  # fmt: skip
    else:
        raise AreasInvalid(
            f"a sensitive-area layer must be a FeatureCollection or Feature, not"
            f" {document.get('type')!r}",
            zh="敏感区域图层须为 GeoJSON FeatureCollection 或 Feature",
        )
    return [_area(i, feature, network) for i, feature in enumerate(features)]


def _read(path: Path) -> Any:  # noqa: ANN401  # whatever JSON holds
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise AreasInvalid(f"cannot read {path}: {reason}", zh=f"无法读取敏感区域文件 {path}",
                           path=str(path)) from None  # fmt: skip
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise AreasInvalid(
            f"{path} is not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
            zh=f"{path} 不是有效的 JSON（第 {exc.lineno} 行第 {exc.colno} 列）", path=str(path),
        ) from None  # fmt: skip


def _area(index: int, feature: Any, network: RoadNetwork) -> SensitiveArea:  # noqa: ANN401  # unchecked JSON
    where = f"feature {index}"
    if not isinstance(feature, Mapping) or feature.get("type") != "Feature":
        raise AreasInvalid(f"{where} is not a GeoJSON Feature", zh=f"第 {index} 个要素不是 Feature",
                           feature=index)  # fmt: skip
    properties = feature.get("properties") or {}
    if not isinstance(properties, Mapping):
        raise AreasInvalid(
            f"{where} has properties that are not an object",
            zh=f"第 {index} 个要素的 properties 须为对象", feature=index,
        )  # fmt: skip
    name, kind = properties.get("name"), properties.get("kind")
    if not isinstance(name, str) or not name.strip():
        raise AreasInvalid(f"{where} has no name", zh=f"第 {index} 个要素缺少名称 name",
                           feature=index)  # fmt: skip
    where = f"feature {index} ({name})"
    if not isinstance(kind, str) or not kind.strip():
        raise AreasInvalid(f"{where} has no kind", zh=f"第 {index} 个要素（{name}）缺少类型 kind",
                           feature=index)  # fmt: skip
    geometry = feature.get("geometry")
    kind_of = geometry.get("type") if isinstance(geometry, Mapping) else None
    if kind_of not in {"Polygon", "MultiPolygon"}:
        raise AreasInvalid(
            f"{where} is a {kind_of or 'missing geometry'}, not a Polygon or MultiPolygon",
            zh=f"第 {index} 个要素（{name}）的几何类型须为 Polygon 或 MultiPolygon", feature=index,
        )  # fmt: skip
    try:
        shape = shapely.geometry.shape(geometry)
    except (GEOSException, ValueError, TypeError, IndexError, KeyError, AttributeError) as exc:
        raise AreasInvalid(
            f"{where} has malformed coordinates: {exc}",
            zh=f"第 {index} 个要素（{name}）的坐标格式错误", feature=index,
        ) from None  # fmt: skip
    _check_degrees(index, name, shapely.get_coordinates(shape))
    if not shape.is_valid:
        raise AreasInvalid(f"{where} is not a valid polygon: {explain_validity(shape)}",
                           zh=f"第 {index} 个要素（{name}）的多边形无效（如自相交），请修正",
                           feature=index)  # fmt: skip

    def to_metres(coords: NDArray[np.float64]) -> NDArray[np.float64]:
        xs, ys = network.project_many(coords[:, 0].tolist(), coords[:, 1].tolist())
        return np.column_stack([xs, ys])

    metres = shapely.transform(shape, to_metres)
    shapely.prepare(metres)
    kind = kind.strip()
    return SensitiveArea(name.strip(), _BY_CHINESE.get(kind, kind), metres)


def _check_degrees(index: int, name: str, coords: NDArray[np.float64]) -> None:
    if coords.size == 0:
        raise AreasInvalid(f"feature {index} ({name}) has no coordinates",
                           zh=f"第 {index} 个要素（{name}）没有坐标", feature=index)  # fmt: skip
    lons, lats = coords[:, 0], coords[:, 1]
    if not (np.isfinite(coords).all() and (np.abs(lons) <= 180).all()
            and (np.abs(lats) <= 90).all()):  # fmt: skip
        worst = max(float(np.abs(lons).max()), float(np.abs(lats).max()))
        hint = " (projected metres, not WGS-84 degrees?)" if math.isfinite(worst) else ""
        raise AreasInvalid(
            f"feature {index} ({name}) has coordinates outside WGS-84 longitude/latitude{hint}",
            zh=f"第 {index} 个要素（{name}）的坐标不是 WGS-84 经纬度", feature=index,
        )  # fmt: skip

"""GPS tracks of many vehicles from files, for replaying outside data through the route checks.

Two formats, each row or point naming its vehicle:

- **CSV** with the header ``plate,time,lon,lat`` and optionally ``speed_kmh`` and ``crs``
  (``WGS84``, the default, ``GCJ02`` or ``BD09``; converted with :mod:`routes.coords`), one
  fix a row, in any order; blank lines are allowed, other columns ignored.
- **GeoJSON**: a FeatureCollection (or one Feature) of Point features with the properties
  ``plate``, ``time`` and optionally ``speed_kmh`` and ``crs``; or LineString features with
  ``plate``, ``times`` (or ``coordTimes``, as GPX converters write it), one per point, and
  optionally ``speeds_kmh`` and ``crs``.

Times are ISO 8601 with a zone (``2025-03-14T09:00:00+08:00``); a time without one is refused
rather than guessed. Fixes come back grouped by canonical plate (``川A12345``), sorted by time.
A file that does not read cleanly is refused whole, naming the line (CSV, counting the header
as line 1) or the feature (GeoJSON, from 0): ``RecordInvalid`` for a missing or bad field,
``CoordinateInvalid`` for coordinates that are not numbers, off the globe or in an unknown
system. Text files are UTF-8; a byte-order mark is allowed.
"""

from __future__ import annotations

import csv
import json
import math
from collections import defaultdict
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from custody.errors import CoordinateInvalid, CustodyError, InputError, RecordInvalid
from custody.plates import parse_plate
from routes.coords import to_wgs84
from routes.model import Fix

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

__all__ = ["read_track_csv", "read_track_geojson"]

_REQUIRED = ("plate", "time", "lon", "lat")


class _Where:
    """Where in the file a value sits, for errors that name it in both languages."""

    def __init__(self, en: str, zh: str, **context: object) -> None:
        self.en, self.zh, self.context = en, zh, context

    def record(self, field: str, en: str, zh: str) -> RecordInvalid:
        return RecordInvalid(f"{self.en}, {field}: {en}", zh=f"{self.zh}的 {field}：{zh}",
                             field=field, **self.context)  # fmt: skip

    def coordinate(self, field: str, en: str, zh: str) -> CoordinateInvalid:
        return CoordinateInvalid(f"{self.en}, {field}: {en}", zh=f"{self.zh}的 {field}：{zh}",
                                 field=field, **self.context)  # fmt: skip


def read_track_csv(source: str | Path) -> dict[str, list[Fix]]:
    """GPS fixes by plate from CSV text or a CSV file.

    A ``Path`` is read as a file; a ``str`` with a line break is the text itself, any other
    ``str`` a file name.

    Raises:
        InputError: the file cannot be read.
        RecordInvalid: no header with plate, time, lon and lat; a row with a bad plate, time or
            speed, or more values than the header has columns (naming the line).
        CoordinateInvalid: a row's coordinates are not numbers, off the globe, or in an
            unknown system (naming the line).
    """
    text = source if isinstance(source, str) and "\n" in source else _read(Path(source))
    return _grouped(_csv_fixes(text))


def _csv_fixes(text: str) -> Iterator[tuple[str, Fix]]:
    # csv.reader rather than DictReader: it yields blank lines, so every line is counted.
    reader = csv.reader(text.removeprefix("\ufeff").splitlines(keepends=True))
    header = _Where("line 1", "第 1 行", line=1)
    try:
        names = [name.strip().lower() for name in next(reader, [])]
    except csv.Error as exc:
        raise header.record("header", f"not CSV: {exc}", "CSV 格式错误") from None
    missing = [name for name in _REQUIRED if name not in names]
    if missing:
        raise header.record("header", f"lacks the column(s) {', '.join(missing)}",
                            f"表头缺少列 {', '.join(missing)}")  # fmt: skip
    line = reader.line_num + 1  # where the next row starts
    try:
        for row in reader:
            where = _Where(f"line {line}", f"第 {line} 行", line=line)
            line = reader.line_num + 1
            if len(row) > len(names):
                raise where.record("row", "more values than the header has columns",
                                   "数值个数多于表头列数")  # fmt: skip
            values = dict(zip(names, (v.strip() for v in row), strict=False))
            if any(values.values()):  # blank lines are allowed
                yield _fix(values, where)
    except csv.Error as exc:
        where = _Where(f"line {line}", f"第 {line} 行", line=line)
        raise where.record("row", f"not CSV: {exc}", "CSV 格式错误") from None


def read_track_geojson(source: str | Path | Mapping[str, Any]) -> dict[str, list[Fix]]:
    """GPS fixes by plate from a GeoJSON document, JSON text or a GeoJSON file.

    A mapping is the parsed document; a ``str`` starting with ``{`` is JSON text; a ``Path``
    or any other ``str`` is a file.

    Raises:
        InputError: the file cannot be read.
        RecordInvalid: not JSON (line and column), not a FeatureCollection or Feature, or a
            feature that is not a Point with a time or a LineString with one time per point,
            or has a bad plate, time or speed (naming the feature, and the point in a line).
        CoordinateInvalid: a point's coordinates are not numbers, off the globe, or in an
            unknown system (naming the feature).
    """
    if isinstance(source, Mapping):
        body: object = source
    else:
        inline = isinstance(source, str) and source.lstrip().startswith("{")
        text = str(source) if inline else _read(Path(source))
        try:
            body = json.loads(text)
        except json.JSONDecodeError as exc:
            where = _Where(f"line {exc.lineno} column {exc.colno}",
                           f"第 {exc.lineno} 行第 {exc.colno} 列", line=exc.lineno)  # fmt: skip
            raise where.record("document", f"not JSON: {exc.msg}", "不是有效的 JSON") from None
    return _grouped(_geojson_fixes(body))


def _geojson_fixes(body: object) -> Iterator[tuple[str, Fix]]:
    if isinstance(body, Mapping) and body.get("type") == "Feature":
        body = {"type": "FeatureCollection", "features": [body]}
    if not (isinstance(body, Mapping) and body.get("type") == "FeatureCollection"
            and isinstance(body.get("features"), list)):  # fmt: skip
        where = _Where("document", "文件")
        raise where.record("type", "needs a GeoJSON FeatureCollection or Feature",
                           "须为 GeoJSON FeatureCollection 或 Feature")  # fmt: skip
    for i, feature in enumerate(body["features"]):
        where = _Where(f"feature {i}", f"第 {i} 个要素", feature=i)
        if not isinstance(feature, Mapping) or not isinstance(feature.get("geometry"), Mapping):
            raise where.record("geometry", "is not a Feature with a geometry", "不是带几何的要素")
        props = feature.get("properties") or {}
        if not isinstance(props, Mapping):
            raise where.record("properties", "must be an object", "须为对象")
        geometry = feature["geometry"]
        kind, coords = geometry.get("type"), geometry.get("coordinates")
        if kind == "Point":
            yield _fix({**props, **_lonlat(coords, where)}, where)
        elif kind == "LineString" and isinstance(coords, list):
            yield from _line(coords, props, where, i)
        else:
            raise where.record("geometry", "needs a Point with a time or a LineString with times",
                               "须为带 time 的 Point 或带 times 的 LineString")  # fmt: skip


def _line(
    coords: list[Any], props: Mapping[str, Any], where: _Where, index: int
) -> Iterator[tuple[str, Fix]]:
    times = props.get("times", props.get("coordTimes"))
    if not isinstance(times, list) or len(times) != len(coords):
        raise where.record("times", "a LineString needs one time per point",
                           "LineString 须为每个点给出一个时间")  # fmt: skip
    speeds = props.get("speeds_kmh")
    if speeds is not None and (not isinstance(speeds, list) or len(speeds) != len(coords)):
        raise where.record("speeds_kmh", "needs one speed per point", "须为每个点给出一个速度")
    for j, (point, at) in enumerate(zip(coords, times, strict=True)):
        here = _Where(f"feature {index} point {j}", f"第 {index} 个要素第 {j} 个点",
                      feature=index, point=j)  # fmt: skip
        values = {"plate": props.get("plate"), "time": at, "crs": props.get("crs"),
                  "speed_kmh": speeds[j] if speeds is not None else None}  # fmt: skip
        yield _fix(values | _lonlat(point, here), here)


def _lonlat(coords: object, where: _Where) -> dict[str, object]:
    if not isinstance(coords, list) or len(coords) < 2:
        raise where.coordinate("coordinates", f"{coords!r} is not [lon, lat]",
                               "不是 [经度, 纬度]")  # fmt: skip
    return {"lon": coords[0], "lat": coords[1]}


def _fix(values: Mapping[str, Any], where: _Where) -> tuple[str, Fix]:
    """One fix and its canonical plate, from a CSV row or a GeoJSON point's values."""
    plate = values.get("plate")
    if not isinstance(plate, str) or not plate.strip():
        raise where.record("plate", "is missing", "缺少车牌号")
    try:
        canonical = parse_plate(plate).text
    except CustodyError as exc:
        raise where.record("plate", exc.message, exc.zh) from None
    at = _time(values.get("time"), where)
    lon, lat = _number(values.get("lon")), _number(values.get("lat"))
    if lon is None or lat is None:
        raise where.coordinate("lon/lat", f"{values.get('lon')!r}, {values.get('lat')!r} are not"
                               " numbers", "经纬度不是数字")  # fmt: skip
    crs = values.get("crs")
    try:
        lon, lat = to_wgs84(lon, lat, str(crs).strip() if crs not in {None, ""} else "WGS84")
    except CoordinateInvalid as exc:
        raise where.coordinate(str(exc.context.get("field", "lon/lat")), exc.message,
                               exc.zh) from None  # fmt: skip
    speed = values.get("speed_kmh")
    kmh = None if speed in {None, ""} else _number(speed)
    if speed not in {None, ""} and (kmh is None or kmh < 0):
        raise where.record("speed_kmh", f"{speed!r} is not a speed", f"速度 {speed!r} 无效")
    return canonical, Fix(at, lon, lat, kmh)


def _time(value: object, where: _Where) -> datetime:
    if not isinstance(value, str) or not value.strip():
        raise where.record("time", f"{value!r} is not an ISO 8601 time", "须为 ISO 8601 时间")
    try:
        at = datetime.fromisoformat(value.strip())
    except ValueError:
        raise where.record("time", f"{value!r} is not ISO 8601",
                           f"“{value}”不是 ISO 8601 格式") from None  # fmt: skip
    if at.tzinfo is None:
        raise where.record("time", f"{value!r} has no zone (add +08:00 for China time)",
                           f"“{value}”缺少时区（北京时间请加 +08:00）")  # fmt: skip
    return at


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise InputError(f"cannot read {path}: {reason}", zh=f"无法读取轨迹文件 {path}",
                         path=str(path)) from None  # fmt: skip


def _grouped(fixes: Iterable[tuple[str, Fix]]) -> dict[str, list[Fix]]:
    by_plate: dict[str, list[Fix]] = defaultdict(list)
    for plate, fix in fixes:
        by_plate[plate].append(fix)
    # Stable: fixes of one time keep the file's order (the checks keep the first).
    return {plate: sorted(by_plate[plate], key=lambda f: f.at) for plate in sorted(by_plate)}

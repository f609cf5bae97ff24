"""``custody route check``: one trip's route against the road network, offline, from files.

Thin, like the rest of the command line: read the files into the route model (every fault named
with its file and line), call :func:`routes.checks.check_trip`, print the findings Chinese first,
write the map and the JSON if asked. The formats are in ``docs/routes.md``.

Exit codes: 0 no findings (at or above ``--fail-on``); 28 findings; 3 bad input (a file that
cannot be read, a bad row or feature, bad coordinates, no route between the declared places);
4 a sighting at a checkpoint that is not in ``--checkpoints``; 2 a usage error.
"""

from __future__ import annotations

import contextlib
import csv
import functools
import json
import math
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from api.console import display_width, pad
from api.settings import Settings
from custody.errors import CoordinateInvalid, CustodyError, InputError, RecordInvalid
from routes.coords import to_wgs84
from routes.model import DeclaredTrip, Fix, Place, Severity, Sighting, Thresholds

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping, Sequence

    from routes.areas import SensitiveArea
    from routes.checkpoints import SnappedCheckpoint
    from routes.checks import TripReport
    from routes.network import RoadNetwork

    #: Builds the error, in English and Chinese, for one place (a line, a field) in a file.
    Fault = Callable[[str, str], RecordInvalid]

__all__ = [
    "FINDINGS_EXIT",
    "read_checkpoints",
    "read_manifest",
    "read_sightings",
    "read_track",
    "route_app",
    "route_check",
]

_DEFAULTS = Thresholds()

#: The exit code when the checks found something (at or above ``--fail-on``).
FINDINGS_EXIT = 28

route_app = typer.Typer(
    name="route",
    help="路线核查 · Check a trip's route on the road network.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

_SEVERITY_ZH = {
    Severity.HIGH: "高",
    Severity.MEDIUM: "中",
    Severity.LOW: "低",
    Severity.INFO: "提示",
}
_RANK = {Severity.INFO: 0, Severity.LOW: 1, Severity.MEDIUM: 2, Severity.HIGH: 3}


# -- the command -----------------------------------------------------------------------------


@route_app.callback()
def _group() -> None:
    """路线核查 · Check trips against the road network (more commands will join ``check``)."""


@route_app.command("check")
def route_check(  # noqa: PLR0913, PLR0917  # Typer passes one parameter per option
    trip: Annotated[Path, typer.Argument(help="Transfer manifest (JSON) of the trip.")],
    track: Annotated[
        Path | None,
        typer.Option(help="GPS track: CSV (time,lon,lat[,speed_kmh][,crs]) or GeoJSON."),
    ] = None,
    sightings: Annotated[
        Path | None,
        typer.Option(help="Checkpoint reads: CSV (checkpoint_id,seen_at[,source][,ref])."),
    ] = None,
    checkpoints: Annotated[
        Path | None,
        typer.Option(help="Checkpoints: CSV (id,name,kind,lon,lat[,crs]) or GeoJSON points."),
    ] = None,
    areas: Annotated[
        Path | None, typer.Option(help="Sensitive areas: GeoJSON polygons with name and kind.")
    ] = None,
    network: Annotated[
        Path | None,
        typer.Option(help="OSM road data (.osm.pbf). Default: the bundled Monaco extract."),
    ] = None,
    map_out: Annotated[
        Path | None, typer.Option("--map", help="Write the trip map here (SVG).")
    ] = None,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Write the findings here (JSON).")
    ] = None,
    fail_on: Annotated[
        Severity, typer.Option(help="Exit 28 for findings of this severity or above.")
    ] = Severity.INFO,
) -> None:
    """核查一次运输的路线 · Check one trip against its declared route.

    Exits 0 when nothing is found, 28 when something is (at or above --fail-on), 3 on bad
    input and 4 when a sighting names an unknown checkpoint.
    """
    from routes.areas import load_areas  # noqa: PLC0415  # keeps `custody --help` fast
    from routes.checks import check_trip  # noqa: PLC0415
    from routes.maps import report_map  # noqa: PLC0415

    thresholds = _DEFAULTS
    with _reported():
        declared = read_manifest(trip)
        fixes = read_track(track) if track else []
        reads = read_sightings(sightings) if sightings else []
        roads = _load_network(network)
        gates = read_checkpoints(checkpoints, roads, thresholds) if checkpoints else []
        zones = load_areas(_json_file(areas, "敏感区域文件"), roads) if areas else []
        report = check_trip(
            roads,
            declared,
            checkpoints=gates,
            sightings=reads,
            fixes=fixes,
            areas=zones,
            thresholds=thresholds,
        )
        if map_out is not None:
            svg = report_map(roads, report, checkpoints=gates, sightings=reads, areas=zones)
            _write(map_out, svg, "路线图")
        if json_out is not None:
            _write(json_out, report_json(roads, report), "结果文件")
    _print_report(roads, report, fixes=len(fixes), reads=len(reads), zones=zones)
    for path, zh, en in ((map_out, "路线图", "Map"), (json_out, "结果", "JSON")):
        if path is not None:
            typer.echo(f"{zh}已写入 {en} written: {path}")
    if any(_RANK[f.severity] >= _RANK[fail_on] for f in report.findings):
        raise typer.Exit(FINDINGS_EXIT)


@contextlib.contextmanager
def _reported() -> Iterator[None]:
    """Render a domain error for people (Chinese, then English) and exit with its code."""
    try:
        yield
    except CustodyError as exc:
        from api.cli import exit_code_of  # noqa: PLC0415  # api.cli mounts this module

        typer.secho(f"错误 Error [{exc.code}]", fg=typer.colors.RED, err=True)
        typer.echo(exc.diagnostics(), err=True)
        raise typer.Exit(exit_code_of(exc)) from None


def _load_network(path: Path | None) -> RoadNetwork:
    """The road network, from its cache under the data folder when it was built before."""
    from routes.network import RoadNetwork  # noqa: PLC0415  # keeps `custody --help` fast

    source = path or Path(str(resources.files("routes").joinpath("data", "monaco.osm.pbf")))
    try:
        return RoadNetwork.load(source, Settings().data_dir / "roads")
    except OSError:  # the cache cannot be written (a read-only data folder): build in memory
        return RoadNetwork.load(source)


def _write(path: Path, text: str, what_zh: str) -> None:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InputError(
            f"cannot write {path}: {exc.strerror}",
            zh=f"无法写入{what_zh} {path}：{exc.strerror}",
            path=str(path),
        ) from None


# -- output -------------------------------------------------------------------------------------


def _print_report(
    network: RoadNetwork,
    report: TripReport,
    *,
    fixes: int,
    reads: int,
    zones: Sequence[SensitiveArea],
) -> None:
    plan, trip = report.plan, report.plan.trip
    for label, value in (
        ("联单 Trip", trip.trip_id),
        ("车辆 Vehicle", trip.vehicle),
        ("起点 Origin", trip.origin.name or f"{trip.origin.lon:.6f}, {trip.origin.lat:.6f}"),
        (
            "终点 Destination",
            trip.destination.name or f"{trip.destination.lon:.6f}, {trip.destination.lat:.6f}",
        ),
        (
            "最快路线 Fastest route",
            f"{plan.fastest_m / 1000:.1f} 公里 km, {plan.fastest_s / 60:.0f} 分钟 min",
        ),
        ("路网 Network", f"{network.identity[:12]} ({network.crs})"),
        (
            "观测 Observations",
            f"{fixes} GPS 定位点 fixes, {reads} 卡口识别 reads, {len(zones)} 敏感区域 areas",
        ),
    ):
        typer.echo(f"{pad(label, 26)}{value}")
    typer.echo("")
    if not report.findings:
        typer.secho(
            "未发现问题 · No findings: the trip kept to its declared route.", fg=typer.colors.GREEN
        )
        return
    typer.secho(
        f"发现 {len(report.findings)} 项问题 · {len(report.findings)} findings",
        fg=typer.colors.RED,
        bold=True,
    )
    header = ["#", "严重程度 Severity", "规则 Rule", "时间 Time"]
    rows = [
        [str(i), _severity(f.severity), f.rule, _span(f.start, f.end)]
        for i, f in enumerate(report.findings, start=1)
    ]
    widths = [max(display_width(row[c]) for row in [header, *rows]) + 2 for c in range(len(header))]
    typer.echo("".join(pad(h, w) for h, w in zip(header, widths, strict=True)).rstrip())
    for row, finding in zip(rows, report.findings, strict=True):
        typer.echo("".join(pad(c, w) for c, w in zip(row, widths, strict=True)).rstrip())
        typer.echo(f"{'':{widths[0]}}{finding.summary_zh}")
        typer.echo(f"{'':{widths[0]}}{finding.summary}")


def _severity(severity: Severity) -> str:
    return f"{_SEVERITY_ZH[severity]} {severity.value.upper()}"


def _span(start: datetime | None, end: datetime | None) -> str:
    from routes._evidence import CHINA_TIME  # noqa: PLC0415  # the findings' clock

    if start is None:
        return "-"
    text = start.astimezone(CHINA_TIME).strftime("%H:%M")
    if end is not None and end != start:
        text += "–" + end.astimezone(CHINA_TIME).strftime("%H:%M")
    return text


def report_json(network: RoadNetwork, report: TripReport) -> str:
    """The trip, its plan and its findings as JSON: sorted keys, fixed floats, same bytes."""
    plan, trip = report.plan, report.plan.trip
    body = {
        "trip": {"trip_id": trip.trip_id, "vehicle": trip.vehicle},
        "network": {"identity": network.identity, "crs": network.crs},
        "plan": {
            "fastest_m": round(plan.fastest_m, 1),
            "fastest_s": round(plan.fastest_s, 1),
            "expected_checkpoints": list(plan.expected),
        },
        "fixes_used": len(report.track),
        "findings": [json.loads(f.to_json()) for f in report.findings],
    }
    return json.dumps(body, ensure_ascii=False, sort_keys=True, indent=2) + "\n"


# -- input files --------------------------------------------------------------------------------


def _fault(path: Path, where: str, where_zh: str, en: str, zh: str) -> RecordInvalid:
    """An input error that names the file and the line (or feature) it is on."""
    return RecordInvalid(
        f"{path}, {where}: {en}", zh=f"{path} {where_zh}：{zh}", path=str(path), where=where
    )


def _text_file(path: Path, what_zh: str) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise InputError(
            f"cannot read {path}: {reason}", zh=f"无法读取{what_zh} {path}", path=str(path)
        ) from None


def _json_file(path: Path, what_zh: str) -> Any:  # noqa: ANN401  # whatever the JSON holds
    text = _text_file(path, what_zh)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise _fault(
            path,
            f"line {exc.lineno} column {exc.colno}",
            f"第 {exc.lineno} 行第 {exc.colno} 列",
            f"not JSON: {exc.msg}",
            "不是有效的 JSON",
        ) from None


class _Rows:
    """The rows of a CSV file with a header, each with the line it starts on."""

    def __init__(self, path: Path, what_zh: str, required: Sequence[str]) -> None:
        self.path = path
        text = _text_file(path, what_zh)
        self.reader = csv.DictReader(text.splitlines(keepends=True))
        try:
            header = [(name or "").strip().lower() for name in self.reader.fieldnames or []]
        except csv.Error as exc:
            raise self.fault(1, f"unreadable header: {exc}", "表头无法读取") from None
        self.reader.fieldnames = header
        missing = [name for name in required if name not in header]
        if missing:
            raise self.fault(
                1,
                f"the header lacks the column(s) {', '.join(missing)}",
                f"表头缺少列 {', '.join(missing)}",
            )

    def __iter__(self) -> Iterator[tuple[int, dict[str, str]]]:
        line = 2  # the first data line: csv counts the lines a row ends on
        try:
            for row in self.reader:
                if None in row:
                    raise self.fault(
                        line, "more values than the header has columns", "数值个数多于表头列数"
                    )
                clean = {k: (v or "").strip() for k, v in row.items()}
                if any(clean.values()):  # blank lines are allowed
                    yield line, clean
                line = self.reader.line_num + 1
        except csv.Error as exc:
            raise self.fault(self.reader.line_num, f"not CSV: {exc}", "CSV 格式错误") from None

    def fault(self, line: int, en: str, zh: str) -> RecordInvalid:
        """An error on ``line`` of this file."""
        return _fault(self.path, f"line {line}", f"第 {line} 行", en, zh)


def read_manifest(path: Path) -> DeclaredTrip:
    """A transfer manifest (JSON) as the declared trip.

    ``{"trip_id", "vehicle", "origin": {"lon", "lat"[, "crs"][, "name"]}, "destination": {...},
    "waypoints": [...], "depart_after", "arrive_before", "authorised_stops": [...]}``; times are
    ISO 8601 with a zone, the last four fields optional.
    """
    body = _json_file(path, "联单文件")
    top = ("manifest", "联单")
    if not isinstance(body, dict):
        raise _fault(path, *top, "the manifest must be a JSON object", "联单须为 JSON 对象")

    def text(key: str) -> str:
        value = body.get(key)
        if not isinstance(value, str) or not value.strip():
            raise _fault(
                path, f"field {key}", f"字段 {key}", "needs a non-empty string", "须为非空字符串"
            )
        return value.strip()

    def places(key: str) -> tuple[Place, ...]:
        value = body.get(key) or []
        if not isinstance(value, list):
            raise _fault(
                path, f"field {key}", f"字段 {key}", "must be a list of places", "须为地点列表"
            )
        return tuple(_place(path, f"{key}[{i}]", item) for i, item in enumerate(value))

    def moment(key: str) -> datetime | None:
        value = body.get(key)
        if value is None:
            return None
        return _time(value, functools.partial(_fault, path, f"field {key}", f"字段 {key}"))

    return DeclaredTrip(
        trip_id=text("trip_id"),
        vehicle=text("vehicle"),
        origin=_place(path, "origin", body.get("origin")),
        destination=_place(path, "destination", body.get("destination")),
        waypoints=places("waypoints"),
        depart_after=moment("depart_after"),
        arrive_before=moment("arrive_before"),
        authorised_stops=places("authorised_stops"),
    )


def _place(path: Path, key: str, value: object) -> Place:
    fault = functools.partial(_fault, path, f"field {key}", f"字段 {key}")
    if not isinstance(value, dict):
        raise fault('needs an object {"lon", "lat"[, "crs"][, "name"]}', "须为含经纬度的地点对象")
    name = value.get("name", "")
    if not isinstance(name, str):
        raise fault("name must be a string", "name 须为字符串")
    lon, lat = _lonlat(value.get("lon"), value.get("lat"), value.get("crs"), fault)
    return Place(lon, lat, name.strip())


def read_track(path: Path) -> list[Fix]:
    """GPS fixes from a CSV file or GeoJSON (Point features, or a LineString with times)."""
    if path.suffix.lower() in {".geojson", ".json"}:
        return _track_geojson(path, _json_file(path, "轨迹文件"))
    rows = _Rows(path, "轨迹文件", ["time", "lon", "lat"])
    return [_fix(row, functools.partial(rows.fault, line)) for line, row in rows]


def _fix(values: Mapping[str, Any], here: Fault) -> Fix:
    """A fix from a CSV row or a GeoJSON point's values."""
    at = _time(values.get("time"), here)
    lon, lat = _lonlat(values.get("lon"), values.get("lat"), values.get("crs"), here)
    speed = values.get("speed_kmh")
    if speed in {None, ""}:
        return Fix(at, lon, lat)
    kmh = _number(speed)
    if kmh is None or kmh < 0:
        raise here(f"speed_kmh {speed!r} is not a speed", f"速度 speed_kmh {speed!r} 无效")
    return Fix(at, lon, lat, kmh)


def _track_geojson(path: Path, body: object) -> list[Fix]:
    def fault(where: str, en: str, zh: str) -> RecordInvalid:
        index = where.removeprefix("feature ")
        return _fault(path, where, f"第 {index} 个要素", en, zh)

    features = _features(path, body)
    fixes: list[Fix] = []
    for i, feature in enumerate(features):
        where = f"feature {i}"
        geometry = feature.get("geometry") or {}
        props = feature.get("properties") or {}
        kind, coords = geometry.get("type"), geometry.get("coordinates")
        if kind == "Point" and isinstance(coords, list) and len(coords) >= 2:
            values = props | {"lon": coords[0], "lat": coords[1]}
            fixes.append(_fix(values, functools.partial(fault, where)))
        elif kind == "LineString" and isinstance(coords, list):
            times = props.get("times", props.get("coordTimes"))
            if not isinstance(times, list) or len(times) != len(coords):
                raise fault(
                    where,
                    "a LineString needs a 'times' list, one time per point",
                    "LineString 须带 times 列表，每个点一个时间",
                )
            speeds = props.get("speeds_kmh") or [None] * len(coords)
            for j, (point, at) in enumerate(zip(coords, times, strict=True)):
                if not isinstance(point, list) or len(point) < 2:
                    raise fault(
                        where, f"point {j} is not [lon, lat]", f"第 {j} 个点不是 [经度, 纬度]"
                    )
                values = {
                    "time": at,
                    "lon": point[0],
                    "lat": point[1],
                    "crs": props.get("crs"),
                    "speed_kmh": speeds[j] if j < len(speeds) else None,
                }
                fixes.append(_fix(values, functools.partial(fault, f"{where} point {j}")))
        else:
            raise fault(
                where,
                "needs a Point with a 'time' or a LineString with 'times'",
                "须为带 time 的 Point 或带 times 的 LineString",
            )
    return fixes


def _features(path: Path, body: object) -> list[dict[str, Any]]:
    if isinstance(body, dict) and body.get("type") == "Feature":
        body = {"type": "FeatureCollection", "features": [body]}
    if not (
        isinstance(body, dict)
        and body.get("type") == "FeatureCollection"
        and isinstance(body.get("features"), list)
    ):
        raise _fault(
            path,
            "document",
            "文件",
            "needs a GeoJSON FeatureCollection or Feature",
            "须为 GeoJSON FeatureCollection 或 Feature",
        )
    features = body["features"]
    for i, feature in enumerate(features):
        if not (isinstance(feature, dict) and isinstance(feature.get("geometry"), dict)):
            raise _fault(
                path,
                f"feature {i}",
                f"第 {i} 个要素",
                "is not a Feature with a geometry",
                "不是带几何的要素",
            )
        if not isinstance(feature.get("properties") or {}, dict):
            raise _fault(
                path,
                f"feature {i}",
                f"第 {i} 个要素",
                "properties must be an object",
                "properties 须为对象",
            )
    return features  # type: ignore[no-any-return]  # checked just above


def read_sightings(path: Path) -> list[Sighting]:
    """Checkpoint reads from a CSV file: checkpoint_id, seen_at[, source][, ref]."""
    rows = _Rows(path, "卡口识别文件", ["checkpoint_id", "seen_at"])
    out = []
    for line, row in rows:
        checkpoint_id = row["checkpoint_id"]
        if not checkpoint_id:
            raise rows.fault(line, "checkpoint_id is empty", "checkpoint_id 为空")
        at = _time(row["seen_at"], functools.partial(rows.fault, line))
        source = row.get("source") or "anpr"
        if source not in {"anpr", "scan"}:
            raise rows.fault(
                line,
                f"source {source!r} is not anpr or scan",
                f"来源 source {source!r} 须为 anpr 或 scan",
            )
        ref = row.get("ref") or f"{path.name}:{line}"
        out.append(Sighting(checkpoint_id, at, source, ref))
    return out


def read_checkpoints(
    path: Path, network: RoadNetwork, thresholds: Thresholds = _DEFAULTS
) -> list[SnappedCheckpoint]:
    """Checkpoints from CSV (id,name,kind,lon,lat[,crs][,confirmed]) or GeoJSON points, snapped."""
    from routes.checkpoints import snap  # noqa: PLC0415  # keeps `custody --help` fast

    records: list[tuple[str, str, Mapping[str, Any]]] = []  # (where, where_zh, values)
    if path.suffix.lower() in {".geojson", ".json"}:
        for i, feature in enumerate(_features(path, _json_file(path, "卡口文件"))):
            geometry, props = feature["geometry"], feature.get("properties") or {}
            coords = geometry.get("coordinates")
            if geometry.get("type") != "Point" or not isinstance(coords, list) or len(coords) < 2:
                raise _fault(path, f"feature {i}", f"第 {i} 个要素", "is not a Point", "不是点要素")
            records.append(
                (f"feature {i}", f"第 {i} 个要素", props | {"lon": coords[0], "lat": coords[1]})
            )
    else:
        rows = _Rows(path, "卡口文件", ["id", "kind", "lon", "lat"])
        records = [(f"line {line}", f"第 {line} 行", row) for line, row in rows]
    seen: set[str] = set()
    out = []
    for where, where_zh, values in records:
        fault = functools.partial(_fault, path, where, where_zh)
        checkpoint_id = str(values.get("id") or "").strip()
        if not checkpoint_id:
            raise fault("id is empty", "id 为空")
        if checkpoint_id in seen:
            raise fault(
                f"checkpoint {checkpoint_id} is listed twice", f"检查点 {checkpoint_id} 重复"
            )
        seen.add(checkpoint_id)
        lon, lat = _lonlat(values.get("lon"), values.get("lat"), values.get("crs"), fault)
        confirmed = str(values.get("confirmed") or "").strip().lower() in {"1", "true", "yes"}
        try:
            out.append(
                snap(
                    network,
                    checkpoint_id,
                    str(values.get("name") or "").strip(),
                    str(values.get("kind") or "").strip(),
                    lon,
                    lat,
                    max_m=thresholds.snap_max_m,
                    confirmed=confirmed,
                )
            )
        except (CoordinateInvalid, RecordInvalid) as exc:
            raise fault(exc.message, exc.zh) from None
    return out


# -- values ------------------------------------------------------------------------------------


def _number(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        number = float(value)  # type: ignore[arg-type]  # whatever the file held
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _lonlat(lon: object, lat: object, crs: object, fault: Fault) -> tuple[float, float]:
    """A WGS-84 (lon, lat) from numbers given in ``crs`` (WGS84 when empty; GCJ02, BD09)."""
    x, y = _number(lon), _number(lat)
    if x is None or y is None:
        raise fault(
            f"lon {lon!r}, lat {lat!r} are not numbers", f"经纬度 {lon!r}, {lat!r} 不是数字"
        )
    system = str(crs).strip() if crs not in {None, ""} else "WGS84"
    try:
        return to_wgs84(x, y, system)
    except CoordinateInvalid as exc:
        raise fault(exc.message, exc.zh) from None


def _time(value: object, fault: Fault) -> datetime:
    """An ISO 8601 time with a zone (``2025-03-14T09:00:00+08:00``)."""
    if not isinstance(value, str):
        raise fault(f"time {value!r} is not ISO 8601 text", f"时间 {value!r} 不是 ISO 8601 文本")
    try:
        at = datetime.fromisoformat(value.strip())
    except ValueError:
        raise fault(
            f"time {value!r} is not ISO 8601", f"时间 {value!r} 不是 ISO 8601 格式"
        ) from None
    if at.tzinfo is None:
        raise fault(
            f"time {value!r} has no zone (add +08:00 for China time)",
            f"时间 {value!r} 缺少时区（北京时间请加 +08:00）",
        )
    return at

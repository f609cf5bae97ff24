"""Server-rendered pages for officers: the alert list and one alert, with its state changes.

Chinese first, English beneath, as the public pages (``api/endpoints/pages.py``). Changes are
plain HTML forms posted as ``application/x-www-form-urlencoded``; the body is read with
``urllib.parse`` because ``python-multipart`` is not a dependency. A route alert's map is drawn
from the GeoJSON layers stored on it, so the page needs no road network and no tiles.
"""

from __future__ import annotations

import json
import math
from datetime import timedelta, timezone
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import quote, urlencode
from xml.sax.saxutils import escape, quoteattr

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup

from api.auth import decided_by, page_for
from api.forms import read_form
from api.scope import ensure_alert
from api.templating import render as _html
from custody.access import OFFICER_ROLES, Principal
from custody.alerts import AlertFilter, Alerts, AlertState, Severity
from custody.credit_code import parse_credit_code
from custody.digital_id import parse_digital_id
from custody.errors import AlertNotFound, ConflictError, CustodyError, InputError
from custody.plates import parse_plate
from custody.wastes import parse_waste_code
from storage.alert_store import SqlAlertStore

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping
    from datetime import datetime

    from custody.access import Reach
    from custody.alerts import Alert, AlertChange

__all__ = ["RULES_ZH", "router"]

router = APIRouter(prefix="/officer", include_in_schema=False)

_CHINA = timezone(timedelta(hours=8))  # officers read China Standard Time
_PAGE = 50

#: Chinese names of the rules the checker raises (custody rules, then route rules).
RULES_ZH: dict[str, str] = {
    "missing-handoff": "交接缺失",
    "vanished": "容器失踪",
    "conflicting-custody": "多方同时持有",
    "cloned-label": "标签克隆",
    "scan-after-end": "处置后扫码",
    "unlicensed": "无证或超范围",
    "mass-discrepancy": "重量差异",
    "manifest-mismatch": "联单不符",
    "overdue-storage": "超期贮存",
    "mass-balance": "物料平衡",
    "off-route": "偏离路线",
    "dwell": "异常停留",
    "off-route-sighting": "卡口不在路线上",
    "impossible-travel": "不可能的行程",
    "unexplained-time": "时间无法解释",
    "missing-checkpoint": "漏经卡口",
    "gps-gap": "定位中断",
    "route-unplannable": "无法规划路线",
}


def _alerts(request: Request) -> Alerts:
    return Alerts(SqlAlertStore(request.app.state.engine))


AlertsDep = Annotated[Alerts, Depends(_alerts)]
#: The officers' pages open for officers (and administrators); anyone else logs in first.
OfficerDep = Annotated[Principal, Depends(page_for(*OFFICER_ROLES))]


def _local(when: datetime) -> str:
    return f"{when.astimezone(_CHINA):%Y-%m-%d %H:%M}"


def _window(alert: Alert) -> str:
    start, end = alert.start.astimezone(_CHINA), alert.end.astimezone(_CHINA)
    if end == start:
        return _local(start)
    if end.date() == start.date():
        return f"{_local(start)} – {end:%H:%M}"
    return f"{_local(start)} – {_local(end)}"


def _row(alert: Alert) -> dict[str, Any]:
    """What a page shows of an alert: names in Chinese beside the stored values."""
    return {
        "id": alert.alert_id,
        "url": f"/officer/alerts/{quote(alert.alert_id, safe='')}",
        "rule": alert.rule,
        "rule_zh": RULES_ZH.get(alert.rule, alert.rule),
        "severity": alert.severity.value,
        "severity_zh": alert.severity.zh,
        "state": alert.state.value,
        "state_zh": alert.state.zh,
        "window": _window(alert),
        "summary_zh": alert.summary_zh,
        "summary": alert.summary,
        "vehicle": alert.vehicle,
    }


# -- the list -----------------------------------------------------------------------------------


def _choices() -> dict[str, list[dict[str, str]]]:
    return {
        "rules": [{"value": k, "zh": v} for k, v in RULES_ZH.items()],
        "states": [{"value": s.value, "zh": s.zh} for s in AlertState],
        "severities": [
            {"value": s.value, "zh": s.zh} for s in sorted(Severity, key=lambda s: -s.rank)
        ],
    }


def _where(filters: Mapping[str, str], reach: Reach | None) -> AlertFilter:
    """The filter the form asks for; an empty field is no filter. Raises ``InputError``."""
    try:
        state = AlertState(filters["state"]) if filters["state"] else None
        severity = Severity(filters["min_severity"]) if filters["min_severity"] else None
    except ValueError as exc:
        raise InputError("unknown state or severity", zh="状态或严重程度无效") from exc
    return AlertFilter(
        rule=filters["rule"] or None,
        state=state,
        min_severity=severity,
        container=parse_digital_id(filters["container"]).text if filters["container"] else None,
        vehicle=parse_plate(filters["vehicle"]).text if filters["vehicle"] else None,
        party=parse_credit_code(filters["party"]).text if filters["party"] else None,
        waste_code=parse_waste_code(filters["waste_code"]) if filters["waste_code"] else None,
        reach=reach,
    )


_Text = Annotated[str, Query(max_length=64)]


@router.get("/alerts", response_class=HTMLResponse)
def alert_list(  # noqa: PLR0913, PLR0917  # FastAPI passes one parameter per filter
    request: Request,
    principal: OfficerDep,
    rule: _Text = "",
    state: _Text = "",
    min_severity: _Text = "",
    vehicle: _Text = "",
    party: _Text = "",
    container: _Text = "",
    waste_code: _Text = "",
    cursor: _Text = "",
) -> HTMLResponse:
    """Alerts matching the form's filters, most urgent first, a page at a time."""
    filters = {"rule": rule.strip(), "state": state.strip(),
               "min_severity": min_severity.strip(), "vehicle": vehicle.strip(),
               "party": party.strip(), "container": container.strip(),
               "waste_code": waste_code.strip()}  # fmt: skip
    context: dict[str, Any] = {"filters": filters, **_choices(), "rows": [], "next_url": None}
    try:
        store = SqlAlertStore(request.app.state.engine)
        where = _where(filters, principal.reach)
        found = store.list_alerts(where, limit=_PAGE + 1, after=cursor or None)
    except InputError as exc:
        return _html(request, "alerts.html", 422, error=exc, **context)
    page = found[:_PAGE]
    if len(found) > _PAGE:
        query = {k: v for k, v in filters.items() if v} | {"cursor": page[-1].alert_id}
        context["next_url"] = f"/officer/alerts?{urlencode(query)}"
    context["rows"] = [_row(a) for a in page]
    return _html(request, "alerts.html", error=None, **context)


# -- one alert ----------------------------------------------------------------------------------


def _fact(value: object) -> str:
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return "—" if value is None else str(value)


def _change(change: AlertChange) -> dict[str, str]:
    state = AlertState(change.state)
    return {"at": _local(change.at), "by": change.by, "state": state.value,
            "state_zh": state.zh, "reason": change.reason}  # fmt: skip


def _alert_page(
    request: Request,
    principal: Principal,
    alerts: Alerts,
    alert_id: str,
    status_code: int = 200,
    **context: Any,  # noqa: ANN401  # template values
) -> HTMLResponse:
    try:
        alert = ensure_alert(principal, alerts.get(alert_id))
    except AlertNotFound:
        return _html(request, "alert.html", 404, a=None, alert_id=alert_id)
    layers = alert.facts.get("layers")
    return _html(
        request,
        "alert.html",
        status_code,
        a=_row(alert),
        facts=[(k, _fact(v)) for k, v in sorted(alert.facts.items()) if k != "layers"],
        containers=list(alert.containers),
        parties=list(alert.parties),
        entries=list(alert.entries),
        history=[_change(c) for c in alerts.history(alert_id)],
        map_svg=layer_map(layers) if isinstance(layers, dict) else None,
        **({"error": None, "form": {}} | context),
    )


@router.get("/alerts/{alert_id}", response_class=HTMLResponse)
def alert_page(
    alert_id: str, request: Request, alerts: AlertsDep, principal: OfficerDep
) -> HTMLResponse:
    """One alert: its summary, facts, map, evidence, history and the forms to change it."""
    return _alert_page(request, principal, alerts, alert_id)


@router.post("/alerts/{alert_id}/changes", response_class=HTMLResponse)
def change_alert(
    alert_id: str,
    request: Request,
    alerts: AlertsDep,
    form: Annotated[dict[str, str], Depends(read_form)],
    principal: Annotated[Principal, Depends(page_for(*OFFICER_ROLES))],
) -> Response:
    """Change the alert's state as the form says, then back to its page (303).

    A refused change shows the page again with the reason: 409 for the lifecycle, 422 for
    input (no name given, an unknown state), 404 for an unknown alert.
    """
    by, reason = decided_by(principal, form.get("by")), form.get("reason", "")
    try:
        to = AlertState(form.get("state", ""))
    except ValueError:
        error = InputError("unknown state", zh="目标状态无效")
        return _alert_page(request, principal, alerts, alert_id, 422, error=error, form=form)
    try:
        alerts.change(alert_id, to, by, reason)
    except AlertNotFound:
        return _alert_page(request, principal, alerts, alert_id)
    except CustodyError as exc:
        status = 409 if isinstance(exc, ConflictError) else 422
        return _alert_page(request, principal, alerts, alert_id, status, error=exc, form=form)
    return RedirectResponse(f"/officer/alerts/{quote(alert_id, safe='')}", status_code=303)


# -- the map of a route alert -------------------------------------------------------------------

#: Layers bottom to top, with their Chinese and English names and SVG style.
_LAYERS: dict[str, tuple[str, str, str]] = {
    "area": ("敏感区域", "sensitive area", 'fill="#e53935" fill-opacity="0.15" stroke="#c62828"'),
    "corridor": ("合理通行走廊", "plausible corridor",
                 'fill="#43a047" fill-opacity="0.15" stroke="#43a047" stroke-opacity="0.4"'),
    "water": ("水体", "water", 'fill="none" stroke="#1e88e5" stroke-width="3"'),
    "route": ("规划路线", "planned route", 'fill="none" stroke="#2e7d32" stroke-width="3"'),
    "legal_path": ("合法最短路径", "shortest legal path",
                   'fill="none" stroke="#2e7d32" stroke-width="3" stroke-dasharray="6 4"'),
    "via_route": ("经该卡口的路线", "route via the checkpoint",
                  'fill="none" stroke="#ef6c00" stroke-width="3" stroke-dasharray="6 4"'),
    "episode": ("偏离路段", "deviation", 'fill="none" stroke="#c62828" stroke-width="5"'),
    "gap": ("定位中断路段", "GPS gap",
            'fill="none" stroke="#6a1b9a" stroke-width="3" stroke-dasharray="2 4"'),
    "sightings": ("识别记录卡口", "checkpoints seen", 'fill="#1565c0" stroke="#fff"'),
    "missing": ("漏经卡口", "checkpoints missed", 'fill="#fff" stroke="#c62828" stroke-width="2"'),
    "checkpoint": ("卡口", "checkpoint", 'fill="#fdd835" stroke="#c62828" stroke-width="2"'),
    "stop": ("停留点", "stop", 'fill="#ffb300" stroke="#6d4c00" stroke-width="2"'),
}  # fmt: skip
_OTHER = 'fill="none" stroke="#546e7a" stroke-width="2"'
_WIDTH = 600.0
_PAD = 16.0
_MIN_SPAN = 0.002  # degrees (~200 m): a lone point still gets a small map around it


def _positions(geometry: object) -> Iterator[tuple[float, float]]:
    """Every (lon, lat) of a GeoJSON geometry; what is not a position is skipped."""
    if not isinstance(geometry, dict):
        return
    if geometry.get("type") == "GeometryCollection":
        for part in geometry.get("geometries") or []:
            yield from _positions(part)
        return
    yield from _walk(geometry.get("coordinates"))


def _walk(item: object) -> Iterator[tuple[float, float]]:
    # In order: a line's direction is what it shows.
    if not isinstance(item, list | tuple):
        return
    if len(item) >= 2 and all(isinstance(c, int | float) for c in item[:2]):
        lon, lat = float(item[0]), float(item[1])
        if math.isfinite(lon) and math.isfinite(lat):
            yield lon, lat
        return
    for part in item:
        yield from _walk(part)


class _Projection:
    """Plain equirectangular: east scaled by the cosine of the middle latitude, north up."""

    def __init__(self, positions: list[tuple[float, float]]) -> None:
        lons, lats = [p[0] for p in positions], [p[1] for p in positions]
        middle = (min(lats) + max(lats)) / 2
        self.k = math.cos(math.radians(middle))
        self.west = (min(lons) + max(lons)) / 2 - max(max(lons) - min(lons), _MIN_SPAN) / 2
        span_x = max(max(lons) - min(lons), _MIN_SPAN) * self.k
        span_y = max(max(lats) - min(lats), _MIN_SPAN)
        self.north = (min(lats) + max(lats)) / 2 + span_y / 2
        # Wide maps keep their width; tall ones are capped at the width so the page stays short.
        self.scale = min((_WIDTH - 2 * _PAD) / span_x, (_WIDTH - 2 * _PAD) / span_y)
        self.height = span_y * self.scale + 2 * _PAD

    def xy(self, lon: float, lat: float) -> tuple[float, float]:
        x = _PAD + (lon - self.west) * self.k * self.scale
        return x, _PAD + (self.north - lat) * self.scale


def _points(coords: object, p: _Projection) -> list[tuple[float, float]]:
    return [p.xy(lon, lat) for lon, lat in _positions({"coordinates": coords})]


def _path(runs: list[list[tuple[float, float]]], *, close: bool) -> str:
    parts = []
    for run in runs:
        if run:
            steps = " L".join(f"{x:.1f} {y:.1f}" for x, y in run)
            parts.append(f"M{steps}{' Z' if close else ''}")
    return " ".join(parts)


def _shapes(geometry: object, p: _Projection, style: str) -> Iterator[str]:
    """SVG elements of one GeoJSON geometry."""
    if not isinstance(geometry, dict):
        return
    kind, coords = geometry.get("type"), geometry.get("coordinates")
    if kind == "GeometryCollection":
        for part in geometry.get("geometries") or []:
            yield from _shapes(part, p, style)
    elif kind in {"Point", "MultiPoint"}:
        for x, y in _points(coords, p):
            yield f'<circle cx="{x:.1f}" cy="{y:.1f}" r="6" {style}/>'
    elif kind in {"LineString", "MultiLineString", "Polygon", "MultiPolygon"} and isinstance(
        coords, list
    ):
        depth = {"LineString": 0, "MultiLineString": 1, "Polygon": 1, "MultiPolygon": 2}[kind]
        runs: list[Any] = [coords]
        for _ in range(depth):
            runs = [run for group in runs if isinstance(group, list) for run in group]
        closed = kind.endswith("Polygon")
        d = _path([_points(run, p) for run in runs], close=closed)
        if d:
            line = ' fill="none"' if not closed and "fill=" not in style else ""
            rule = ' fill-rule="evenodd"' if closed else ""
            yield f'<path d="{d}" {style}{line}{rule}/>'


def _swatch(style: str) -> str:
    # A line layer has no fill; its legend box shows the line's colour on white.
    return style.replace('fill="none"', 'fill="#fff"')


def layer_map(layers: Mapping[str, object]) -> Markup | None:
    """An inline SVG of an alert's map layers (GeoJSON, WGS-84), or None when nothing to draw.

    Known layers are drawn in a fixed order and style, others after them in grey; the legend
    names the layers drawn, Chinese first.
    """
    positions = [pos for geometry in layers.values() for pos in _positions(geometry)]
    if not positions:
        return None
    p = _Projection(positions)
    order = [k for k in _LAYERS if k in layers] + sorted(k for k in layers if k not in _LAYERS)
    body, legend = [], []
    for name in order:
        style = _LAYERS[name][2] if name in _LAYERS else _OTHER
        shapes = "".join(_shapes(layers[name], p, style))
        if not shapes:
            continue
        body.append(f"<g data-layer={quoteattr(name)}>{shapes}</g>")
        zh, en = _LAYERS[name][:2] if name in _LAYERS else (name, name)
        legend.append((zh, en, style))
    height = f"{p.height:.0f}"
    svg = (
        f'<svg class="alert-map" role="img" '
        f'viewBox="0 0 {_WIDTH:.0f} {height}" width="{_WIDTH:.0f}" height="{height}" '
        f'aria-label="告警地图 Alert map">'
        f'<rect width="100%" height="100%" fill="#fafafa"/>{"".join(body)}</svg>'
    )
    items = "".join(
        f'<li><svg width="18" height="12" aria-hidden="true"><rect x="1" y="1" width="16" '
        f'height="10" {_swatch(style)}/></svg> '
        f'{escape(zh)} <span lang="en">{escape(en)}</span></li>'
        for zh, en, style in legend
    )
    # Only numbers, fixed styles and escaped names go into it: safe to mark as markup.
    return Markup(f'{svg}<ul class="legend">{items}</ul>')  # noqa: S704  # built from escaped parts

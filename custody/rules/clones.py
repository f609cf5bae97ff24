"""Cloned labels: one container seen at two places no vehicle could connect in the time.

A signature proves who issued a label, not that it sits on the right drum: a copied QR code
on a second drum shows up as the same container scanned far apart within minutes. Each pair
of consecutive located scans is compared; the great-circle distance is a lower bound on the
road distance, so a straight-line speed above the dangerous-goods limit (plus a tolerance)
cannot be an honest trip. Scans within one site's radius are never compared (GPS noise, a big
plant); two scans at the same instant at two different sites always are.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, NamedTuple

from custody.alerts import Severity
from custody.facts import Rule
from custody.rules._chain_words import STEP_ZH, iso, local

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    from custody.alerts import Alert
    from custody.facts import Facts
    from custody.history import ContainerHistory, Record
    from custody.parties import Checkpoint

__all__ = ["CLONED_LABEL", "great_circle_km"]

#: The IUGG mean Earth radius.
_EARTH_RADIUS_KM = 6371.0088


def great_circle_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """The haversine distance between two WGS-84 (lat, lon) points, in kilometres."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + (
        math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * _EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


class _Seen(NamedTuple):
    record: Record
    point: tuple[float, float]
    checkpoint: str | None  # the checkpoint's name, when the place came from the read point


def _place(record: Record, checkpoints: Mapping[str, Checkpoint]) -> _Seen | None:
    event = record.event
    if event.location is not None:
        return _Seen(record, event.location, None)
    if event.read_point is not None:
        found = checkpoints.get(event.read_point)
        if found is not None:
            return _Seen(record, (found.location.lat, found.location.lon), found.name)
    return None


class _Leap(NamedTuple):
    speed_kmh: float  # infinite for two places at the same instant
    before: _Seen
    after: _Seen
    km: float


def _leaps(history: ContainerHistory, facts: Facts, limit_kmh: float) -> Iterator[_Leap]:
    """Each consecutive pair of located scans too far apart for the time between them."""
    same_site = facts.settings.same_site_km
    before: _Seen | None = None
    for record in history.records:
        seen = _place(record, facts.checkpoints)
        if seen is None:
            continue
        if before is not None:
            km = great_circle_km(before.point, seen.point)
            hours = (seen.record.event.event_time - before.record.event.event_time).total_seconds()
            hours /= 3600
            # At the same instant any two sites are too far apart.
            if km > same_site and km > limit_kmh * hours:
                yield _Leap(km / hours if hours > 0 else math.inf, before, seen, km)
        before = seen


def _cloned(facts: Facts) -> Iterator[Alert]:
    settings = facts.settings
    limit = settings.max_speed_kmh * (1 + settings.speed_tolerance)
    for history in facts.histories.values():
        if len(history.records) < 2:
            continue
        found = list(_leaps(history, facts, limit))
        if found:
            worst = max(found, key=lambda leap: leap.speed_kmh)
            yield _alert(facts, history.container, worst, len(found), limit)


def _where(seen: _Seen) -> tuple[str, str]:
    if seen.checkpoint is not None:
        return f"“{seen.checkpoint}”", seen.checkpoint
    lat, lon = seen.point
    return f"坐标 ({lat:.5f}, {lon:.5f}) 处", f"({lat:.5f}, {lon:.5f})"


def _scan(seen: _Seen) -> dict[str, Any]:
    event = seen.record.event
    return {
        "at": iso(event.event_time),
        "lat": seen.point[0],
        "lon": seen.point[1],
        "checkpoint": event.read_point if seen.checkpoint is not None else None,
        "party": event.party,
        "step": event.step.value,
    }


def _alert(
    facts: Facts,
    container: str,
    worst: _Leap,
    count: int,
    limit: float,
) -> Alert:
    speed, first, second, km = worst
    a, b = first.record.event, second.record.event
    (where_a_zh, where_a), (where_b_zh, where_b) = _where(first), _where(second)
    minutes = (b.event_time - a.event_time).total_seconds() / 60
    scan_a_zh = f"{facts.name(a.party)}{STEP_ZH[a.step]}"
    scan_b_zh = f"{facts.name(b.party)}{STEP_ZH[b.step]}"
    scan_a, scan_b = (
        f"{a.step.value} by {facts.name(a.party)}",
        f"{b.step.value} by {facts.name(b.party)}",
    )
    tolerance = f"{facts.settings.speed_tolerance:.0%}"
    if math.isinf(speed):
        zh = (
            f"容器 {container} 在同一时刻 {local(a.event_time)} 分别于{where_a_zh}（{scan_a_zh}）"
            f"和相距 {km:.1f} 公里的{where_b_zh}（{scan_b_zh}）被扫描。"
        )
        en = (
            f"Container {container} was scanned at the same instant, {local(a.event_time)} "
            f"(UTC+8), at {where_a} ({scan_a}) and at {where_b} ({scan_b}), {km:.1f} km apart."
        )
    else:
        zh = (
            f"容器 {container} 于 {local(a.event_time)} 在{where_a_zh}被扫描（{scan_a_zh}），"
            f"{minutes:.0f} 分钟后于 {local(b.event_time)} 在{where_b_zh}被扫描（{scan_b_zh}）；"
            f"两地直线距离 {km:.1f} 公里，折合时速至少 {speed:.0f} 公里，超过危险货物运输车辆"
            f"限速加容差 {tolerance} 后的 {limit:.0f} 公里/小时。"
        )
        en = (
            f"Container {container} was scanned at {where_a} at {local(a.event_time)} (UTC+8) "
            f"({scan_a}) and {minutes:.0f} min later at {where_b} ({scan_b}), {km:.1f} km "
            f"apart in a straight line: at least {speed:.0f} km/h, above the dangerous-goods "
            f"limit plus {tolerance} ({limit:.0f} km/h)."
        )
    more_zh = f"另有 {count - 1} 对扫描同样无法到达。" if count > 1 else ""
    more = f" {count - 1} more such pair(s)." if count > 1 else ""
    return CLONED_LABEL.alert(
        container,
        f"{zh}没有车辆能在这段时间内从一地到达另一地，同一标签可能被复制到了另一个容器上。{more_zh}",
        f"{en} No vehicle could connect the two places in the time; the label may have been "
        f"copied onto another container.{more}",
        [first.record, second.record],
        containers=(container,),
        facts={
            "from": _scan(first),
            "to": _scan(second),
            "distance_km": round(km, 2),
            "minutes": round(minutes, 2),
            "speed_kmh": None if math.isinf(speed) else round(speed, 1),
            "limit_kmh": round(limit, 1),
            "pairs": count,
        },
    )


CLONED_LABEL = Rule(
    "cloned-label",
    Severity.HIGH,
    "标签疑似被复制",
    "Cloned label",
    _cloned,
)

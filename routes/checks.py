"""Route checks: a declared trip against what the checkpoints and the GPS terminal saw.

Each rule is one function returning findings. :func:`check_trip` plans the trip, tidies the
observations and runs them all:

=====================  ===========================================================  ==========
rule                   fires when                                                   needs
=====================  ===========================================================  ==========
off-route-sighting     a read at a checkpoint no plausible route passes             sightings
impossible-travel      two reads closer in time than the legal limits allow         sightings
unexplained-time       two reads much further apart in time than the drive needs    sightings
missing-checkpoint     no read at a checkpoint every plausible route passes         sightings
off-route              GPS fixes outside the corridor for a while                   GPS
dwell                  a long stop away from the declared places                    GPS
gps-gap                the terminal silent for many reporting intervals             GPS
=====================  ===========================================================  ==========

The GPS track is cleaned first: sorted by time, one fix per time (the first by position when a
terminal repeats a time), and *glitches* dropped: a run of at most two fixes reached from the
fixes before and after it only faster than 200 km/h, while those fixes reach each other slower
than that. A jump that the fixes around it do not undo is kept, so a real teleport (a second
terminal, a cloned plate) stays in the evidence; so are the first and last fixes, which have
nothing on one side to be judged against.

Sentences give clock times in China Standard Time; facts hold UTC ISO-8601 times, metres and
seconds. Every finding records the thresholds it used and the road network's identity.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import networkx as nx
import numpy as np
import shapely
from shapely.geometry import LineString, Point
from shapely.ops import nearest_points, substring

from custody.errors import PartyNotFound
from routes._evidence import (
    CHINA_TIME,
    clock,
    distance_en,
    distance_zh,
    finite,
    geojson,
    iso,
    minutes,
    percent,
    point,
    road_en,
    road_name,
    road_zh,
)
from routes.checkpoints import coverage
from routes.corridor import path_geometry, plan_trip
from routes.matching import noise_sigma
from routes.model import Finding, Severity, Thresholds
from routes.network import DG_LIMIT_KMH, DG_OTHER_KMH

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping, Sequence

    from numpy.typing import NDArray

    from routes.areas import SensitiveArea
    from routes.checkpoints import SnappedCheckpoint
    from routes.corridor import Plan
    from routes.model import DeclaredTrip, Fix, Sighting
    from routes.network import RoadNetwork

__all__ = [
    "AUTHORISED_RADIUS_M",
    "CAPTURE_RATE_DAY",
    "CAPTURE_RATE_NIGHT",
    "GLITCH_KMH",
    "MISSING_ALERT_P",
    "RULE_VERSION",
    "TripReport",
    "check_trip",
    "clean_track",
    "dwells",
    "gps_gaps",
    "impossible_travel",
    "missing_checkpoints",
    "off_route",
    "off_route_sighting",
    "stay_points",
    "unexplained_time",
]

#: Bumped when a rule changes what it finds or says; every finding records it.
RULE_VERSION = 1
#: A GPS fix reached faster than this from both sides is a glitch, not a drive.
GLITCH_KMH = 200.0
_GLITCH_RUN = 2  # ... when it is a run of at most this many fixes
#: A stop this close to the origin, the destination or an authorised stop is not a finding.
AUTHORISED_RADIUS_M = 200.0
#: GA/T 497-2009: cameras read at least 90 % of plates by day and 80 % by night. The seed of
#: each gate's capture rate until a measured, rolling rate per gate replaces it.
CAPTURE_RATE_DAY = 0.90
CAPTURE_RATE_NIGHT = 0.80
_DAY_HOURS = range(6, 18)  # China Standard Time
#: Missing reads become an alert when a passing truck is missed with less than this chance.
MISSING_ALERT_P = 0.05
#: Two reads of one gate this close together are one passage (anprx's duplicate window).
DUPLICATE_READ_S = 300.0
_ROADS_LISTED = 5  # roads named in an off-route finding
_LAYER_SIMPLIFY_M = 2.0  # map layers are drawn, not measured: 2 m is invisible
_DEFAULTS = Thresholds()


@dataclass(frozen=True)
class TripReport:
    """What the checks found on one trip."""

    plan: Plan
    findings: list[Finding]  # sorted by start time, then rule
    track: list[Fix]  # the fixes used: sorted, one per time, glitches dropped


def check_trip(  # noqa: PLR0913  # every kind of observation, by keyword
    network: RoadNetwork,
    trip: DeclaredTrip,
    *,
    checkpoints: Sequence[SnappedCheckpoint] = (),
    sightings: Sequence[Sighting] = (),
    fixes: Sequence[Fix] = (),
    areas: Sequence[SensitiveArea] = (),
    thresholds: Thresholds = _DEFAULTS,
) -> TripReport:
    """Run every route check on one declared trip.

    Raises:
        PartyNotFound: a sighting names a checkpoint that is not among ``checkpoints``.
        CoordinateInvalid: a declared place is far from every road, or a checkpoint was snapped
            to another road network.
    """
    track = clean_track(network, fixes)
    thresholds = _for_noise(thresholds, gps_sigma(network, track))
    plan = plan_trip(network, trip, checkpoints, thresholds)
    by_id = {c.checkpoint_id: c for c in checkpoints}
    reads = _passages(sightings, by_id)
    findings: list[Finding] = []
    for checkpoint, sighting in reads:
        findings += _some(off_route_sighting(network, plan, checkpoint, sighting))
    for first, second in itertools.pairwise(reads):
        findings += _some(impossible_travel(network, plan, first, second))
        findings += _some(unexplained_time(network, plan, first, second))
    findings += missing_checkpoints(network, plan, by_id, [s for _, s in reads])
    findings += off_route(network, plan, track, areas)
    findings += dwells(network, plan, track, areas)
    findings += gps_gaps(network, plan, track)
    findings.sort(key=lambda f: (f.start or datetime.min.replace(tzinfo=UTC), f.rule, f.to_json()))
    return TripReport(plan, findings, track)


#: Noisier terminals widen the corridor (3 sigma), but never beyond this: a wider corridor
#: would hide real detours on parallel roads.
MAX_CORRIDOR_M = 150.0
_MIN_FIXES_FOR_SIGMA = 10


def gps_sigma(network: RoadNetwork, track: Sequence[Fix]) -> float:
    """The track's GPS noise, as the map matcher estimates it (``routes.matching.noise_sigma``).

    Reads low in dense streets, where the nearest road is not always the one driven. 0 for
    short tracks.
    """
    if len(track) < _MIN_FIXES_FOR_SIGMA:
        return 0.0
    xs, ys = network.project_many([f.lon for f in track], [f.lat for f in track])
    return noise_sigma([network.nearest_edge(x, y)[0] for x, y in zip(xs, ys, strict=True)])


def _for_noise(thresholds: Thresholds, sigma: float) -> Thresholds:
    """The design's corridor width max(corridor_m, 3 sigma), capped; recorded in findings."""
    width = min(MAX_CORRIDOR_M, 3 * sigma)
    if width <= thresholds.corridor_m:
        return thresholds
    return dataclasses.replace(thresholds, corridor_m=round(width, 1))


# -- observations ------------------------------------------------------------------------------


def _passages(
    sightings: Sequence[Sighting], by_id: Mapping[str, SnappedCheckpoint]
) -> list[tuple[SnappedCheckpoint, Sighting]]:
    """Sightings in time order, each with its checkpoint; repeated reads of one pass dropped."""
    out: list[tuple[SnappedCheckpoint, Sighting]] = []
    for sighting in sorted(sightings, key=lambda s: (s.seen_at, s.checkpoint_id, s.ref)):
        checkpoint = by_id.get(sighting.checkpoint_id)
        if checkpoint is None:
            raise PartyNotFound(
                f"sighting at unknown checkpoint {sighting.checkpoint_id}",
                zh=f"识别记录所指检查点 {sighting.checkpoint_id} 未登记",
                checkpoint_id=sighting.checkpoint_id,
            )
        if (
            out
            and out[-1][0].checkpoint_id == sighting.checkpoint_id
            and ((sighting.seen_at - out[-1][1].seen_at).total_seconds() < DUPLICATE_READ_S)
        ):
            continue
        out.append((checkpoint, sighting))
    return out


def clean_track(network: RoadNetwork, fixes: Sequence[Fix]) -> list[Fix]:
    """Sort fixes, keep one per time, and drop glitches (see the module documentation)."""
    ordered = sorted(fixes, key=lambda f: (f.at, f.lon, f.lat))
    unique = [f for i, f in enumerate(ordered) if i == 0 or f.at != ordered[i - 1].at]
    if len(unique) < 2:
        return unique
    xs, ys, seconds = _metres(network, unique)
    kmh = np.hypot(np.diff(xs), np.diff(ys)) / np.diff(seconds) * 3.6
    cuts = [0, *(int(i) + 1 for i in np.flatnonzero(kmh > GLITCH_KMH)), len(unique)]
    runs = [range(a, b) for a, b in itertools.pairwise(cuts)]
    kept: list[range] = []
    for k, run in enumerate(runs):
        if len(run) <= _GLITCH_RUN and kept and k + 1 < len(runs):
            a, b = kept[-1][-1], runs[k + 1][0]
            speed = math.hypot(xs[b] - xs[a], ys[b] - ys[a]) / (seconds[b] - seconds[a]) * 3.6
            if speed <= GLITCH_KMH:
                continue  # the fixes either side agree: this one is the glitch
        kept.append(run)
    return [unique[i] for run in kept for i in run]


def _metres(
    network: RoadNetwork, track: Sequence[Fix]
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    xs, ys = network.project_many([f.lon for f in track], [f.lat for f in track])
    seconds = [(f.at - track[0].at).total_seconds() for f in track]
    return (
        np.asarray(xs, dtype=float),
        np.asarray(ys, dtype=float),
        np.asarray(seconds, dtype=float),
    )


# -- checkpoint rules --------------------------------------------------------------------------


def off_route_sighting(
    network: RoadNetwork, plan: Plan, checkpoint: SnappedCheckpoint, sighting: Sighting
) -> Finding | None:
    """A read at a checkpoint whose cheapest trip through it exceeds the plausible budget."""
    cost, u, v = min((plan.via_edge_cost(a, b), a, b) for a, b, _ in coverage(network, checkpoint))
    if cost <= plan.budget_s:
        return None
    t = plan.thresholds
    trip, name, road = plan.trip, checkpoint.name or checkpoint.checkpoint_id, checkpoint.road
    rule_zh = f"最快路线用时的 {percent(t.detour_eps)} % 加 {minutes(t.detour_slack_s)} 分钟"
    rule_en = f"{percent(t.detour_eps)} % (+{minutes(t.detour_slack_s)} min) of the fastest"
    fastest_zh = f"最快路线 {_km(plan.fastest_m)} 公里 / {minutes(plan.fastest_s)} 分钟"
    fastest_en = f"fastest {_km(plan.fastest_m)} km / {minutes(plan.fastest_s)} min"
    layers = {"checkpoint": point(checkpoint.lon, checkpoint.lat)}
    if math.isfinite(cost):
        nodes = plan.via_path(u, v)
        via_m = _length(network, nodes)
        extra = cost / plan.fastest_s - 1 if plan.fastest_s > 0 else math.inf
        extra_text = f"+{percent(extra)} %" if math.isfinite(extra) else "+∞"
        via_zh = f"经该点 {_km(via_m)} 公里 / {minutes(cost)} 分钟（{extra_text}）"
        via_en = f"via {name} {_km(via_m)} km / {minutes(cost)} min ({extra_text})"
        layers["via_route"] = _layer(network, path_geometry(network, nodes))
    else:
        via_m, extra = math.inf, math.inf
        via_zh, via_en = "无法经该点到达终点", f"no route through {name} reaches the destination"
    zh = (f"{clock(sighting.seen_at)} 在{name}（{road_zh(road)}）识别到本车，但从"
          f"{_place_zh(trip.origin.name, '起点')}到{_place_zh(trip.destination.name, '终点')}"
          f"的合理路线（不超过{rule_zh}）均不经过该点：{fastest_zh}；{via_zh}。")  # fmt: skip
    en = (f"Seen at {name} ({road_en(road)}) at {clock(sighting.seen_at)}, which is not on any"
          f" route from {trip.origin.name or 'the origin'} to"
          f" {trip.destination.name or 'the destination'} within {rule_en}: {fastest_en};"
          f" {via_en}.")  # fmt: skip
    return _finding(
        "off-route-sighting", Severity.HIGH, network, plan, zh=zh, en=en,
        facts={
            "checkpoint": _checkpoint_facts(checkpoint), "seen_at": iso(sighting.seen_at),
            "fastest_m": plan.fastest_m, "fastest_s": plan.fastest_s,
            "via_m": finite(via_m), "via_s": finite(cost), "extra_ratio": finite(extra),
            "budget_s": plan.budget_s,
        },
        observations=[_sighting_ref(sighting)], start=sighting.seen_at, end=sighting.seen_at,
        thresholds=_used(t, "detour_eps", "detour_slack_s"), layers=layers,
    )  # fmt: skip


def impossible_travel(
    network: RoadNetwork,
    plan: Plan,
    first: tuple[SnappedCheckpoint, Sighting],
    second: tuple[SnappedCheckpoint, Sighting],
) -> Finding | None:
    """Two reads closer in time than the fastest legal drive between them allows.

    dt < t_min / (1 + tolerance) - clock_skew. It means a misread, a cloned plate or a clock
    fault, not a diversion, and the finding says so.
    """
    (a, seen_a), (b, seen_b) = first, second
    t = plan.thresholds
    dt = (seen_b.seen_at - seen_a.seen_at).total_seconds()
    legal = _legal_path(network, a, b)
    if not math.isfinite(legal.time_s):
        return None  # no road between them: the network, not the truck, is at fault
    if dt >= legal.time_s / (1 + t.travel_tolerance) - t.clock_skew_s:
        return None
    name_a, name_b = a.name or a.checkpoint_id, b.name or b.checkpoint_id
    kmh = legal.length_m / dt * 3.6 if dt > 0 else None
    speed_zh = f"隐含平均速度 {kmh:.0f} 公里/小时" if kmh is not None else "两次记录时间相同"
    speed_en = f"an implied average of {kmh:.0f} km/h" if kmh is not None else "at the same time"
    limits_zh = (f"危险货物运输车辆限速（高速公路 {DG_LIMIT_KMH['motorway']:.0f}、"
                 f"其他道路 {DG_OTHER_KMH:.0f} 公里/小时）")  # fmt: skip
    limits_en = (f"the dangerous-goods limits ({DG_LIMIT_KMH['motorway']:.0f} km/h on"
                 f" expressways, {DG_OTHER_KMH:.0f} km/h elsewhere)")  # fmt: skip
    zh = (f"本车 {clock(seen_a.seen_at)} 在{name_a}、{clock(seen_b.seen_at)} 在{name_b}"
          f"被识别，相隔 {minutes(dt)} 分钟；两地最短合法路线 {_km(legal.length_m)} 公里，按"
          f"{limits_zh}至少需 {minutes(legal.time_s)} 分钟，{speed_zh}。同一车辆不可能如此行驶："
          "可能是车牌误识、套牌或时钟错误，而非绕行。")  # fmt: skip
    en = (f"Seen at {name_a} at {clock(seen_a.seen_at)} and at {name_b} at"
          f" {clock(seen_b.seen_at)}, {minutes(dt)} min apart; the shortest legal route is"
          f" {_km(legal.length_m)} km and takes at least {minutes(legal.time_s)} min at"
          f" {limits_en}, {speed_en}. One truck cannot do this: a misread or cloned plate or a"
          " clock fault, not a diversion.")  # fmt: skip
    return _finding(
        "impossible-travel", Severity.MEDIUM, network, plan, zh=zh, en=en,
        facts={
            "from": _checkpoint_facts(a), "to": _checkpoint_facts(b),
            "from_at": iso(seen_a.seen_at), "to_at": iso(seen_b.seen_at), "elapsed_s": dt,
            "legal_m": legal.length_m, "legal_s": legal.time_s, "implied_kmh": kmh,
        },
        observations=[_sighting_ref(seen_a), _sighting_ref(seen_b)],
        start=seen_a.seen_at, end=seen_b.seen_at,
        thresholds=_used(t, "travel_tolerance", "clock_skew_s")
        | {"dg_expressway_kmh": DG_LIMIT_KMH["motorway"], "dg_other_kmh": DG_OTHER_KMH},
        layers={"legal_path": _layer(network, legal.geometry),
                "sightings": _points([a, b])},
    )  # fmt: skip


def unexplained_time(
    network: RoadNetwork,
    plan: Plan,
    first: tuple[SnappedCheckpoint, Sighting],
    second: tuple[SnappedCheckpoint, Sighting],
) -> Finding | None:
    """Two reads further apart in time than the drive explains: dt > t_min x k + allowance."""
    (a, seen_a), (b, seen_b) = first, second
    t = plan.thresholds
    dt = (seen_b.seen_at - seen_a.seen_at).total_seconds()
    legal = _legal_path(network, a, b)
    allowed = legal.time_s * t.slow_factor + t.slow_allowance_s
    if not math.isfinite(legal.time_s) or dt <= allowed:
        return None
    name_a, name_b = a.name or a.checkpoint_id, b.name or b.checkpoint_id
    slack = dt - legal.time_s
    zh = (f"本车 {clock(seen_a.seen_at)} 在{name_a}、{clock(seen_b.seen_at)} 在{name_b}"
          f"被识别，用时 {minutes(dt)} 分钟；两地最短合法路线 {_km(legal.length_m)} 公里，"
          f"约需 {minutes(legal.time_s)} 分钟，允许 {minutes(allowed)} 分钟"
          f"（{t.slow_factor:g} 倍加 {minutes(t.slow_allowance_s)} 分钟）。"
          f"有 {minutes(slack)} 分钟无法由行驶解释。")  # fmt: skip
    en = (f"Seen at {name_a} at {clock(seen_a.seen_at)} and at {name_b} at"
          f" {clock(seen_b.seen_at)}: {minutes(dt)} min for a {_km(legal.length_m)} km legal"
          f" route that takes {minutes(legal.time_s)} min (allowed {minutes(allowed)} min:"
          f" {t.slow_factor:g} x + {minutes(t.slow_allowance_s)} min); {minutes(slack)} min"
          " are not explained by driving.")  # fmt: skip
    return _finding(
        "unexplained-time", Severity.MEDIUM, network, plan, zh=zh, en=en,
        facts={
            "from": _checkpoint_facts(a), "to": _checkpoint_facts(b),
            "from_at": iso(seen_a.seen_at), "to_at": iso(seen_b.seen_at), "elapsed_s": dt,
            "legal_m": legal.length_m, "legal_s": legal.time_s, "allowed_s": allowed,
            "unexplained_s": slack,
        },
        observations=[_sighting_ref(seen_a), _sighting_ref(seen_b)],
        start=seen_a.seen_at, end=seen_b.seen_at,
        thresholds=_used(t, "slow_factor", "slow_allowance_s"),
        layers={"legal_path": _layer(network, legal.geometry), "sightings": _points([a, b])},
    )  # fmt: skip


def missing_checkpoints(
    network: RoadNetwork,
    plan: Plan,
    checkpoints: Mapping[str, SnappedCheckpoint],
    sightings: Sequence[Sighting],
) -> list[Finding]:
    """Expected checkpoints with no read between the reads around them (design 6.4 rule 4).

    Between two reads P, Q at expected checkpoints, each expected checkpoint G in between along
    the route should have a read in [t_P + t(P, G) / (1 + tol) - skew, t_Q - t(G, Q) /
    (1 + tol) + skew]. The chance a passing truck is missed is 1 - capture rate per gate,
    multiplied over the gates missing between P and Q; below 5 % it is an alert.
    """
    order = {checkpoint_id: i for i, checkpoint_id in enumerate(plan.expected)}
    reads = sorted((s for s in sightings if s.checkpoint_id in order),
                   key=lambda s: (s.seen_at, s.checkpoint_id, s.ref))  # fmt: skip
    findings = []
    for p, q in itertools.pairwise(reads):
        gates = plan.expected[order[p.checkpoint_id] + 1 : order[q.checkpoint_id]]
        missing = []
        for gate_id in gates:
            gate = checkpoints[gate_id]
            window = _window(network, plan, (checkpoints[p.checkpoint_id], p), gate,
                             (checkpoints[q.checkpoint_id], q))  # fmt: skip
            if not any(s.checkpoint_id == gate_id and window[0] <= s.seen_at <= window[1]
                       for s in sightings):  # fmt: skip
                missing.append((gate, window))
        if missing:
            findings.append(_missing(network, plan, (checkpoints[p.checkpoint_id], p),
                                     (checkpoints[q.checkpoint_id], q), missing))  # fmt: skip
    return findings


def _window(
    network: RoadNetwork,
    plan: Plan,
    first: tuple[SnappedCheckpoint, Sighting],
    gate: SnappedCheckpoint,
    last: tuple[SnappedCheckpoint, Sighting],
) -> tuple[datetime, datetime]:
    """When a truck seen at ``first`` and ``last`` can have passed ``gate`` in between."""
    t = plan.thresholds
    speedup = 1 + t.travel_tolerance
    before = _legal_path(network, first[0], gate).time_s / speedup
    after = _legal_path(network, gate, last[0]).time_s / speedup
    earliest = first[1].seen_at + timedelta(seconds=(before if math.isfinite(before) else 0.0)
                                            - t.clock_skew_s)  # fmt: skip
    latest = last[1].seen_at - timedelta(seconds=(after if math.isfinite(after) else 0.0)
                                         - t.clock_skew_s)  # fmt: skip
    return earliest, latest


def _missing(
    network: RoadNetwork,
    plan: Plan,
    first: tuple[SnappedCheckpoint, Sighting],
    last: tuple[SnappedCheckpoint, Sighting],
    missing: list[tuple[SnappedCheckpoint, tuple[datetime, datetime]]],
) -> Finding:
    t = plan.thresholds
    (a, seen_a), (b, seen_b) = first, last
    rates = [_capture_rate(start + (end - start) / 2) for _, (start, end) in missing]
    chance = math.prod(1 - rate for rate in rates)
    names_zh = "、".join(f"{g.name or g.checkpoint_id}（{road_zh(g.road)}）" for g, _ in missing)
    names_en = ", ".join(f"{g.name or g.checkpoint_id} ({road_en(g.road)})" for g, _ in missing)
    windows = "，".join(f"{clock(s)}–{clock(e)}" for _, (s, e) in missing)
    windows_en = ", ".join(f"{clock(s)}–{clock(e)}" for _, (s, e) in missing)
    rates_zh = "、".join(f"{percent(r)} %" for r in rates)
    name_a, name_b = a.name or a.checkpoint_id, b.name or b.checkpoint_id
    zh = (f"本车在{name_a}（{clock(seen_a.seen_at)}）与{name_b}（{clock(seen_b.seen_at)}）"
          f"之间应经过的检查点{names_zh}在 {windows} 无识别记录；绕开这些检查点的路线均超出"
          f"合理范围（最快路线用时的 {percent(t.detour_eps)} % "
          f"加 {minutes(t.detour_slack_s)} 分钟）。"
          f"按抓拍率 {rates_zh}，车辆经过却未被识别的概率为 {_chance(chance)}。")  # fmt: skip
    en = (f"No read at {names_en} between {name_a} ({clock(seen_a.seen_at)}) and {name_b}"
          f" ({clock(seen_b.seen_at)}), windows {windows_en}; every route avoiding"
          f" {'it' if len(missing) == 1 else 'them'} is more than {percent(t.detour_eps)} %"
          f" (+{minutes(t.detour_slack_s)} min) slower than the fastest. At capture rates of"
          f" {', '.join(f'{percent(r)} %' for r in rates)} the chance that a passing truck was"
          f" simply not read is {_chance(chance)}.")  # fmt: skip
    return _finding(
        "missing-checkpoint", Severity.HIGH if chance < MISSING_ALERT_P else Severity.LOW,
        network, plan, zh=zh, en=en,
        facts={
            "from": _checkpoint_facts(a), "to": _checkpoint_facts(b),
            "from_at": iso(seen_a.seen_at), "to_at": iso(seen_b.seen_at),
            "missing": [_checkpoint_facts(g) | {"window_start": iso(s), "window_end": iso(e),
                                                "capture_rate": r}
                        for (g, (s, e)), r in zip(missing, rates, strict=True)],
            "miss_probability": chance,
        },
        observations=[_sighting_ref(seen_a), _sighting_ref(seen_b)],
        start=seen_a.seen_at, end=seen_b.seen_at,
        thresholds=_used(t, "detour_eps", "detour_slack_s", "travel_tolerance", "clock_skew_s")
        | {"capture_rate_day": CAPTURE_RATE_DAY, "capture_rate_night": CAPTURE_RATE_NIGHT,
           "missing_alert_p": MISSING_ALERT_P},
        layers={"missing": _points([g for g, _ in missing]), "sightings": _points([a, b])},
    )  # fmt: skip


def _capture_rate(when: datetime) -> float:
    return (
        CAPTURE_RATE_DAY if when.astimezone(CHINA_TIME).hour in _DAY_HOURS else CAPTURE_RATE_NIGHT
    )


# -- GPS rules ---------------------------------------------------------------------------------


def off_route(
    network: RoadNetwork,
    plan: Plan,
    track: Sequence[Fix],
    areas: Sequence[SensitiveArea] = (),
) -> list[Finding]:
    """Episodes of consecutive fixes outside the corridor.

    An episode counts when it has at least ``off_route_min_fixes`` fixes spanning at least
    ``off_route_min_s`` and its farthest fix is at least ``corridor_m`` outside the corridor
    (twice the corridor width from any plausible road): GPS noise along a plausible road does
    not reach that far three fixes in a row.
    """
    t = plan.thresholds
    if len(track) < max(1, t.off_route_min_fixes):
        return []
    xs, ys, _ = _metres(network, track)
    outside = ~shapely.contains_xy(plan.corridor, xs, ys)
    findings = []
    for start, stop in _runs(outside):
        span = (track[stop - 1].at - track[start].at).total_seconds()
        if stop - start < t.off_route_min_fixes or span < t.off_route_min_s:
            continue
        away = shapely.distance(plan.corridor, shapely.points(xs[start:stop], ys[start:stop]))
        if float(away.max()) < t.corridor_m:
            continue
        findings.append(_episode(network, plan, track, (xs, ys), (start, stop), away, areas))
    return findings


def _episode(  # noqa: PLR0913, PLR0917  # one episode's pieces, computed once by the caller
    network: RoadNetwork,
    plan: Plan,
    track: Sequence[Fix],
    coords: tuple[NDArray[np.float64], NDArray[np.float64]],
    span: tuple[int, int],
    away: NDArray[np.float64],
    areas: Sequence[SensitiveArea],
) -> Finding:
    t = plan.thresholds
    xs, ys = coords
    start, stop = span
    first, last = track[start], track[stop - 1]
    duration = (last.at - first.at).total_seconds()
    steps = list(itertools.pairwise(range(start, stop)))
    share = dict.fromkeys(steps, 1.0)  # how much of each fix-to-fix step was outside
    for i in [start - 1] if start > 0 else []:
        share[i, start] = _outside_share(plan, xs, ys, i, start)
    for i in [stop - 1] if stop < len(track) else []:
        share[i, stop] = _outside_share(plan, xs, ys, i, stop)
    chords = sum(math.hypot(xs[j] - xs[i], ys[j] - ys[i]) * part for (i, j), part in share.items())
    length = sum(_road_distance(network, (xs[i], ys[i]), (xs[j], ys[j])) * part
                 for (i, j), part in share.items())  # fmt: skip
    roads = _roads(network, xs[start:stop], ys[start:stop])
    entry, leave = (
        _road_at(network, xs[start], ys[start]),
        _road_at(network, xs[stop - 1], ys[stop - 1]),
    )
    entered = [
        a for a in areas if shapely.contains_xy(a.geometry, xs[start:stop], ys[start:stop]).any()
    ]
    returned = stop < len(track)
    roads_zh = "、".join(road_zh(r) for r in roads)
    zh = (f"偏离申报路线走廊 {minutes(duration)} 分钟（{clock(first.at)}–{clock(last.at)}）："
          f"{clock(first.at)} 经{road_zh(entry)}驶出走廊，"
          + (f"{clock(last.at)} 经{road_zh(leave)}返回；" if returned
             else "轨迹结束时仍在走廊外；")
          + f"走廊外行驶约 {distance_zh(length)}，最远偏离走廊 {distance_zh(float(away.max()))}，"
          f"途经{roads_zh}。"
          + "".join(f"进入{a.kind_zh}「{a.name}」。" for a in entered))  # fmt: skip
    en = (f"Left the declared route's corridor for {minutes(duration)} min"
          f" ({clock(first.at)}–{clock(last.at)}): out by {road_en(entry)} at {clock(first.at)},"
          + (f" back by {road_en(leave)} at {clock(last.at)}; " if returned
             else " still outside when the track ends; ")
          + f"about {distance_en(length)} driven outside, at most {distance_en(float(away.max()))}"
          f" from the corridor, on {', '.join(road_en(r) for r in roads)}."
          + "".join(f" Entered the {a.kind_en} {a.name}." for a in entered))  # fmt: skip
    fixes = shapely.points(xs[start:stop], ys[start:stop])
    path = LineString(fixes) if stop - start > 1 else fixes[0]
    return _finding(
        "off-route", Severity.HIGH if entered else Severity.MEDIUM, network, plan, zh=zh, en=en,
        facts={
            "exit_at": iso(first.at), "exit_place": _place_facts(first, entry),
            "return_at": iso(last.at) if returned else None,
            "return_place": _place_facts(last, leave) if returned else None,
            "duration_s": duration, "outside_m": length, "outside_chords_m": chords,
            "max_from_corridor_m": float(away.max()),
            "fixes": stop - start, "roads": roads, "areas": [a.name for a in entered],
        },
        observations=[_fix_ref(f) for f in track[start:stop]], start=first.at, end=last.at,
        thresholds=_used(t, "corridor_m", "off_route_min_fixes", "off_route_min_s",
                         "detour_eps", "detour_slack_s") | {"glitch_kmh": GLITCH_KMH},
        layers={"corridor": _layer(network, plan.corridor), "episode": _layer(network, path)}
        | _area_layers(network, entered),
    )  # fmt: skip


def stay_points(
    xs: Sequence[float], ys: Sequence[float], seconds: Sequence[float], radius: float, min_s: float
) -> list[tuple[int, int]]:
    """Stay points (Ye et al. 2009): index ranges [i, j) of fixes that stay within ``radius``.

    Ye et al. measure from the first fix of a stay; here the distance is from the running
    centroid, so one noisy first fix cannot cut a long stop in two.
    """
    found = []
    i, n = 0, len(xs)
    while i < n:
        sum_x, sum_y, j = xs[i], ys[i], i + 1
        while j < n and math.hypot(xs[j] - sum_x / (j - i), ys[j] - sum_y / (j - i)) <= radius:
            sum_x, sum_y, j = sum_x + xs[j], sum_y + ys[j], j + 1
        if seconds[j - 1] - seconds[i] >= min_s:
            found.append((i, j))
            i = j
        else:
            i += 1
    return found


def dwells(
    network: RoadNetwork,
    plan: Plan,
    track: Sequence[Fix],
    areas: Sequence[SensitiveArea] = (),
) -> list[Finding]:
    """Long stops away from the origin, the destination and the authorised stops."""
    t = plan.thresholds
    if not track:
        return []
    xs, ys, seconds = _metres(network, track)
    allowed = [network.project(p.lon, p.lat) for p in
               (plan.trip.origin, plan.trip.destination, *plan.trip.authorised_stops)]  # fmt: skip
    findings = []
    for start, stop in stay_points(xs.tolist(), ys.tolist(), seconds.tolist(),
                                   t.dwell_radius_m, t.dwell_min_s):  # fmt: skip
        x, y = float(xs[start:stop].mean()), float(ys[start:stop].mean())
        if any(math.dist((x, y), place) <= AUTHORISED_RADIUS_M for place in allowed):
            continue
        findings.append(_dwell(network, plan, track[start:stop], (x, y), areas))
    return findings


def _dwell(
    network: RoadNetwork,
    plan: Plan,
    fixes: Sequence[Fix],
    at: tuple[float, float],
    areas: Sequence[SensitiveArea],
) -> Finding:
    t = plan.thresholds
    x, y = at
    lon, lat = network.to_wgs84(x, y)
    first, last = fixes[0], fixes[-1]
    duration = (last.at - first.at).total_seconds()
    road_m, u, v = network.nearest_edge(x, y)
    road = road_name(network.edge(u, v))
    water = network.nearest_water(x, y, t.near_water_m)
    inside = [a for a in areas if shapely.contains_xy(a.geometry, x, y)]
    in_corridor = bool(shapely.contains_xy(plan.corridor, x, y))
    from_corridor = 0.0 if in_corridor else float(plan.corridor.distance(Point(x, y)))
    off_road = road_m > t.off_road_m
    parts_zh = [f"停车 {minutes(duration)} 分钟（{clock(first.at)}–{clock(last.at)}）"]
    parts_en = [f"Stopped {minutes(duration)} min ({clock(first.at)}–{clock(last.at)})"]
    layers: dict[str, Any] = {"stop": point(lon, lat)}
    if water is not None:
        water_m, feature = water
        kind_zh, kind_en = _WATER.get(feature.kind, (feature.kind, feature.kind))
        parts_zh.append(f"距{feature.name or kind_zh} {distance_zh(water_m)}")
        what = f"the {feature.name} ({kind_en})" if feature.name else f"a {kind_en}"
        parts_en.append(f"{distance_en(water_m)} from {what}")
        layers["water"] = _layer(network, nearest_points(feature.geometry, Point(x, y))[0])
    parts_zh.append(f"距最近道路 {distance_zh(road_m)}" + ("（道路外）" if off_road else ""))
    parts_en.append(
        f"{distance_en(road_m)} from the nearest road" + (" (off-road)" if off_road else "")
    )
    if in_corridor:
        parts_zh.append("位于申报路线走廊内")
        parts_en.append("inside the declared route's corridor")
    else:
        parts_zh.append(f"位于申报路线走廊外 {distance_zh(from_corridor)}")
        parts_en.append(f"{distance_en(from_corridor)} outside the declared route's corridor")
        layers["corridor"] = _layer(network, plan.corridor)
    parts_zh += [f"位于{a.kind_zh}「{a.name}」内" for a in inside]
    parts_en += [f"inside the {a.kind_en} {a.name}" for a in inside]
    near_water = water is not None
    if inside or (near_water and (off_road or not in_corridor)):
        severity = Severity.HIGH
    elif near_water or off_road or not in_corridor:
        severity = Severity.MEDIUM
    else:
        severity = Severity.LOW
    return _finding(
        "dwell", severity, network, plan,
        zh="，".join(parts_zh) + "。", en=", ".join(parts_en) + ".",
        facts={
            "place": {"lon": lon, "lat": lat}, "start_at": iso(first.at), "end_at": iso(last.at),
            "duration_s": duration, "fixes": len(fixes), "road": road, "road_m": road_m,
            "off_road": off_road,
            "water": None if water is None else {"name": water[1].name, "kind": water[1].kind,
                                                 "distance_m": water[0]},
            "in_corridor": in_corridor, "from_corridor_m": from_corridor,
            "areas": [{"name": a.name, "kind": a.kind} for a in inside],
        },
        observations=[_fix_ref(f) for f in fixes], start=first.at, end=last.at,
        thresholds=_used(t, "dwell_radius_m", "dwell_min_s", "near_water_m", "off_road_m",
                         "corridor_m") | {"authorised_radius_m": AUTHORISED_RADIUS_M,
                                          "glitch_kmh": GLITCH_KMH},
        layers=layers | _area_layers(network, inside),
    )  # fmt: skip


_WATER = {
    "river": ("河流", "river"), "stream": ("溪流", "stream"), "canal": ("运河", "canal"),
    "water": ("水体", "water body"), "reservoir": ("水库", "reservoir"),
    "coastline": ("海岸线", "coastline"),
}  # fmt: skip


def gps_gaps(network: RoadNetwork, plan: Plan, track: Sequence[Fix]) -> list[Finding]:
    """Consecutive fixes more than ``gps_gap_factor`` reporting intervals apart."""
    t = plan.thresholds
    limit = t.gps_gap_factor * t.gps_interval_s
    if len(track) < 2:
        return []
    xs, ys, _ = _metres(network, track)
    findings = []
    for i, (a, b) in enumerate(itertools.pairwise(track)):
        silent = (b.at - a.at).total_seconds()
        if silent <= limit:
            continue
        apart = math.hypot(xs[i + 1] - xs[i], ys[i + 1] - ys[i])
        road_a, road_b = _road_at(network, xs[i], ys[i]), _road_at(network, xs[i + 1], ys[i + 1])
        back_outside = not shapely.contains_xy(plan.corridor, xs[i + 1], ys[i + 1])
        zh = (f"GPS 终端静默 {minutes(silent)} 分钟（{clock(a.at)}–{clock(b.at)}），"
              f"超过上报间隔 {t.gps_interval_s:g} 秒的 {t.gps_gap_factor:g} 倍："
              f"最后定位在{road_zh(road_a)}附近，"
              f"重新出现在{road_zh(road_b)}附近，两点直线距离 {distance_zh(apart)}"
              + ("，重新出现时位于申报路线走廊外" if back_outside else "") + "。")  # fmt: skip
        en = (f"The GPS terminal was silent for {minutes(silent)} min"
              f" ({clock(a.at)}–{clock(b.at)}), more than {t.gps_gap_factor:g} x its"
              f" {t.gps_interval_s:g} s interval: last fix near"
              f" {road_en(road_a)}, next near {road_en(road_b)}, {distance_en(apart)} apart in a"
              " straight line" + (", outside the declared route's corridor" if back_outside else "")
              + ".")  # fmt: skip
        gap = LineString([(xs[i], ys[i]), (xs[i + 1], ys[i + 1])])
        findings.append(_finding(
            "gps-gap", Severity.MEDIUM, network, plan, zh=zh, en=en,
            facts={
                "silent_s": silent, "last_at": iso(a.at), "last_place": _place_facts(a, road_a),
                "next_at": iso(b.at), "next_place": _place_facts(b, road_b),
                "apart_m": apart, "next_in_corridor": not back_outside,
            },
            observations=[_fix_ref(a), _fix_ref(b)], start=a.at, end=b.at,
            thresholds=_used(t, "gps_interval_s", "gps_gap_factor") | {"glitch_kmh": GLITCH_KMH},
            layers={"gap": _layer(network, gap)},
        ))  # fmt: skip
    return findings


# -- shared pieces -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Path:
    time_s: float
    length_m: float
    geometry: LineString


def _legal_path(network: RoadNetwork, a: SnappedCheckpoint, b: SnappedCheckpoint) -> _Path:
    """The fastest legal drive from checkpoint ``a`` to checkpoint ``b`` (either way they watch)."""
    graph = network.graph
    best = _Path(math.inf, math.inf, LineString())
    for (ua, va, oa), (ub, vb, ob) in itertools.product(coverage(network, a), coverage(network, b)):
        edge_a, edge_b = graph.edges[ua, va], graph.edges[ub, vb]
        if (ua, va) == (ub, vb) and ob >= oa:
            time = edge_a["time_s"] * (ob - oa) / max(edge_a["length_m"], 1e-9)
            if time < best.time_s:
                best = _Path(time, ob - oa, substring(edge_a["geometry"], oa, ob))
            continue
        try:
            middle, nodes = nx.bidirectional_dijkstra(graph, va, ub, weight="time_s")
        except nx.NetworkXNoPath:
            continue
        head = edge_a["time_s"] * (1 - oa / max(edge_a["length_m"], 1e-9))
        tail = edge_b["time_s"] * ob / max(edge_b["length_m"], 1e-9)
        time = head + middle + tail
        if time < best.time_s:
            pieces = [
                substring(edge_a["geometry"], oa, edge_a["length_m"]),
                path_geometry(network, nodes),
                substring(edge_b["geometry"], 0, ob),
            ]
            length = edge_a["length_m"] - oa + _length(network, nodes) + ob
            best = _Path(time, length, _join(pieces))
    return best


def _outside_share(
    plan: Plan, xs: NDArray[np.float64], ys: NDArray[np.float64], i: int, j: int
) -> float:
    """The part of the straight step from fix i to fix j that lies outside the corridor."""
    step = LineString([(xs[i], ys[i]), (xs[j], ys[j])])
    return float(step.difference(plan.corridor).length / step.length) if step.length else 0.0


def _road_distance(network: RoadNetwork, a: tuple[float, float], b: tuple[float, float]) -> float:
    """How far a truck drove between two fixes: along the roads nearest to them.

    The shortest road distance between the fixes' nearest edges (either way along two-way
    roads). Where that is more than three times the straight line plus 100 m, the nearest edges
    are not the roads driven (a junction, a bridge over another road, noise), and the straight
    line, a lower bound, is used instead.
    """
    chord = math.dist(a, b)
    ends = []
    for x, y in (a, b):
        _, u, v = network.nearest_edge(x, y)
        offset = float(network.edge(u, v)["geometry"].project(Point(x, y)))
        ends.append(_with_twin(network, u, v, offset))
    best = math.inf
    for (ua, va, oa), (ub, vb, ob) in itertools.product(*ends):
        if (ua, va) == (ub, vb) and ob >= oa:
            best = min(best, ob - oa)
            continue
        try:
            middle = nx.bidirectional_dijkstra(network.graph, va, ub, weight="length_m")[0]
        except nx.NetworkXNoPath:
            continue
        best = min(best, network.edge(ua, va)["length_m"] - oa + middle + ob)
    return best if best <= 3 * chord + 100 else chord


def _with_twin(network: RoadNetwork, u: int, v: int, offset: float) -> list[tuple[int, int, float]]:
    edges = [(u, v, offset)]
    if network.graph.has_edge(v, u) and network.edge(v, u)["way"] == network.edge(u, v)["way"]:
        edges.append((v, u, max(0.0, network.edge(u, v)["length_m"] - offset)))
    return edges


def _join(pieces: Sequence[Any]) -> LineString:
    coords: list[tuple[float, float]] = []
    for piece in pieces:
        for c in shapely.get_coordinates(piece).tolist():
            if not coords or tuple(c) != coords[-1]:
                coords.append((c[0], c[1]))
    return LineString(coords if len(coords) > 1 else coords * 2)


def _length(network: RoadNetwork, nodes: Sequence[int]) -> float:
    return float(sum(network.edge(u, v)["length_m"] for u, v in itertools.pairwise(nodes)))


def _finding(  # noqa: PLR0913  # a finding has that many parts
    rule: str,
    severity: Severity,
    network: RoadNetwork,
    plan: Plan,
    *,
    zh: str,
    en: str,
    facts: dict[str, Any],
    observations: Sequence[str],
    start: datetime,
    end: datetime,
    thresholds: dict[str, float],
    layers: dict[str, Any],
) -> Finding:
    return Finding(
        rule=rule, severity=severity, trip_id=plan.trip.trip_id, summary_zh=zh, summary=en,
        facts={"rule_version": RULE_VERSION, "crs": network.crs} | facts,
        observations=tuple(observations), start=start, end=end, network=network.identity,
        thresholds=thresholds,
        layers={"route": _layer(network, path_geometry(network, plan.fastest))} | layers,
    )  # fmt: skip


def _used(thresholds: Thresholds, *names: str) -> dict[str, float]:
    values = asdict(thresholds)
    return {name: float(values[name]) for name in names}


def _layer(network: RoadNetwork, geometry: Any) -> dict[str, Any]:  # noqa: ANN401  # shapely
    return geojson(shapely.simplify(geometry, _LAYER_SIMPLIFY_M), network.crs)


def _area_layers(network: RoadNetwork, areas: Sequence[SensitiveArea]) -> dict[str, Any]:
    if not areas:
        return {}
    return {"area": _layer(network, shapely.union_all([a.geometry for a in areas]))}


def _points(checkpoints: Sequence[SnappedCheckpoint]) -> dict[str, Any]:
    if len(checkpoints) == 1:
        return point(checkpoints[0].lon, checkpoints[0].lat)
    coords = [point(c.lon, c.lat)["coordinates"] for c in checkpoints]
    return {"type": "MultiPoint", "coordinates": coords}


def _roads(network: RoadNetwork, xs: NDArray[np.float64], ys: NDArray[np.float64]) -> list[str]:
    """Names of the roads nearest to the fixes, in the order driven, the first few."""
    names: list[str] = []
    for x, y in zip(xs.tolist(), ys.tolist(), strict=True):
        name = _road_at(network, x, y)
        if name not in names:
            names.append(name)
    named = [n for n in names if n]
    return (named or names)[:_ROADS_LISTED]


def _road_at(network: RoadNetwork, x: float, y: float) -> str:
    _, u, v = network.nearest_edge(float(x), float(y))
    return road_name(network.edge(u, v))


def _runs(mask: NDArray[np.bool_]) -> Iterator[tuple[int, int]]:
    """Index ranges [start, stop) where ``mask`` is true."""
    start = None
    for i, value in enumerate(mask.tolist()):
        if value and start is None:
            start = i
        elif not value and start is not None:
            yield start, i
            start = None
    if start is not None:
        yield start, len(mask)


def _checkpoint_facts(checkpoint: SnappedCheckpoint) -> dict[str, Any]:
    return {
        "id": checkpoint.checkpoint_id, "name": checkpoint.name, "kind": checkpoint.kind,
        "road": checkpoint.road, "lon": checkpoint.lon, "lat": checkpoint.lat,
        "edge": [checkpoint.u, checkpoint.v], "snap_m": checkpoint.snap_m,
    }  # fmt: skip


def _place_facts(fix: Fix, road: str) -> dict[str, Any]:
    return {"lon": fix.lon, "lat": fix.lat, "road": road}


def _sighting_ref(sighting: Sighting) -> str:
    return sighting.ref or f"{sighting.checkpoint_id}@{iso(sighting.seen_at)}"


def _fix_ref(fix: Fix) -> str:
    return f"fix@{iso(fix.at)}"


def _some(finding: Finding | None) -> list[Finding]:
    return [] if finding is None else [finding]


def _km(metres: float) -> str:
    return f"{metres / 1000:.1f}"


def _chance(p: float) -> str:
    value = p * 100
    return f"{value:.0f} %" if value >= 9.95 else f"{value:.1f} %"


def _place_zh(name: str, fallback: str) -> str:
    return name or fallback

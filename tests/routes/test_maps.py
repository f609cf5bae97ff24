"""The trip map: a standalone SVG that shows each layer it is given, the same bytes every time."""

from __future__ import annotations

import dataclasses
import math
import re
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest
import shapely
from shapely.geometry import LineString, Point, mapping

from routes.areas import SensitiveArea
from routes.checkpoints import snap
from routes.checks import check_trip
from routes.corridor import plan_trip
from routes.maps import report_map, trip_map
from routes.model import DeclaredTrip, Finding, Fix, Severity, Sighting
from routes.synthetic import drive
from tests.routes.example_trip import DESTINATION, ORIGIN, ROOT, START, build

if TYPE_CHECKING:
    from collections.abc import Iterator

    from routes.corridor import Plan
    from routes.network import RoadNetwork

SVG = "{http://www.w3.org/2000/svg}"
TRIP = DeclaredTrip(
    "DEMO-1",
    "川A12345",
    ORIGIN,
    DESTINATION,
    depart_after=START,
    arrive_before=START + timedelta(minutes=90),
)
NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg.encode())  # noqa: S314  # our own output, not untrusted XML


def group(root: ET.Element, group_id: str) -> ET.Element | None:
    return root.find(f".//{SVG}g[@id='{group_id}']")


def texts(element: ET.Element | None) -> str:
    return "" if element is None else " ".join(element.itertext())


def wgs84(network: RoadNetwork, geometry: Any) -> dict[str, Any]:
    """A geometry in the network's metres as a GeoJSON geometry in WGS-84, as findings hold it."""
    degrees = shapely.transform(geometry, lambda xy: [network.to_wgs84(x, y) for x, y in xy])
    return mapping(degrees)


def node_point(network: RoadNetwork, node: int) -> Point:
    return Point(network.graph.nodes[node]["x"], network.graph.nodes[node]["y"])


@pytest.fixture(scope="module")
def plan(monaco: RoadNetwork) -> Plan:
    return plan_trip(monaco, TRIP)


@pytest.fixture(scope="module")
def track(monaco: RoadNetwork, plan: Plan) -> list[Fix]:
    fixes = drive(monaco, plan.fastest, START, sigma_m=3.0, seed=1)
    return fixes[:5] + fixes[16:]  # six minutes of silence: more than 10 reporting intervals


def finding(rule: str, severity: Severity = Severity.HIGH, **fields: Any) -> Finding:
    text = {"summary_zh": f"{rule} 的中文说明", "summary": f"{rule} in English"}
    return Finding(rule=rule, severity=severity, trip_id=TRIP.trip_id, **(text | fields))


@pytest.fixture(scope="module")
def findings(monaco: RoadNetwork, plan: Plan) -> list[Finding]:
    """One finding per kind of layer, built by hand near the planned route."""
    middle = node_point(monaco, plan.fastest[len(plan.fastest) // 2])
    detour = LineString([(middle.x, middle.y), (middle.x - 600, middle.y + 300)])
    via = LineString(
        [(middle.x, middle.y), (middle.x - 300, middle.y - 500), (middle.x - 600, middle.y + 300)]
    )
    stop = Point(middle.x - 600, middle.y + 300)
    gap = LineString([(middle.x, middle.y - 200), (middle.x + 300, middle.y - 400)])
    return [
        finding("off-route", layers={"episode": wgs84(monaco, detour)}),
        finding(
            "dwell",
            start=START + timedelta(minutes=10),
            end=START + timedelta(minutes=51),
            layers={"stop": wgs84(monaco, stop)},
        ),
        finding("gps-gap", Severity.MEDIUM, layers={"gap": wgs84(monaco, gap)}),
        finding("off-route-sighting", layers={"via_route": wgs84(monaco, via)}),
    ]


@pytest.fixture(scope="module")
def checkpoints(monaco: RoadNetwork, plan: Plan) -> list[Any]:
    """Three checkpoints on the fastest route and one far off it, on the Route de Laghet."""
    out = []
    for i, index in enumerate((2, len(plan.fastest) // 3, 2 * len(plan.fastest) // 3)):
        a, b = plan.fastest[index], plan.fastest[index + 1]
        middle = monaco.edge(a, b)["geometry"].interpolate(0.5, normalized=True)
        out.append(
            snap(monaco, f"CP-{i}", f"卡口 {i}", "anpr_gate", *monaco.to_wgs84(middle.x, middle.y))
        )
    out.append(snap(monaco, "CP-9", "Route de Laghet", "anpr_gate", 7.382873, 43.750232))
    return out


@pytest.fixture(scope="module")
def areas(monaco: RoadNetwork, plan: Plan) -> list[SensitiveArea]:
    centre = node_point(monaco, plan.fastest[len(plan.fastest) // 2])
    return [SensitiveArea("水源保护区 <测试> & Co", "drinking_water_source", centre.buffer(300))]


@pytest.fixture(scope="module")
def full_map(monaco, plan, track, findings, checkpoints, areas) -> str:
    sightings = [
        Sighting("CP-0", START + timedelta(minutes=1)),
        Sighting("CP-9", START + timedelta(minutes=20)),
    ]
    return trip_map(
        monaco,
        TRIP,
        plan=plan,
        findings=findings,
        track=track,
        checkpoints=checkpoints,
        sightings=sightings,
        areas=areas,
    )


# -- a standalone document ----------------------------------------------------------------------


def test_the_map_is_svg_that_parses_and_fetches_nothing(full_map: str) -> None:
    root = parse(full_map)
    assert root.tag == f"{SVG}svg"
    assert root.find(f"{SVG}title") is not None
    without_namespace = full_map.replace('xmlns="http://www.w3.org/2000/svg"', "")
    for outside in ("http:", "https:", "href", "@import", "<image", "@font-face"):
        assert outside not in without_namespace
    assert set(re.findall(r"url\(([^)]*)\)", full_map)) == {"#map-clip"}  # only its own clip


@pytest.mark.parametrize(
    "layer",
    [
        "title",
        "roads",
        "water",
        "areas",
        "corridor",
        "route",
        "via-routes",
        "deviations",
        "track",
        "gaps",
        "stops",
        "checkpoints",
        "places",
        "badges",
        "road-names",
        "scale-bar",
        "north-arrow",
        "legend",
        "findings",
    ],
)
def test_each_layer_given_is_drawn(full_map: str, layer: str) -> None:
    drawn = group(parse(full_map), layer)
    assert drawn is not None
    assert len(drawn) > 0


def test_layers_not_given_are_neither_drawn_nor_in_the_legend(monaco: RoadNetwork) -> None:
    root = parse(trip_map(monaco, TRIP))
    for layer in (
        "areas",
        "corridor",
        "route",
        "deviations",
        "track",
        "gaps",
        "stops",
        "checkpoints",
        "badges",
    ):
        assert group(root, layer) is None, layer
    legend = texts(group(root, "legend"))
    assert "起点 Origin" in legend
    assert "走廊" not in legend
    assert "GPS" not in legend
    assert "未发现问题 · No findings" in texts(group(root, "findings"))


def test_the_legend_explains_each_layer_in_chinese_then_english(full_map: str) -> None:
    legend = texts(group(parse(full_map), "legend"))
    for entry in (
        "图例 Legend",
        "高速公路 Motorway",
        "水体 Water",
        "敏感区域 Sensitive area",
        "合理路线走廊 Plausible corridor",
        "计划最快路线 Planned fastest route",
        "偏离路线 Off-route deviation",
        "GPS 轨迹",
        "GPS 信号中断 GPS gap",
        "停车，圆越大停得越久 Stop",
        "卡口：已识别",
        "卡口：在路线外识别",
        "起点 Origin",
        "终点 Destination",
    ):
        assert entry in legend


def test_the_title_names_trip_vehicle_and_network(monaco: RoadNetwork, full_map: str) -> None:
    title = texts(group(parse(full_map), "title"))
    assert "联单 Trip DEMO-1" in title
    assert "车辆 Vehicle 川A12345" in title
    assert monaco.identity[:12] in title
    assert "申报时段 Declared 09:00–10:30" in title  # China Standard Time, as the findings write


def test_the_same_inputs_give_the_same_bytes(
    monaco, plan, track, findings, checkpoints, areas, full_map
) -> None:
    sightings = [
        Sighting("CP-0", START + timedelta(minutes=1)),
        Sighting("CP-9", START + timedelta(minutes=20)),
    ]
    again = trip_map(
        monaco,
        TRIP,
        plan=plan,
        findings=list(findings),
        track=track[::-1],
        checkpoints=checkpoints[::-1],
        sightings=sightings[::-1],
        areas=areas,
    )
    assert again == full_map


def test_every_number_in_the_drawing_has_one_decimal(full_map: str) -> None:
    root = parse(full_map)
    for element in root.iter():
        for name in ("x", "y", "cx", "cy", "r", "width", "height"):
            if name in element.attrib:
                assert re.fullmatch(r"-?\d+\.\d", element.attrib[name]), (element.tag, name)
        if "d" in element.attrib:
            assert all(re.fullmatch(r"-?\d+\.\d", n) for n in NUMBER.findall(element.attrib["d"]))


def test_everything_drawn_lies_inside_the_view_box(full_map: str) -> None:
    root = parse(full_map)
    _, _, width, height = (float(v) for v in root.attrib["viewBox"].split())
    frame = root.find(f"{SVG}clipPath/{SVG}rect")
    assert frame is not None
    left, top = float(frame.attrib["x"]), float(frame.attrib["y"])
    right, bottom = left + float(frame.attrib["width"]), top + float(frame.attrib["height"])
    assert 0 < left < right < width
    assert 0 < top < bottom < height
    map_group = root.find(f".//{SVG}g[@id='map']")
    assert map_group is not None
    for path in map_group.iter(f"{SVG}path"):
        numbers = [float(n) for n in NUMBER.findall(path.attrib["d"].replace("h0.1", ""))]
        xs, ys = numbers[0::2], numbers[1::2]
        assert all(left - 0.1 <= x <= right + 0.1 for x in xs)  # clipped to the map
        assert all(top - 0.1 <= y <= bottom + 0.1 for y in ys)
    for element in untransformed(root):
        for name, limit in (("x", width), ("cx", width), ("y", height), ("cy", height)):
            if name in element.attrib:
                assert 0 <= float(element.attrib[name]) <= limit, (element.tag, name)


def untransformed(element: ET.Element) -> Iterator[ET.Element]:
    """Elements drawn in the document's own coordinates (the legend's symbols are moved)."""
    if "transform" in element.attrib:
        return
    yield element
    for child in element:
        yield from untransformed(child)


def test_text_from_the_inputs_is_escaped(monaco: RoadNetwork, areas: list[SensitiveArea]) -> None:
    hostile = DeclaredTrip('<script>alert("x")</script> & \x07', "川A12345]]>", ORIGIN, DESTINATION)
    svg = trip_map(
        monaco, hostile, areas=areas, findings=[finding("rule <b>", summary_zh="<i>中</i>")]
    )
    assert "<script>" not in svg
    assert "<b>" not in svg
    assert "\x07" not in svg
    root = parse(svg)
    assert '<script>alert("x")</script> &' in texts(group(root, "title"))
    assert "水源保护区 <测试> & Co" in texts(group(root, "areas"))
    assert "<i>中</i>" in texts(group(root, "findings"))


# -- what each layer says -------------------------------------------------------------------------


def checkpoint_marks(svg: str) -> dict[str, str]:
    """Each checkpoint's label text and the fill of its square, read back from the map."""
    drawn = group(parse(svg), "checkpoints")
    assert drawn is not None
    squares = [e for e in drawn if e.tag == f"{SVG}rect"]
    labels = [e for e in drawn if e.tag == f"{SVG}text"]
    return {"".join(t.itertext()): s.attrib["fill"] for s, t in zip(squares, labels, strict=True)}


def test_checkpoints_show_what_happened_there(monaco, checkpoints) -> None:
    missed = dataclasses.replace(plan_trip(monaco, TRIP, checkpoints), expected=["CP-2"])
    sightings = [
        Sighting("CP-0", START + timedelta(minutes=1)),
        Sighting("CP-9", START + timedelta(minutes=20)),
    ]
    marks = checkpoint_marks(
        trip_map(monaco, TRIP, plan=missed, checkpoints=checkpoints, sightings=sightings)
    )
    assert marks == {
        "CP-0 卡口 0 09:01": "#08306b",  # seen: filled, with the time
        "CP-1 卡口 1": "#fff",  # neither expected nor seen: hollow
        "CP-2 卡口 2 未识别 not seen": "#fff",  # expected, missed: hollow ...
        "CP-9 Route de Laghet 09:20": "#d7191c",  # seen where no plausible route goes: red
    }
    svg = trip_map(monaco, TRIP, plan=missed, checkpoints=checkpoints, sightings=sightings)
    cross = [p for p in group(parse(svg), "checkpoints") or [] if p.tag == f"{SVG}path"]
    assert len(cross) == 1  # ... with a cross


def test_a_stop_circle_grows_with_the_stop_and_gives_its_minutes(monaco, plan) -> None:
    centre = node_point(monaco, plan.fastest[10])
    stops = [
        finding(
            "dwell",
            start=START,
            end=START + timedelta(minutes=minutes),
            layers={"stop": wgs84(monaco, Point(centre.x + dx, centre.y))},
        )
        for minutes, dx in ((20, 0), (80, 400))
    ]
    drawn = group(parse(trip_map(monaco, TRIP, findings=stops)), "stops")
    assert drawn is not None
    small, large = (float(c.attrib["r"]) for c in drawn.iter(f"{SVG}circle"))
    assert large > 1.5 * small
    assert "停车 20 分钟 · stopped 20 min" in texts(drawn)
    assert "停车 80 分钟 · stopped 80 min" in texts(drawn)


def test_silence_in_the_track_is_drawn_dashed(monaco, plan, track) -> None:
    root = parse(trip_map(monaco, TRIP, plan=plan, track=track))
    gaps = group(root, "gaps")
    assert gaps is not None
    assert gaps[0].attrib["class"] == "tg"
    dots = [c for c in (group(root, "track") or []) if c.tag == f"{SVG}circle"]
    assert len(dots) == len(track)  # a dot per fix
    full = drive(monaco, plan.fastest, START, sigma_m=3.0, seed=1)
    assert group(parse(trip_map(monaco, TRIP, plan=plan, track=full)), "gaps") is None


def test_findings_are_listed_and_numbered_on_the_map(full_map: str, findings) -> None:
    root = parse(full_map)
    listed = texts(group(root, "findings"))
    assert f"发现 Findings ({len(findings)})" in listed
    for f in findings:
        assert f.summary_zh in listed
        assert f.summary in listed
        assert listed.index(f.summary_zh) < listed.index(f.summary)  # Chinese first
    numbers = [t for t in texts(group(root, "badges")).split() if t.isdigit()]
    assert sorted(numbers) == [str(i) for i in range(1, len(findings) + 1)]


def test_the_scale_bar_agrees_with_the_map(monaco: RoadNetwork, plan: Plan) -> None:
    root = parse(trip_map(monaco, TRIP, plan=plan))
    bar = group(root, "scale-bar")
    assert bar is not None
    halves = [float(r.attrib["width"]) for r in bar.iter(f"{SVG}rect")][1:]
    label = [t for t in texts(bar).split("0", 1)[1].split() if t]
    metres = float(label[0]) * (1000 if label[1] == "km" else 1)
    pins = [c for c in (group(root, "places") or []) if c.tag == f"{SVG}circle"]
    (ax, ay), (bx, by) = ((float(p.attrib["cx"]), float(p.attrib["cy"])) for p in pins)
    between = math.dist(
        monaco.project(ORIGIN.lon, ORIGIN.lat), monaco.project(DESTINATION.lon, DESTINATION.lat)
    )
    assert sum(halves) / metres == pytest.approx(math.dist((ax, ay), (bx, by)) / between, rel=0.01)


def test_the_north_arrow_turns_to_true_north(full_map: str) -> None:
    arrow = group(parse(full_map), "north-arrow")
    assert arrow is not None
    turned = next(e for e in arrow.iter() if e.attrib.get("transform", "").startswith("rotate"))
    angle = float(NUMBER.findall(turned.attrib["transform"])[0])
    # Meridians converge on the pole: 1.6 degrees west of UTM zone 32's central meridian (9 E),
    # true north leans about 1.1 degrees east of the grid's up at Monaco's latitude.
    assert 0.8 < angle < 1.4


@pytest.mark.parametrize("width", [299, 10001])
def test_an_unreasonable_width_is_refused(monaco: RoadNetwork, width: int) -> None:
    with pytest.raises(ValueError, match="width_px"):
        trip_map(monaco, TRIP, width_px=width)


def test_a_wider_map_is_the_same_map_larger(monaco: RoadNetwork, plan: Plan) -> None:
    small = parse(trip_map(monaco, TRIP, plan=plan, width_px=800)).attrib
    large = parse(trip_map(monaco, TRIP, plan=plan, width_px=1600)).attrib
    assert float(large["width"]) == 2 * float(small["width"])
    assert float(large["height"]) == pytest.approx(2 * float(small["height"]), abs=0.2)


def test_a_checked_trip_is_drawn_from_its_report(monaco: RoadNetwork) -> None:
    """The example's detour: off the corridor to the Laghet river, 40 minutes there."""
    files = build(monaco)
    fixes = [
        Fix(datetime.fromisoformat(row[0]), float(row[1]), float(row[2]))
        for row in (line.split(",") for line in files["track.csv"].splitlines()[1:])
    ]
    report = check_trip(monaco, TRIP, fixes=fixes)
    root = parse(report_map(monaco, report))
    assert group(root, "deviations") is not None
    assert "停车 40 分钟" in texts(group(root, "stops"))
    assert "Le Laghet" in texts(group(root, "findings"))


def test_the_example_map_in_the_docs_shows_the_example_trip() -> None:
    root = parse((ROOT / "docs" / "img" / "route-example.svg").read_text(encoding="utf-8"))
    assert "DEMO-2025-0314-01" in texts(group(root, "title"))
    for layer in ("areas", "corridor", "route", "deviations", "track", "stops", "checkpoints"):
        assert group(root, layer) is not None, f"{layer}: render docs/img/route-example.svg anew"


def test_a_checkpoint_an_off_route_finding_names_is_red_without_a_plan(monaco, checkpoints) -> None:
    seen = START + timedelta(minutes=5)
    named = finding("off-route-sighting", facts={"checkpoint": {"id": "CP-1", "road": "x"}})
    svg = trip_map(
        monaco,
        TRIP,
        findings=[named],
        checkpoints=checkpoints,
        sightings=[Sighting("CP-0", seen), Sighting("CP-1", seen)],
    )
    marks = checkpoint_marks(svg)
    assert marks["CP-0 卡口 0 09:05"] == "#08306b"
    assert marks["CP-1 卡口 1 09:05"] == "#d7191c"

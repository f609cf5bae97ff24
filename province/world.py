"""The demo province's cast: generators, carriers and their trucks, disposers, checkpoints.

Everything sits on the real road network (the OpenStreetMap extract in ``routes/data``): each
site is a junction of the largest strongly connected part of the graph, so every trip between
two sites can be driven; checkpoints watch the busiest roads. The names and credit codes are
made up but valid (GB 32100 and GB 11714 check characters), and plates are Sichuan plates.
A seed fixes everything.
"""

from __future__ import annotations

import itertools
import math
import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

import networkx as nx

from custody.credit_code import credit_check_char, org_code_check_char
from custody.parties import (
    Checkpoint,
    CheckpointKind,
    DisposalMethod,
    OperatingLicence,
    Party,
    PartyRole,
    TransportPermit,
    Vehicle,
    WGS84Point,
)
from routes.checkpoints import SnappedCheckpoint, snap

if TYPE_CHECKING:
    from routes.network import RoadNetwork

__all__ = ["Site", "Truck", "World", "build_world", "make_credit_code"]

#: Waste codes of the 2021 list the demo's generators produce, by category.
WASTES = {
    "HW49": ("900-041-49", "900-046-49"),  # contaminated packaging, ion-exchange resin
    "HW08": ("900-249-08", "900-200-08"),  # waste mineral oil
    "HW12": ("900-252-12",),  # paint and solvent residues
    "HW18": ("772-002-18",),  # incinerator fly ash
}
_INDUSTRIES = ("电子", "机械", "汽修", "涂装", "化工", "制药", "印刷", "电镀")
_TOWNS = ("双流", "郫都", "温江", "新都", "龙泉驿", "青白江", "彭州", "崇州", "金堂", "大邑")
_CHECKPOINT_CLASSES = ("motorway", "trunk", "primary", "secondary")
_MIN_SITE_SPACING_M = 600.0
_MIN_GATE_SPACING_M = 1200.0


@dataclass(frozen=True, slots=True)
class Site:
    """Where a party loads or receives: a junction of the road network."""

    party: str
    node: int
    lon: float
    lat: float

    @property
    def point(self) -> WGS84Point:
        """The site as a registry point."""
        return WGS84Point(self.lat, self.lon)


@dataclass(frozen=True, slots=True)
class Truck:
    """A dangerous-goods truck with its JT/T 808 terminal."""

    plate: str
    operator: str
    terminal: str  # the terminal's phone number (12 digits)


@dataclass
class World:
    """The province: who is where, what they may do, and where the gates are."""

    network: RoadNetwork
    start: datetime  # the simulated month's first instant
    days: int
    generators: list[Party] = field(default_factory=list)
    transporters: list[Party] = field(default_factory=list)
    disposers: list[Party] = field(default_factory=list)
    sites: dict[str, Site] = field(default_factory=dict)
    wastes: dict[str, tuple[str, ...]] = field(default_factory=dict)  # generator -> codes
    trucks: list[Truck] = field(default_factory=list)
    permits: list[TransportPermit] = field(default_factory=list)
    licences: list[OperatingLicence] = field(default_factory=list)
    checkpoints: list[Checkpoint] = field(default_factory=list)
    snapped: list[SnappedCheckpoint] = field(default_factory=list)
    #: The carrier whose permit lapsed before the month (it still takes some trips).
    lapsed_carrier: str = ""

    @property
    def parties(self) -> list[Party]:
        """Every party."""
        return [*self.generators, *self.transporters, *self.disposers]

    @property
    def vehicles(self) -> list[Vehicle]:
        """Every truck as a registry record."""
        return [Vehicle(t.plate, t.operator) for t in self.trucks]

    def licence_of(self, disposer: str) -> OperatingLicence:
        """The disposer's licence."""
        return next(lic for lic in self.licences if lic.holder == disposer)

    def trucks_of(self, transporter: str) -> list[Truck]:
        """The transporter's trucks."""
        return [t for t in self.trucks if t.operator == transporter]


#: The demo's gates stand where its companies are registered: Chengdu (GB/T 2260 510100).
_GATE_DIVISION = "510100"


def make_credit_code(rng: random.Random, division: str = "510100") -> str:
    """A valid unified social credit code of a company in ``division`` (GB 32100, GB 11714)."""
    body = "".join(rng.choice("0123456789ABCDEFGHJKLMNPQRTUWXY") for _ in range(8))
    org = body + org_code_check_char(body)
    first17 = f"91{division}{org}"
    return first17 + credit_check_char(first17)


def _plate(rng: random.Random, taken: set[str]) -> str:
    while True:
        plate = (
            "川"
            + rng.choice("ABFGHJKLQRSTUVWXYZ")
            + "".join(rng.choice("0123456789") for _ in range(5))
        )
        if plate not in taken:
            taken.add(plate)
            return plate


def _spread(
    rng: random.Random, network: RoadNetwork, candidates: list[int], count: int, spacing: float
) -> list[int]:
    """``count`` nodes at least ``spacing`` metres apart, picked at random."""
    picked: list[int] = []
    pool = candidates[:]
    rng.shuffle(pool)
    nodes = network.graph.nodes
    for node in pool:
        x, y = nodes[node]["x"], nodes[node]["y"]
        if all(math.hypot(x - nodes[p]["x"], y - nodes[p]["y"]) >= spacing for p in picked):
            picked.append(node)
            if len(picked) == count:
                return picked
    return (
        picked if len(picked) == count else _spread(rng, network, candidates, count, spacing * 0.8)
    )


def build_world(  # noqa: PLR0913  # the province's size, one knob each
    network: RoadNetwork,
    seed: int,
    start: datetime,
    *,
    days: int = 30,
    generators: int = 12,
    transporters: int = 3,
    trucks_per_transporter: int = 3,
    disposers: int = 3,
    checkpoints: int = 6,
) -> World:
    """A province of this size on ``network``, the same for the same seed."""
    rng = random.Random(seed)  # noqa: S311  # reproducible, not secret
    graph = network.graph
    core = max(nx.strongly_connected_components(graph), key=len)
    # Sites on ordinary streets; checkpoints on the main roads.
    streets = sorted(
        n
        for n in core
        if _classes(graph, n) & {"residential", "service", "tertiary", "unclassified"}
    )
    world = World(network, start, days)
    codes: set[str] = set()

    def company() -> str:
        while (code := make_credit_code(rng)) in codes:
            pass
        codes.add(code)
        return code

    nodes = _spread(rng, network, streets, generators + disposers, _MIN_SITE_SPACING_M)
    today = start.date()
    categories = sorted(WASTES)
    for i in range(generators):
        code = company()
        name = f"{rng.choice(_TOWNS)}{rng.choice(_INDUSTRIES)}有限公司{i + 1}号厂"
        world.generators.append(Party(code, name, frozenset({PartyRole.GENERATOR})))
        picked = rng.sample(categories, k=rng.choice((1, 2)))
        world.wastes[code] = tuple(rng.choice(WASTES[c]) for c in picked)
    # Each disposer covers most categories; together they cover all of them.
    for i in range(disposers):
        code = company()
        name = f"{rng.choice(_TOWNS)}环保处置中心{i + 1}"
        world.disposers.append(Party(code, name, frozenset({PartyRole.DISPOSER})))
        left_out = categories[i % len(categories)] if disposers > 1 else None
        scope = frozenset(c for c in categories if c != left_out)
        world.licences.append(
            OperatingLicence(
                f"SC{510100 + i:06d}{rng.randrange(10**5):05d}",
                code,
                scope,
                frozenset({DisposalMethod.INCINERATION, DisposalMethod.PHYSICOCHEMICAL}),
                5_000.0,
                today - timedelta(days=700),
                today + timedelta(days=1000),
            )
        )
    for party, node in zip([*world.generators, *world.disposers], nodes, strict=True):
        lon, lat = network.to_wgs84(graph.nodes[node]["x"], graph.nodes[node]["y"])
        world.sites[party.credit_code] = Site(party.credit_code, node, round(lon, 6), round(lat, 6))
    plates: set[str] = set()
    for i in range(transporters + 1):  # the last one's permit lapsed before the month
        code = company()
        name = f"{rng.choice(_TOWNS)}危险货物运输有限公司{i + 1}"
        world.transporters.append(Party(code, name, frozenset({PartyRole.TRANSPORTER})))
        lapsed = i == transporters
        valid_to = today - timedelta(days=60) if lapsed else today + timedelta(days=900)
        world.permits.append(
            TransportPermit(
                f"川交运管许可危字{510100 + i}号", code, valid_to - timedelta(days=1800), valid_to
            )
        )
        for _ in range(1 if lapsed else trucks_per_transporter):
            terminal = f"0138{rng.randrange(10**8):08d}"
            world.trucks.append(Truck(_plate(rng, plates), code, terminal))
        if lapsed:
            world.lapsed_carrier = code
    _place_checkpoints(world, rng, core, checkpoints)
    return world


def _classes(graph: nx.DiGraph, node: int) -> set[str]:
    return {d["highway"] for _, _, d in graph.out_edges(node, data=True)}


def _place_checkpoints(world: World, rng: random.Random, core: set[int], count: int) -> None:
    """ANPR gates where the police put them: on the main roads the trucks use most.

    Edges are ranked by how many of the fastest routes between generators and disposers run
    over them (ties broken at random), and gates spread at least 1.2 km apart.
    """
    network = world.network
    graph = network.graph
    used: dict[tuple[int, int], int] = {}
    for g in world.generators:
        for d in world.disposers:
            path = nx.shortest_path(
                graph, world.sites[g.credit_code].node, world.sites[d.credit_code].node, "time_s"
            )
            for edge in itertools.pairwise(path):
                used[edge] = used.get(edge, 0) + 1
    edges = sorted(
        (u, v)
        for u, v, d in graph.edges(data=True)
        if d["highway"] in _CHECKPOINT_CLASSES and u in core and v in core and d["length_m"] > 60
    )
    rng.shuffle(edges)
    edges.sort(key=lambda e: -used.get(e, 0))  # stable: the shuffle breaks ties
    picked: list[tuple[float, float, int, int]] = []
    for u, v in edges:
        middle = graph.edges[u, v]["geometry"].interpolate(0.5, normalized=True)
        if all(
            math.hypot(middle.x - x, middle.y - y) >= _MIN_GATE_SPACING_M for x, y, _, _ in picked
        ):
            picked.append((middle.x, middle.y, u, v))
        if len(picked) == count:
            break
    for n, (x, y, u, v) in enumerate(picked, start=1):
        lon, lat = network.to_wgs84(x, y)
        lon, lat = round(lon, 6), round(lat, 6)
        data = graph.edges[u, v]
        road = " ".join(p for p in (data.get("ref") or "", data.get("name") or "") if p)
        ident = f"SC-ANPR-{n:02d}"
        name = f"{road or '道路'}卡口{n}"
        gate = Checkpoint(ident, name, CheckpointKind.ANPR_GATE, WGS84Point(lat, lon), road,
                          division=_GATE_DIVISION)  # fmt: skip
        world.checkpoints.append(gate)
        world.snapped.append(snap(network, ident, name, "anpr_gate", lon, lat, max_m=5.0))


def days_of(world: World) -> list[date]:
    """The month's days (China time)."""
    first = world.start.date()
    return [first + timedelta(days=i) for i in range(world.days)]

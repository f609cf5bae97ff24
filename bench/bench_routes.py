"""Map matching speed and accuracy on the Monaco network, next to floors measured in the same run.

Trips between seeded random origins and destinations at least --min-km apart, driven at loaded
truck speeds with a fix every --interval seconds and --sigma metres of noise
(routes.synthetic.drive), in two sets of --trips: A and B.

  routes.matching: GPS points matched per second on A with a new matcher (its road-distance
    searches start empty), on B right after (searches kept from A), and on B again (steady
    state: every search it needs made); route agreement with the true path (shared length /
    true length) over A and B
  (a) networkx bidirectional Dijkstra queries per second between the same origins and
      destinations, on the same graph
  (b) shapely prepared point-in-polygon tests per second: the same points against the true
      route buffered by 50 m, one test per call
  (c) fastmm from PyPI, installed into a temporary folder for this run only (it is not a
      project dependency): network and UBODT build time, points per second, route agreement

Targets (issue #6): median agreement >= 0.95 at 30 s / 10 m; points per second at least half
of the reference matcher's. Each rate is the best of three rounds, as the machine is shared.

    .venv/bin/python bench/bench_routes.py [--trips 150] [--interval 30] [--sigma 10] [--no-fastmm]
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import itertools
import math
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import networkx as nx
import shapely
from shapely import prepared

from routes.checks import check_trip
from routes.matching import MapMatcher, MatchParameters
from routes.model import DeclaredTrip, Place
from routes.network import RoadNetwork
from routes.synthetic import drive, fastest_path, route_overlap

if TYPE_CHECKING:
    from collections.abc import Iterator
    from types import ModuleType

    from routes.model import Fix

MONACO = Path(__file__).resolve().parents[1] / "routes" / "data" / "monaco.osm.pbf"
START = datetime(2026, 3, 5, 8, tzinfo=UTC)
Trip = tuple[list[int], list["Fix"]]


def trips(network: RoadNetwork, n: int, seed: int, args: argparse.Namespace) -> list[Trip]:
    """``n`` trips between random nodes of the largest strongly connected part of the graph."""
    graph = network.graph
    nodes = sorted(max(nx.strongly_connected_components(graph), key=len))
    rng = random.Random(seed)
    out: list[Trip] = []
    while len(out) < n:
        a, b = rng.sample(nodes, 2)
        here, there = graph.nodes[a], graph.nodes[b]
        if math.dist((here["x"], here["y"]), (there["x"], there["y"])) < args.min_km * 1000:
            continue
        path = fastest_path(network, a, b)
        fixes = drive(network, path, START, interval_s=args.interval, sigma_m=args.sigma,
                      seed=seed * 100_000 + len(out))  # fmt: skip
        out.append((path, fixes))
    return out


def rate(n: int, seconds: float) -> float:
    return n / seconds if seconds else float("inf")


def points(batch: list[Trip]) -> int:
    return sum(len(fixes) for _, fixes in batch)


def km(network: RoadNetwork, path: list[int]) -> float:
    return sum(network.edge(u, v)["length_m"] for u, v in itertools.pairwise(path)) / 1000


# -- ours ---------------------------------------------------------------------------------------


def ours(network: RoadNetwork, a: list[Trip], b: list[Trip], sigma: float) -> dict[str, Any]:
    parameters = MatchParameters(sigma_m=sigma)
    rates: dict[str, list[float]] = {"new": [], "after": [], "steady": [], "build": []}
    agreement: list[float] = []
    for round_ in range(3):
        start = time.perf_counter()
        matcher = MapMatcher(network)
        rates["build"].append(time.perf_counter() - start)
        for name, batch in (("new", a), ("after", b), ("steady", b)):
            start = time.perf_counter()
            results = [matcher.match(fixes, parameters) for _, fixes in batch]
            rates[name].append(rate(points(batch), time.perf_counter() - start))
            if round_ == 0 and name != "steady":
                agreement += [route_overlap(network, path, [p.nodes for p in r.pieces])
                              for (path, _), r in zip(batch, results, strict=True)]  # fmt: skip
    best = {name: max(values) for name, values in rates.items() if name != "build"}
    return {**best, "build_s": min(rates["build"]), "agreement": agreement}


# -- floors -------------------------------------------------------------------------------------


def dijkstra_rate(network: RoadNetwork, batch: list[Trip]) -> float:
    pairs = [(path[0], path[-1]) for path, _ in batch]
    best = 0.0
    for _ in range(3):
        start = time.perf_counter()
        for a, b in pairs:
            nx.bidirectional_dijkstra(network.graph, a, b, weight="length_m")
        best = max(best, rate(len(pairs), time.perf_counter() - start))
    return best


def checks_rate(network: RoadNetwork, batch: list[Trip]) -> tuple[float, float, int]:
    """Whole trips through every route check: the first pass plans each trip (cold), later
    passes reuse the cached plans (warm, best of two)."""
    declared = []
    for n, (path, fixes) in enumerate(batch):
        first, last = network.graph.nodes[path[0]], network.graph.nodes[path[-1]]
        trip = DeclaredTrip(f"B-{n}", "川A12345", Place(first["lon"], first["lat"]),
                            Place(last["lon"], last["lat"]))  # fmt: skip
        declared.append((trip, fixes))
    rates, findings = [], 0
    for _ in range(3):
        start = time.perf_counter()
        findings = sum(len(check_trip(network, trip, fixes=fixes).findings)
                       for trip, fixes in declared)  # fmt: skip
        rates.append(rate(len(declared), time.perf_counter() - start))
    return rates[0], max(rates[1:]), findings


def contains_rate(network: RoadNetwork, batch: list[Trip]) -> float:
    cases = []
    for path, fixes in batch:
        roads = [network.edge(u, v)["geometry"] for u, v in itertools.pairwise(path)]
        corridor = prepared.prep(shapely.union_all(roads).buffer(50))
        xs, ys = network.project_many([f.lon for f in fixes], [f.lat for f in fixes])
        cases.append((corridor, [shapely.Point(x, y) for x, y in zip(xs, ys, strict=True)]))
    best = 0.0
    for _ in range(3):
        start = time.perf_counter()
        for corridor, pts in cases:
            for point in pts:
                corridor.contains(point)
        best = max(best, rate(points(batch), time.perf_counter() - start))
    return best


# -- the reference matcher ----------------------------------------------------------------------


def install_fastmm(folder: Path) -> ModuleType | str:
    """fastmm installed into ``folder`` (not the project's environment), or why not."""
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
               "--target", str(folder), "fastmm"]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603  # fixed arguments
    if done.returncode != 0:
        return f"pip could not install it: {done.stderr.strip().splitlines()[-1:]}"
    sys.path.insert(0, str(folder))
    try:
        return importlib.import_module("fastmm")
    except ImportError as exc:
        return f"it does not import: {exc}"


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Send what C++ code writes to stdout and stderr (fastmm's progress log) to /dev/null."""
    sys.stdout.flush()
    saved = os.dup(1), os.dup(2)
    with open(os.devnull, "wb") as null:  # noqa: PTH123  # a file descriptor is what dup2 needs
        os.dup2(null.fileno(), 1)
        os.dup2(null.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


def reference(
    fastmm: Any,  # noqa: ANN401  # a module installed at run time, without stubs
    network: RoadNetwork,
    batch: list[Trip],
    args: argparse.Namespace,
    cache: Path,
) -> dict[str, Any]:
    edges = list(network.graph.edges)
    with quiet():
        start = time.perf_counter()
        net = fastmm.Network()
        for i, (u, v) in enumerate(edges):
            net.add_edge(i, source=u, target=v, geom=list(network.edge(u, v)["geometry"].coords))
        net.finalize()
        matcher = fastmm.FastMapMatch(net, fastmm.TransitionMode.SHORTEST,
                                      max_distance_between_candidates=args.ubodt_m,
                                      cache_dir=cache)  # fmt: skip
        build = time.perf_counter() - start

        traces = []
        for _, fixes in batch:
            xs, ys = network.project_many([f.lon for f in fixes], [f.lat for f in fixes])
            ts = [(f.at - START).total_seconds() for f in fixes]
            traces.append(fastmm.Trajectory.from_xyt_tuples(list(zip(xs, ys, ts, strict=True))))
        radius = max(50.0, 4 * args.sigma)
        best, results = 0.0, []
        for _ in range(3):
            start = time.perf_counter()
            results = [matcher.match(t, max_candidates=8, candidate_search_radius=radius,
                                     gps_error=args.sigma, reverse_tolerance=20.0)
                       for t in traces]  # fmt: skip
            best = max(best, rate(points(batch), time.perf_counter() - start))

    agreement = []
    for (path, _), result in zip(batch, results, strict=True):
        matched = [edges[e.edge_id]
                   for sub in result.subtrajectories
                   if sub.error_code == fastmm.MatchErrorCode.SUCCESS
                   for segment in sub.segments for e in segment.edges]  # fmt: skip
        agreement.append(route_overlap(network, path, matched))
    return {"build_s": build, "rate": best, "agreement": agreement}


# -- report -------------------------------------------------------------------------------------


def spread(values: list[float]) -> str:
    median, least = statistics.median(values), min(values)
    share = sum(v >= 0.95 for v in values) / len(values)
    return f"median {median:.3f}, min {least:.3f}, share >= 0.95: {share:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trips", type=int, default=150, help="trips in each of sets A and B")
    parser.add_argument("--interval", type=float, default=30.0)
    parser.add_argument("--sigma", type=float, default=10.0)
    parser.add_argument("--min-km", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--ubodt-m", type=float, default=2000.0, help="fastmm's UBODT delta")
    parser.add_argument("--no-fastmm", action="store_true")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        network = RoadNetwork.load(MONACO, Path(tmp) / "roads")
        a = trips(network, args.trips, args.seed, args)
        b = trips(network, args.trips, args.seed + 1, args)
        graph, every = network.graph, a + b
        mean_km = statistics.mean(km(network, path) for path, _ in every)
        print(f"Monaco: {graph.number_of_nodes():,} nodes, {graph.number_of_edges():,} edges; "
              f"{len(every)} trips (mean {mean_km:.1f} km, {points(every) / len(every):.0f} "
              f"fixes), a fix every {args.interval:g} s with {args.sigma:g} m noise")  # fmt: skip

        mine = ours(network, a, b, args.sigma)
        dijkstra = dijkstra_rate(network, a + b)
        contains = contains_rate(network, a + b)
        cold, warm, false_alarms = checks_rate(network, a[:48])  # within the plan cache (64)
        ref: dict[str, Any] | None = None
        why = "skipped (--no-fastmm)"
        if not args.no_fastmm:
            fastmm = install_fastmm(Path(tmp) / "fastmm")
            if isinstance(fastmm, str):
                why = fastmm
            else:
                try:
                    ref = reference(fastmm, network, a + b, args, Path(tmp) / "ubodt")
                except (AttributeError, TypeError, RuntimeError) as exc:  # its API moved on
                    why = f"{fastmm.__name__} {fastmm.__version__} did not fit: {exc}"
                else:
                    ref["version"] = fastmm.__version__
    report(args, mine, (dijkstra, contains), ref or why)
    print("\nroutes.checks on 48 of the same trips (set A), clean by construction")
    line("trips checked, planned afresh", f"{cold:>9,.1f} trips/s")
    line("trips checked, plans cached", f"{warm:>9,.1f} trips/s")
    line("findings on these clean trips", f"{false_alarms:>9d}")


def line(what: str, value: str) -> None:
    print(f"  {what:<44}{value}")


def report(
    args: argparse.Namespace,
    mine: dict[str, Any],
    floors: tuple[float, float],
    ref: dict[str, Any] | str,
) -> None:
    dijkstra, contains = floors
    print("\nroutes.matching (Python and numpy)")
    line("index build", f"{mine['build_s'] * 1000:>9,.0f} ms")
    line("set A, new matcher", f"{mine['new']:>9,.0f} points/s")
    line("set B, searches kept from A", f"{mine['after']:>9,.0f} points/s")
    line("set B again (steady state)", f"{mine['steady']:>9,.0f} points/s")
    line("agreement with the true route", spread(mine["agreement"]))
    print("\nfloors on the same graph and points")
    line("(a) networkx bidirectional Dijkstra", f"{dijkstra:>9,.0f} queries/s")
    line("(b) shapely prepared contains", f"{contains:>9,.0f} points/s")
    line("steady matching / (a)", f"{mine['steady'] / dijkstra:>9.1f} points per query")
    line("steady matching / (b)", f"{mine['steady'] / contains:>9.4f}")
    if isinstance(ref, str):
        print(f"\n(c) fastmm: {ref}")
        return
    print(f"\n(c) fastmm {ref['version']} (C++; UBODT delta {args.ubodt_m:g} m)")
    line("network + UBODT build", f"{ref['build_s']:>9.2f} s")
    line("sets A and B", f"{ref['rate']:>9,.0f} points/s")
    line("agreement with the true route", spread(ref["agreement"]))
    print("\nours / fastmm, points per second (target >= 0.50)")
    line("new matcher (set A)", f"{mine['new'] / ref['rate']:>9.2f}")
    line("steady state (set B again)", f"{mine['steady'] / ref['rate']:>9.2f}")
    ours_median = statistics.median(mine["agreement"])
    print(f"\nmedian agreement {ours_median:.3f} (target >= 0.95; fastmm "
          f"{statistics.median(ref['agreement']):.3f})")  # fmt: skip


if __name__ == "__main__":
    main()

"""Map matching: which roads a truck drove, from its GPS fixes.

A hidden Markov model in the manner of Newson and Krumm (2009, doi:10.1145/1653771.1653818):

- **States** of a fix are its candidates: the ``candidates`` nearest places on directed edges
  within ``radius_m`` (default max(50 m, 4 sigma)), one per pass of an edge near the fix (a
  hairpin passes twice).
- **Emission**: Gaussian in the distance d from the fix to the candidate,
  log p = -(d / sigma)^2 / 2.
- **Transition** between candidates of consecutive fixes: exponential in
  |great-circle distance between the fixes - road distance between the candidates|,
  log p = -|gc - route| / beta with beta = max(5 m, 0.1 x gc). Road distances over
  ``length_m`` no longer than 2 x gc + 500 m count; longer ones make the transition impossible.
  A move back to where the candidate's edge began (a U-turn) costs ``uturn_penalty`` more.
  Road distances come from Dijkstra searches that go only as far as asked and are kept, one
  per start node, for every later trace matched with the same :class:`MapMatcher`; a sorted
  copy of what they found answers most of a trace's questions in one numpy lookup.
- **Viterbi** on log probabilities picks the most likely sequence.

A trace is matched in **pieces**: a new piece starts after a gap of more than 2 km or 300 s,
and where no candidate of a fix can be reached from any candidate of the one before (the
Meili/OSRM restart). A fix with no road within the radius is left unmatched and skipped; the
fixes either side are joined as usual. A fix within 2 sigma of the last matched one, or near
it while the terminal reports a standstill, is held: placed on that fix's edge rather than
matched on its own, so a parked truck's jitter does not send it round the block.
See ``docs/matching.md`` for the parameters, the figures and the limits.
"""

from __future__ import annotations

import heapq
import itertools
import math
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np
import shapely
from shapely.strtree import STRtree

from custody.errors import InputError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from numpy.typing import NDArray

    from routes.model import Fix
    from routes.network import RoadNetwork

__all__ = ["MapMatcher", "MatchParameters", "MatchResult", "MatchedFix", "Piece", "noise_sigma"]

EARTH_RADIUS_M = 6_371_008.8  # mean radius (IUGG)
DEFAULT_SIGMA_M = 10.0  # consumer-grade GPS in the open
MAD_TO_SIGMA = 1.4826  # median absolute deviation of a normal distribution -> its sigma
# Backward moves this short along one edge are GPS jitter of a slow or parked truck, not a trip
# round the block (FMM calls it reverse tolerance); 2 sigma when that is more.
_JITTER_M = 20.0
# A JT/T 808 speed below this is a standstill (GNSS Doppler speed is good to about 1 km/h).
_STOPPED_KMH = 3.0


def noise_sigma(distances: Sequence[float] | NDArray[np.float64]) -> float:
    """GPS noise from fixes' distances to the nearest road: 1.4826 x their median, at least 1 m.

    The distance to the road driven is the noise across it, one axis of a Gaussian, whose
    scaled median is sigma; the median shrugs off the few fixes really off the road.
    """
    return max(1.0, MAD_TO_SIGMA * float(np.median(distances)))


@dataclass(frozen=True, slots=True)
class MatchParameters:
    """The model's knobs; the defaults suit 30 s consumer-grade fixes (see docs/matching.md)."""

    sigma_m: float | None = DEFAULT_SIGMA_M  # GPS noise; None: estimate it from the trace
    candidates: int = 8  # states per fix
    radius_m: float | None = None  # candidate search radius; None: max(50, 4 sigma)
    beta_min_m: float = 5.0  # transition scale: max(beta_min_m, beta_share x gc)
    beta_share: float = 0.1
    gap_m: float = 2000.0  # start a new piece after a jump longer than this ...
    gap_s: float = 300.0  # ... or a silence longer than this
    cutoff_factor: float = 2.0  # road distances searched up to factor x gc + extra
    cutoff_extra_m: float = 500.0
    uturn_penalty: float = 5.0  # log probability taken off a move back to where it began

    def __post_init__(self) -> None:
        if self.sigma_m is not None and not self.sigma_m > 0:
            raise InputError("sigma must be positive", zh="定位误差须为正数")
        if self.candidates < 1:
            raise InputError("at least one candidate per fix", zh="每个定位点至少需一个候选路段")


@dataclass(frozen=True, slots=True)
class MatchedFix:
    """Where a fix was placed: ``offset_m`` along edge (u, v) from u, ``distance_m`` off it."""

    u: int
    v: int
    offset_m: float
    distance_m: float


@dataclass(frozen=True, slots=True)
class Piece:
    """A stretch of the trace matched in one go: fixes ``first`` to ``last`` (inclusive).

    ``nodes`` is the connected node path driven, from the start of the first fix's edge to the
    end of the last fix's edge; ``length_m`` is the distance driven along it from the first
    matched position to the last.
    """

    first: int
    last: int
    nodes: tuple[int, ...]
    length_m: float

    @property
    def edges(self) -> list[tuple[int, int]]:
        """The directed edges of the path, in order."""
        return list(itertools.pairwise(self.nodes))


@dataclass(frozen=True, slots=True)
class MatchResult:
    """The matched trace: one entry per input fix (None where unmatched) and the pieces."""

    fixes: tuple[MatchedFix | None, ...]
    pieces: tuple[Piece, ...]
    parameters: MatchParameters
    sigma_m: float  # the noise assumed: given, or estimated from the trace
    radius_m: float  # the candidate search radius used

    @property
    def length_m(self) -> float:
        """Distance driven along the matched roads, all pieces together."""
        return sum(piece.length_m for piece in self.pieces)

    @property
    def edges(self) -> list[tuple[int, int]]:
        """Every matched edge, piece after piece."""
        return [edge for piece in self.pieces for edge in piece.edges]

    @property
    def unmatched(self) -> list[int]:
        """Indices of the fixes with no road nearby."""
        return [i for i, fix in enumerate(self.fixes) if fix is None]


@dataclass(frozen=True, slots=True)
class _Candidates:
    """The candidates of every fix of one trace, grouped by fix: ``start[i]`` to ``start[i+1]``."""

    start: NDArray[np.intp]
    edge: NDArray[np.intp]
    offset: NDArray[np.float64]  # metres along the edge from its start
    distance: NDArray[np.float64]  # metres from the fix


class _Search:
    """A Dijkstra search from one node, taken only as far as the questions so far needed.

    Nodes leave the heap in the same order however often the search stops and resumes, so its
    answers (distances and the paths behind them) never depend on what was asked before.
    """

    __slots__ = ("_out", "heap", "previous", "settled", "tentative")

    def __init__(self, source: int, out: list[list[tuple[int, float]]]) -> None:
        self._out = out
        self.heap: list[tuple[float, int]] = [(0.0, source)]
        self.tentative: dict[int, float] = {source: 0.0}
        self.settled: dict[int, float] = {}
        self.previous: dict[int, int] = {}

    def distance(self, target: int, limit: float) -> float:
        """The road distance to ``target``, or inf if it is longer than ``limit``."""
        found = self.settled.get(target)
        if found is not None:
            return found if found <= limit else math.inf
        heap, settled, tentative, previous = self.heap, self.settled, self.tentative, self.previous
        while heap and heap[0][0] <= limit:
            d, node = heapq.heappop(heap)
            if node in settled:
                continue  # a stale entry
            settled[node] = d
            for nxt, length in self._out[node]:
                nd = d + length
                if nd < tentative.get(nxt, math.inf):
                    tentative[nxt], previous[nxt] = nd, node
                    heapq.heappush(heap, (nd, nxt))
            if node == target:
                return d
        return math.inf

    @property
    def frontier(self) -> float:
        """Every node nearer than this has been settled."""
        return self.heap[0][0] if self.heap else math.inf


class _RoadDistances:
    """Shortest road distances between nodes (by index), searched on demand and kept.

    The searches are the truth. A sorted copy of their answers, with how far each source had
    been searched when it was made, lets numpy answer a whole trace's questions at once; only
    questions beyond the copy reach the searches, and the copy is remade as they grow.
    """

    def __init__(self, out: list[list[tuple[int, float]]], capacity: int) -> None:
        self._out = out
        self._capacity = capacity
        self._searches: dict[int, _Search] = {}
        self._keys = np.zeros(1, dtype=np.int64)  # source * nodes + target, sorted
        self._values = np.full(1, np.inf)
        self._reached = np.full(len(out), -1.0)  # per source: the copy holds all nearer than this
        self._fresh = 0  # nodes settled since the copy was made

    def between(
        self, source: NDArray[np.intp], target: NDArray[np.intp], limit: NDArray[np.float64]
    ) -> NDArray[np.float64]:
        """Distance from each source to its target where no longer than ``limit``, else inf."""
        keys = source.astype(np.int64) * len(self._out) + target
        at = np.minimum(np.searchsorted(self._keys, keys), len(self._keys) - 1)
        hit = self._keys[at] == keys
        found = np.where(hit, self._values[at], np.inf)
        answer = np.where(found <= limit, found, np.inf)
        for k in np.flatnonzero(~hit & (limit >= self._reached[source])).tolist():
            search = self.search(int(source[k]))
            before = len(search.settled)
            answer[k] = search.distance(int(target[k]), float(limit[k]))
            self._fresh += len(search.settled) - before
        if self._fresh > max(5000, len(self._keys) // 4):
            self._copy()
        return answer

    def search(self, source: int) -> _Search:
        """The search from ``source``: kept, or a new one (forgetting the oldest when full)."""
        found = self._searches.get(source)
        if found is None:
            if len(self._searches) >= self._capacity:
                del self._searches[next(iter(self._searches))]  # the copy stays right
            found = self._searches[source] = _Search(source, self._out)
        return found

    def _copy(self) -> None:
        nodes, searches = len(self._out), self._searches
        size = sum(len(s.settled) for s in searches.values())
        keys = np.fromiter((source * nodes + target for source, s in searches.items()
                            for target in s.settled), dtype=np.int64, count=size)  # fmt: skip
        values = np.fromiter((d for s in searches.values() for d in s.settled.values()),
                             dtype=np.float64, count=size)  # fmt: skip
        order = np.argsort(keys, kind="stable")
        self._keys = np.concatenate([keys[order], [np.iinfo(np.int64).max]])  # never empty
        self._values = np.concatenate([values[order], [np.inf]])
        self._reached = np.full(nodes, -1.0)
        for source, s in searches.items():
            self._reached[source] = s.frontier
        self._fresh = 0


@dataclass(slots=True)
class _Open:
    """A piece being matched: its fixes, their Viterbi back pointers and the current scores."""

    fixes: list[int]
    score: NDArray[np.float64]
    back: list[NDArray[np.intp]] = field(default_factory=list)


class MapMatcher:
    """Matches GPS traces to one road network.

    Keep one per network: it holds the spatial index of the edges and the road-distance
    searches that later traces in the same area reuse. Matching a trace gives the same result
    whatever the matcher has matched before.
    """

    def __init__(self, network: RoadNetwork, *, cache_size: int = 10_000) -> None:
        """Index the network's edges; keep the searches from at most ``cache_size`` nodes."""
        self.network = network
        self._ids: list[int] = list(network.graph.nodes)
        index = {node: i for i, node in enumerate(self._ids)}
        self._edges: list[tuple[int, int]] = list(network.graph.edges)
        data = [network.edge(u, v) for u, v in self._edges]
        self._u = np.array([index[u] for u, _ in self._edges], dtype=np.intp)
        self._v = np.array([index[v] for _, v in self._edges], dtype=np.intp)
        self._length = np.array([d["length_m"] for d in data], dtype=np.float64)
        out: list[list[tuple[int, float]]] = [[] for _ in self._ids]
        for u, v, length in zip(self._u.tolist(), self._v.tolist(), self._length.tolist(),
                                strict=True):  # fmt: skip
            out[u].append((v, length))
        self._roads = _RoadDistances(out, cache_size)
        # Candidates are sought on the straight pieces of each edge, not on the whole edge: a
        # road that winds back near itself (a hairpin) then offers one candidate per pass.
        coords, owner = shapely.get_coordinates([d["geometry"] for d in data], return_index=True)
        start, end = coords[:-1], coords[1:]
        length = np.hypot(*(end - start).T)
        inside = (owner[:-1] == owner[1:]) & (length > 0)  # within one edge, not a repeated point
        self._segment_edge = owner[:-1][inside]
        self._segment_start, self._segment_step = start[inside], (end - start)[inside]
        self._segment_length = length[inside]
        behind = np.cumsum(self._segment_length) - self._segment_length  # from the first edge
        first = np.searchsorted(self._segment_edge, np.arange(len(data)))
        self._segment_offset = behind - behind[first][self._segment_edge]
        self._tree = STRtree(shapely.linestrings(np.stack([start[inside], end[inside]], axis=1)))

    # -- the public calls -----------------------------------------------------------------------

    def match(self, fixes: Sequence[Fix], parameters: MatchParameters | None = None) -> MatchResult:
        """Match a trace (fixes in time order) to the roads."""
        p = parameters or MatchParameters()
        for before, after in itertools.pairwise(fixes):
            if after.at < before.at:
                raise InputError("fixes must be in time order",
                                 zh="定位点须按时间排序", at=after.at.isoformat())  # fmt: skip
        points = self._points(fixes)
        sigma = p.sigma_m if p.sigma_m is not None else self._estimate(points)
        radius = p.radius_m if p.radius_m is not None else max(50.0, 4 * sigma)
        found = self._candidates(points, radius, p.candidates)
        emission = -0.5 * (found.distance / sigma) ** 2
        jitter = max(_JITTER_M, 2 * sigma)

        # Fixes with a road nearby. A jump or a silence between two starts a new piece. A fix
        # within 2 sigma of the last one kept is held to it (Newson and Krumm's rule), and so
        # is one within the search radius while the truck reports standing still: the jitter
        # of a parked or creeping truck says nothing about where it went, and would send it
        # round the block.
        located = np.flatnonzero(np.diff(found.start) > 0)
        seconds = np.array([(fixes[i].at - fixes[j].at).total_seconds()
                            for j, i in itertools.pairwise(located.tolist())])  # fmt: skip
        gap = (_great_circle(fixes, located) > p.gap_m) | (seconds > p.gap_s)
        stopped = [f.speed_kmh is not None and f.speed_kmh < _STOPPED_KMH for f in fixes]
        kept, follows, held = _hold(points, located, gap, stopped, (2 * sigma, radius))
        gc = _great_circle(fixes, kept)
        transition, blocks = self._transitions(found, kept, follows[1:], gc, (p, jitter))

        placed: list[MatchedFix | None] = [None] * len(fixes)
        pieces: list[Piece] = []
        piece: _Open | None = None
        start, step = found.start.tolist(), 0
        for i, linked in zip(kept.tolist(), follows.tolist(), strict=True):
            here = emission[start[i] : start[i + 1]]
            if piece is not None and linked:
                block = transition[blocks[step] : blocks[step + 1]]
                step += 1
                total = piece.score[:, None] + block.reshape(len(piece.score), -1)
                score = total.max(axis=0)
                if score.max() > -np.inf:
                    piece.fixes.append(i)
                    piece.back.append(total.argmax(axis=0))  # the first of equals
                    piece.score = score + here
                    continue
            if piece is not None:  # a gap, or no way through
                pieces.append(self._close(piece, found, placed, jitter))
            piece = _Open([i], here)
        if piece is not None:
            pieces.append(self._close(piece, found, placed, jitter))
        if held:
            pieces = self._place_held(held, points, placed, pieces)
        return MatchResult(tuple(placed), tuple(pieces), p, sigma, radius)

    def estimate_sigma(self, fixes: Sequence[Fix]) -> float:
        """GPS noise from the trace itself (:func:`noise_sigma` of its distances to the roads).

        The nearest road is not always the one driven, so on a dense network this reads low
        (docs/matching.md).
        """
        return self._estimate(self._points(fixes))

    # -- candidates -----------------------------------------------------------------------------

    def _points(self, fixes: Sequence[Fix]) -> NDArray[np.float64]:
        """The fixes in the network's metres, one (x, y) row each."""
        xs, ys = self.network.project_many([f.lon for f in fixes], [f.lat for f in fixes])
        return np.column_stack([xs, ys]) if fixes else np.zeros((0, 2))

    def _estimate(self, points: NDArray[np.float64]) -> float:
        if len(points) == 0:
            return DEFAULT_SIGMA_M  # nothing to match: any value will do
        (which, _), distance = self._tree.query_nearest(
            shapely.points(points), return_distance=True
        )
        nearest = np.full(len(points), np.inf)
        np.minimum.at(nearest, which, distance)  # equidistant pieces come back more than once
        return noise_sigma(nearest)

    def _candidates(self, points: NDArray[np.float64], radius: float, k: int) -> _Candidates:
        xs, ys = points.T
        boxes = shapely.box(xs - radius, ys - radius, xs + radius, ys + radius)
        fix, segment = self._tree.query(boxes)  # envelopes only: the distances follow
        # Sorted by fix, then piece: each edge's pieces near a fix together, in driving order.
        pieces = len(self._segment_edge)
        key = np.sort(fix * pieces + segment)
        fix, segment = np.divmod(key, pieces)
        start, step = self._segment_start[segment], self._segment_step[segment]
        relative = points[fix] - start
        t = np.einsum("ij,ij->i", relative, step) / self._segment_length[segment] ** 2
        foot = np.clip(t, 0.0, 1.0)
        distance = np.hypot(*(relative - foot[:, None] * step).T)
        # One candidate per pass of an edge near the fix, where the distance along the edge
        # has a local minimum: the foot of a perpendicular inside a piece, a corner nearer than
        # the pieces either side (taken once), or an end of the edge.
        at_start, at_end = t <= 0, t >= 1
        edge = self._segment_edge[segment]
        chained = (key[1:] == key[:-1] + 1) & (edge[1:] == edge[:-1])  # the next piece on
        next_nearer = np.append(chained & ~at_start[1:], False)
        has_previous = np.insert(chained, 0, False)
        keep = (~at_start & ~at_end) | (at_end & ~next_nearer) | (at_start & ~has_previous)
        pick = np.flatnonzero(keep & (distance <= radius))
        pick = pick[np.lexsort((distance[pick], fix[pick]))]  # by fix, then nearest first
        rank = np.arange(len(pick)) - np.searchsorted(fix[pick], fix[pick])
        pick = pick[rank < k]
        segment = segment[pick]
        return _Candidates(
            np.searchsorted(fix[pick], np.arange(len(points) + 1)),
            self._segment_edge[segment],
            self._segment_offset[segment] + foot[pick] * self._segment_length[segment],
            distance[pick],
        )

    # -- transitions ----------------------------------------------------------------------------

    def _transitions(
        self,
        found: _Candidates,
        located: NDArray[np.intp],
        joined: NDArray[np.bool_],
        gc: NDArray[np.float64],
        model: tuple[MatchParameters, float],
    ) -> tuple[NDArray[np.float64], list[int]]:
        """Log probabilities of every move between the candidates of joined fixes, at once.

        One flat array: for each joined step in order, a block of (candidates before) x
        (candidates after), row-major; ``blocks`` holds where each block starts.
        """
        p, jitter = model
        before, after, gc = located[:-1][joined], located[1:][joined], gc[joined]
        rows, cols = np.diff(found.start)[before], np.diff(found.start)[after]
        size = rows * cols
        blocks = np.concatenate([[0], np.cumsum(size)])
        step = np.repeat(np.arange(len(size)), size)
        r = np.arange(blocks[-1]) - blocks[step]
        a = found.start[before][step] + r // cols[step]
        b = found.start[after][step] + r % cols[step]

        edge_a, edge_b = found.edge[a], found.edge[b]
        offset_a, offset_b = found.offset[a], found.offset[b]
        stays = (edge_a == edge_b) & (offset_b >= offset_a - jitter)  # on along the same edge
        rest = self._length[edge_a] - offset_a  # to the end of a's edge
        limit = (p.cutoff_factor * gc + p.cutoff_extra_m)[step] - rest - offset_b
        route = np.where(stays, np.abs(offset_b - offset_a), np.inf)
        ask = np.flatnonzero(~stays & (limit >= 0))
        between = self._roads.between(self._v[edge_a[ask]], self._u[edge_b[ask]], limit[ask])
        route[ask] = rest[ask] + between + offset_b[ask]
        beta = np.maximum(p.beta_min_m, p.beta_share * gc)
        log_p = -np.abs(route - gc[step]) / beta[step]
        # Back to where a's edge began: a U-turn (or a loop), rare for a truck but free in
        # the model, so jitter at a dead end or a junction would otherwise draw them.
        turned = ~stays & (self._u[edge_b] == self._u[edge_a])
        turned |= (self._u[edge_b] == self._v[edge_a]) & (self._v[edge_b] == self._u[edge_a])
        log_p[turned] -= p.uturn_penalty
        return log_p, blocks.tolist()

    # -- the result -----------------------------------------------------------------------------

    def _close(
        self, piece: _Open, found: _Candidates, placed: list[MatchedFix | None], jitter: float
    ) -> Piece:
        """Trace the best path back; place the piece's fixes and build its node path."""
        state = int(np.argmax(piece.score))
        chosen = [int(found.start[piece.fixes[-1]]) + state]
        for i, back in zip(reversed(piece.fixes[:-1]), reversed(piece.back), strict=True):
            state = int(back[state])
            chosen.append(int(found.start[i]) + state)
        chosen.reverse()
        edges, offsets = found.edge[chosen].tolist(), found.offset[chosen].tolist()
        for i, edge, offset, c in zip(piece.fixes, edges, offsets, chosen, strict=True):
            u, v = self._edges[edge]
            placed[i] = MatchedFix(u, v, offset, float(found.distance[c]))

        nodes = [int(self._u[edges[0]]), int(self._v[edges[0]])]
        driven = 0.0
        for (edge_a, edge_b), (offset_a, offset_b) in zip(
            itertools.pairwise(edges), itertools.pairwise(offsets), strict=True
        ):
            if edge_a == edge_b and offset_b >= offset_a - jitter:
                driven += offset_b - offset_a  # along the same edge (back a little: jitter)
                continue
            source, target = int(self._v[edge_a]), int(self._u[edge_b])
            search = self._roads.search(source)
            between = search.distance(target, math.inf)  # known; searched again if forgotten
            driven += float(self._length[edge_a]) - offset_a + between + offset_b
            path = [target]
            while path[-1] != source:
                path.append(search.previous[path[-1]])
            nodes.extend(reversed(path[:-1]))
            nodes.append(int(self._v[edge_b]))
        ids = tuple(self._ids[n] for n in nodes)
        return Piece(piece.fixes[0], piece.fixes[-1], ids, max(0.0, driven))

    def _place_held(
        self,
        held: dict[int, int],
        points: NDArray[np.float64],
        placed: list[MatchedFix | None],
        pieces: list[Piece],
    ) -> list[Piece]:
        """Place each held fix on the edge of the fix it was held to; widen the pieces."""
        which, anchors = [], []
        for i, kept in held.items():
            anchor = placed[kept]
            if anchor is not None:  # always: every kept fix is placed
                which.append(i)
                anchors.append(anchor)
        geometry = [self.network.edge(a.u, a.v)["geometry"] for a in anchors]
        spots = shapely.points(points[which])
        offset = shapely.line_locate_point(geometry, spots).tolist()
        distance = shapely.distance(geometry, spots).tolist()
        for i, a, o, d in zip(which, anchors, offset, distance, strict=True):
            placed[i] = MatchedFix(a.u, a.v, o, d)
        ends = {piece.last: n for n, piece in enumerate(pieces)}
        for i in which:  # a held fix after the last kept fix of a piece belongs to it
            n = ends.get(held[i])
            if n is not None and i > pieces[n].last:
                pieces[n] = replace(pieces[n], last=i)
        return pieces


def _hold(
    points: NDArray[np.float64],
    located: NDArray[np.intp],
    gap: NDArray[np.bool_],
    stopped: list[bool],
    within: tuple[float, float],
) -> tuple[NDArray[np.intp], NDArray[np.bool_], dict[int, int]]:
    """The fixes to match, whether each follows on from the one before, and the held ones.

    With no gap since the last kept fix, a fix is held to it when it is within ``within[0]``
    metres of it, or within ``within[1]`` while standing still since the fix before.
    """
    near, parked = within
    kept: list[int] = []
    follows: list[bool] = []
    held: dict[int, int] = {}
    xs, ys = points[:, 0].tolist(), points[:, 1].tolist()
    for k, i in enumerate(located.tolist()):
        broken = k == 0 or bool(gap[k - 1])
        if not broken:
            moved = math.hypot(xs[i] - xs[kept[-1]], ys[i] - ys[kept[-1]])
            still = stopped[i] and stopped[int(located[k - 1])]
            if moved <= near or (still and moved <= parked):
                held[i] = kept[-1]
                continue
        kept.append(i)
        follows.append(not broken)
    return np.array(kept, dtype=np.intp), np.array(follows, dtype=np.bool_), held


def _great_circle(fixes: Sequence[Fix], located: NDArray[np.intp]) -> NDArray[np.float64]:
    """Haversine distance between each located fix and the next."""
    lon = np.radians([fixes[i].lon for i in located.tolist()])
    lat = np.radians([fixes[i].lat for i in located.tolist()])
    h = (np.sin(np.diff(lat) / 2) ** 2
         + np.cos(lat[:-1]) * np.cos(lat[1:]) * np.sin(np.diff(lon) / 2) ** 2)  # fmt: skip
    distance: NDArray[np.float64] = 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(h))
    return distance

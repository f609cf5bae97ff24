"""Custody histories: who held each container when, read from the ledger's events.

The ledger orders events by when the server received them; a scanner that was offline for a
day uploads late, so a container's history is ordered by the time its devices claim (the log
index breaks ties). Walking that history with a small state machine gives the custody spans
(holder, at rest or in transit, from when to when) and every place where custody changed hands
without a transfer (a *missing hand-off*: custody follows the actor from there) or two parties
claimed it at once (a *conflict*: the holder stays who it was, so one odd scan does not
cascade).

The whole network of parties is a graph too (``party_graph``): an edge from each giver to each
taker, weighted by the containers and the declared mass that went along it.
"""

from __future__ import annotations

import enum
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import networkx as nx

from custody import _cose
from custody.errors import EventMalformed
from custody.events import NO_PREVIOUS, CustodyEvent, Step, event_hash
from custody.ledger import read_entry

if TYPE_CHECKING:
    from collections.abc import Collection, Iterable, Iterator, Mapping
    from datetime import datetime

    from custody.ports import StoredEntry

__all__ = [
    "ContainerHistory",
    "Jump",
    "JumpKind",
    "Phase",
    "Record",
    "Span",
    "Whereabouts",
    "events_of",
    "histories",
    "party_graph",
    "record_of",
    "records",
    "whereabouts",
]


@dataclass(frozen=True, slots=True)
class Record:
    """One event as the checker sees it: where it sits in the log and when it arrived."""

    index: int  # ledger index; -1 for events replayed from outside files
    received_at: datetime
    event_hash: bytes
    event: CustodyEvent


def record_of(entry: StoredEntry) -> Record:
    """Read a stored entry back, trusting what the ledger checked when it accepted it.

    Neither the signature nor the event's fields are verified again, nor its encoding proved
    canonical (:meth:`CustodyEvent.from_stored_cbor`): ingest did all of that before the entry
    was appended, and ``custody ledger audit`` re-verifies the stored entries. Only entries of
    our own ledger come here; outside events go through ``read_event`` or ``custody.replay``.
    """
    received_at, message = read_entry(entry.entry)
    try:
        payload = _cose.parse_sign1(message).payload
    except _cose.CoseStructureError as exc:
        raise EventMalformed(f"ledger entry {entry.index}: {exc}", zh="账本条目事件格式错误",
                             index=entry.index) from None  # fmt: skip
    event = CustodyEvent.from_stored_cbor(payload)
    return Record(entry.index, received_at, event_hash(message), event)


def records(entries: Iterable[StoredEntry]) -> Iterator[Record]:
    """Each stored entry as a record."""
    return map(record_of, entries)


class Phase(enum.StrEnum):
    """Where a container is in its life."""

    AT_REST = "at-rest"  # held at a site: generator, storage, disposer
    IN_TRANSIT = "in-transit"  # on a vehicle
    ENDED = "ended"  # destroyed, or emptied into another container


class JumpKind(enum.StrEnum):
    """How custody went wrong."""

    MISSING_HANDOFF = "missing-handoff"  # a party acted on a container never handed to it
    CONFLICT = "conflict"  # a party claimed a container another party still held


@dataclass(frozen=True, slots=True)
class Span:
    """One party's custody of a container."""

    holder: str
    phase: Phase
    since: datetime
    opened_by: Record
    until: datetime | None = None  # open while it is the latest span


@dataclass(frozen=True, slots=True)
class Jump:
    """Custody that changed hands with no transfer, or was claimed twice."""

    kind: JumpKind
    container: str
    record: Record  # the event that jumped
    holder: str  # who held the container before it
    phase: Phase  # and how
    since: Record  # the event that gave the holder custody


# Steps by what they do to custody.
_TAKES = frozenset({Step.LOADING, Step.RECEIVING, Step.RETURNING})
_TRANSIT_HOLDS = frozenset({Step.DEPARTING, Step.ARRIVING})
_REST_HOLDS = frozenset({Step.COMMISSIONING, Step.PACKING, Step.STORING})
_OBSERVATIONS = frozenset({Step.PASSING, Step.REJECTING})
_ENDS = frozenset({Step.DESTROYING, Step.CONSOLIDATING, Step.REPACKING})
_MOVING = _TRANSIT_HOLDS | {Step.LOADING}


@dataclass(slots=True)
class ContainerHistory:
    """Everything the ledger says about one container, in the order it happened."""

    container: str
    records: list[Record] = field(default_factory=list)
    spans: list[Span] = field(default_factory=list)
    jumps: list[Jump] = field(default_factory=list)
    forks: dict[bytes, list[Record]] = field(default_factory=dict)  # claimed predecessor
    ended_by: Record | None = None
    after_end: list[Record] = field(default_factory=list)

    @property
    def current(self) -> Span | None:
        """The latest span (open unless the container ended)."""
        return self.spans[-1] if self.spans else None

    def chain(self) -> nx.DiGraph[bytes]:
        """The container's events linked by their back links (an edge from each predecessor)."""
        graph: nx.DiGraph[bytes] = nx.DiGraph()
        for record in self.records:
            graph.add_node(record.event_hash, record=record)
            if self.container in record.event.containers:  # not as a consolidation's parent
                claimed = record.event.prev_of(self.container)
                if claimed != NO_PREVIOUS:
                    graph.add_edge(claimed, record.event_hash)
        return graph

    def first(self, *steps: Step) -> Record | None:
        """The first event with one of these steps."""
        return next((r for r in self.records if r.event.step in steps), None)

    def last(self, *steps: Step) -> Record | None:
        """The last event with one of these steps."""
        return next((r for r in reversed(self.records) if r.event.step in steps), None)

    def walk(self) -> None:
        """Order the records and run the custody state machine over them."""
        self.records.sort(key=lambda r: (r.event.event_time, r.index))
        self.spans.clear()
        self.jumps.clear()
        self.after_end.clear()
        self.ended_by = None
        claims: dict[bytes, list[Record]] = defaultdict(list)
        for record in self.records:
            if self.container in record.event.containers:
                claimed = record.event.prev_of(self.container)
                if claimed != NO_PREVIOUS:
                    claims[claimed].append(record)
            self._step(record)
        self.forks = {prev: found for prev, found in claims.items() if len(found) > 1}

    def _step(self, record: Record) -> None:  # noqa: C901, PLR0912  # one branch per kind of step
        event, step = record.event, record.event.step
        span = self.current
        if span is not None and span.phase is Phase.ENDED:
            self.after_end.append(record)
            return
        if step in _OBSERVATIONS:
            return
        actor = event.party
        if span is None:  # the first custody event opens the history, whatever it is
            phase = Phase.IN_TRANSIT if step in _MOVING else Phase.AT_REST
            self._open(actor, phase, record)
            if self._ends(record):
                self._open(actor, Phase.ENDED, record)
            return
        holder, phase = span.holder, span.phase
        if step in _TAKES:
            giver = event.counterparty or holder
            if step is Step.LOADING:
                if giver != holder:  # taken from someone who did not hold it
                    self._jump(JumpKind.CONFLICT, record)
                    return
                after = Phase.IN_TRANSIT
            else:  # receiving or a return: from a vehicle to a site
                if actor != holder and (phase is not Phase.IN_TRANSIT or giver != holder):
                    self._jump(JumpKind.MISSING_HANDOFF, record)
                after = Phase.AT_REST
            if actor != holder or after is not phase:
                self._open(actor, after, record)
        elif step in _TRANSIT_HOLDS:
            if actor != holder and phase is Phase.IN_TRANSIT:  # two vehicles claim it
                self._jump(JumpKind.CONFLICT, record)
                return
            if actor != holder:  # moved by a party it was never handed to
                self._jump(JumpKind.MISSING_HANDOFF, record)
            if actor != holder or phase is not Phase.IN_TRANSIT:
                self._open(actor, Phase.IN_TRANSIT, record)
        else:  # held at rest: packing, storing, destroying, emptying into another container
            if actor != holder:
                # A party that held the container before and handed it on claims it again:
                # two parties hold it at once, and the holder stays who it was. A party that
                # never held it acting on it is a hand-off nobody recorded.
                if any(s.holder == actor for s in self.spans[:-1]):
                    self._jump(JumpKind.CONFLICT, record)
                    return
                self._jump(JumpKind.MISSING_HANDOFF, record)
                self._open(actor, Phase.AT_REST, record)
            elif phase is not Phase.AT_REST:
                self._open(actor, Phase.AT_REST, record)
            if self._ends(record):
                self._open(actor, Phase.ENDED, record)

    def _ends(self, record: Record) -> bool:
        """Whether this event ends the container: destroyed, or emptied into another one."""
        step = record.event.step
        ends = step is Step.DESTROYING or (
            step in _ENDS and record.event.parent not in (None, self.container)
            and self.container in record.event.containers
        )  # fmt: skip
        if ends:
            self.ended_by = record
        return ends

    def _open(self, holder: str, phase: Phase, record: Record) -> None:
        when = record.event.event_time
        if self.spans:
            last = self.spans[-1]
            self.spans[-1] = Span(last.holder, last.phase, last.since, last.opened_by, when)
        self.spans.append(Span(holder, phase, when, record))

    def _jump(self, kind: JumpKind, record: Record) -> None:
        span = self.spans[-1]
        self.jumps.append(
            Jump(kind, self.container, record, span.holder, span.phase, span.opened_by)
        )


def events_of(
    found: Mapping[str, ContainerHistory], steps: Collection[Step] | None = None
) -> list[Record]:
    """Each event once (a history per container repeats it), in the order they happened.

    ``steps`` keeps only events with one of these steps.
    """
    seen: set[bytes] = set()
    out: list[Record] = []
    for history in found.values():
        for record in history.records:
            if (steps is None or record.event.step in steps) and record.event_hash not in seen:
                seen.add(record.event_hash)
                out.append(record)
    out.sort(key=lambda r: (r.event.event_time, r.index))
    return out


def histories(all_records: Iterable[Record]) -> dict[str, ContainerHistory]:
    """Every container's history (a consolidation's parent included), walked."""
    found: dict[str, ContainerHistory] = {}
    for record in all_records:
        event = record.event
        named = event.containers
        if event.parent is not None and event.parent not in named:  # once, if it lists itself
            named = (*named, event.parent)
        for container in named:
            history = found.get(container)
            if history is None:
                history = found[container] = ContainerHistory(container)
            history.records.append(record)
    for history in found.values():
        history.walk()
    return found


def party_graph(
    found: Mapping[str, ContainerHistory], declared_g: Mapping[str, int] | None = None
) -> nx.DiGraph[str]:
    """The network of parties: an edge from giver to taker for every hand-over of custody.

    Each edge counts the containers and sums their declared mass (grams, when known).
    """
    graph: nx.DiGraph[str] = nx.DiGraph()
    declared_g = declared_g or {}
    for history in found.values():
        for before, after in zip(history.spans, history.spans[1:], strict=False):
            if before.holder == after.holder:
                continue
            if graph.has_edge(before.holder, after.holder):
                data = graph.edges[before.holder, after.holder]
            else:
                graph.add_edge(before.holder, after.holder, containers=0, mass_g=0)
                data = graph.edges[before.holder, after.holder]
            data["containers"] += 1
            data["mass_g"] += declared_g.get(history.container, 0)
    return graph


# -- where a container is, as its generator asks -------------------------------------------


class Whereabouts(enum.StrEnum):
    """Where a container is, as a generator asks it: four states from its latest step."""

    AT_GENERATOR = "at-generator"
    IN_TRANSIT = "in-transit"
    RECEIVED = "received"
    DISPOSED = "disposed"

    @property
    def zh(self) -> str:
        """The state's Chinese name."""
        return _WHEREABOUTS_ZH[self]


_WHEREABOUTS_ZH = {
    Whereabouts.AT_GENERATOR: "未出厂",
    Whereabouts.IN_TRANSIT: "运输中",
    Whereabouts.RECEIVED: "已接收",
    Whereabouts.DISPOSED: "已处置",
}
_MOVING = frozenset({Step.LOADING, Step.DEPARTING, Step.PASSING, Step.ARRIVING,
                     Step.REJECTING, Step.RETURNING})  # fmt: skip


def whereabouts(latest: Record | None, generator: str) -> Whereabouts:
    """The state a container's latest event leaves it in.

    No event yet, or filling, sealing and storing by the generator itself: not yet left.
    Loading through arriving, a refusal and a return: on the road. Receiving, or storing and
    repacking by anyone else: received. Destroying: disposed.
    """
    if latest is None:
        return Whereabouts.AT_GENERATOR
    step = latest.event.step
    if step is Step.DESTROYING:
        return Whereabouts.DISPOSED
    if step in _MOVING:
        return Whereabouts.IN_TRANSIT
    if step is Step.RECEIVING or latest.event.party != generator:
        return Whereabouts.RECEIVED
    return Whereabouts.AT_GENERATOR

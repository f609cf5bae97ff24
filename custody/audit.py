"""Auditing the whole ledger with no trust in the server's derived data.

From the stored entry bytes alone the audit recomputes every leaf hash and every signed
checkpoint's root, verifies every checkpoint's signature and every event's device signature
(spread over all cores), and walks every container's chain for forks. It reports each
problem with the index where it starts; a clean audit means every entry is exactly what was
signed into the log.
"""

from __future__ import annotations

import gc
import os
from collections import deque
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from custody import _merkle
from custody._collector import cycle_collection_paused
from custody.checkpoint import Checkpoint, open_note
from custody.errors import CustodyError
from custody.events import NO_PREVIOUS, verified_links
from custody.ledger import read_entry

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Sequence

    from custody.keys import VerifierKey
    from custody.ports import LedgerStore
    from custody.trust import TrustBundle

__all__ = ["AuditReport", "Problem", "audit"]

#: Entries per chunk: small, so the last one runs alone only briefly (250 to 2,000 measured
#: the same throughput: a task's fixed cost is small next to 250 signatures).
_CHUNK = 250
#: Chunks waiting per worker process: enough to keep it busy, few enough that it does not
#: still have a backlog when this process has checked the last chunk.
_QUEUED = 2


#: One stored entry after checking, as a plain tuple (it crosses between processes, and a
#: named tuple costs three times as much to pickle): index, recomputed leaf hash, whether it
#: matches the stored one, the error ("" when the signature verified), the event's hash, its
#: containers and the predecessors it claims for them.
_Checked = tuple[int, bytes, bool, str, bytes, tuple[str, ...], tuple[bytes, ...]]


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing the audit found wrong, where it starts, and what it is."""

    index: int
    kind: str
    detail: str


@dataclass(slots=True)
class AuditReport:
    """What the audit checked and what it found."""

    entries: int = 0
    checkpoints: int = 0
    signatures: int = 0
    containers: int = 0
    problems: list[Problem] = field(default_factory=list)
    forks: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """No tampering found (forks are business anomalies, reported apart)."""
        return not self.problems

    @property
    def first_bad_index(self) -> int | None:
        """The lowest index at which something is wrong."""
        return min((p.index for p in self.problems), default=None)


def _check_chunk(chunk: Sequence[tuple[int, bytes, bytes]], bundle: TrustBundle) -> list[_Checked]:
    """Per stored entry: its recomputed leaf, and its verified signature and chain links."""
    out: list[_Checked] = []
    for index, entry, stored_leaf in chunk:
        leaf = _merkle.leaf_hash(entry)
        try:
            received_at, message = read_entry(entry)
            digest, containers, prev = verified_links(message, bundle, received_at)
        except CustodyError as exc:
            error = f"{exc.code}: {exc.message}"
            out.append((index, leaf, leaf == stored_leaf, error, b"", (), ()))
            continue
        out.append((index, leaf, leaf == stored_leaf, "", digest, containers, prev))
    return out


class _Worker:
    """What a worker process keeps between chunks (set by its initializer)."""

    bundle: TrustBundle


def _init_worker(bundle: TrustBundle) -> None:
    _Worker.bundle = bundle
    # A worker lives for one audit and makes no cycles; a collection would walk the heap it
    # inherited from its parent (and copy its pages, touching every reference count).
    gc.disable()


def _check_chunk_in_worker(chunk: Sequence[tuple[int, bytes, bytes]]) -> list[_Checked]:
    return _check_chunk(chunk, _Worker.bundle)


def audit(
    store: LedgerStore,
    log_key: VerifierKey,
    bundle: TrustBundle,
    *,
    workers: int | None = None,
) -> AuditReport:
    """Check everything; ``workers`` processes verify signatures (default: every core).

    This process is one of them: it reads the entries in small chunks, hands each to one of
    ``workers - 1`` worker processes while few wait there and checks it itself otherwise,
    and keeps only the chains' heads and the roots the checkpoints name. (Workers reading
    their own chunks was tried: it moved the reading, not the total.)
    """
    with cycle_collection_paused():  # many objects, no cycles (see custody/_collector.py)
        return _audit(store, log_key, bundle, workers)


def _audit(
    store: LedgerStore, log_key: VerifierKey, bundle: TrustBundle, workers: int | None
) -> AuditReport:
    report = AuditReport()
    # Checkpoints before the size: an append writes its checkpoint and the state together, so
    # every checkpoint read here lies within the size read next, appends running or not.
    checkpoints = store.checkpoints()
    size = store.state().size
    # Roots are rebuilt as the leaves come in, so nothing but the verdicts is left at the end.
    tree = _Tree({row_size for row_size, _, _ in checkpoints})
    spans = [(start, min(size, start + _CHUNK)) for start in range(0, size, _CHUNK)]
    processes = workers or os.cpu_count() or 1
    if processes > 1 and size > _CHUNK:
        helpers = processes - 1  # this process verifies too
        with ProcessPoolExecutor(helpers, initializer=_init_worker, initargs=(bundle,)) as pool:
            checked = _shared(pool, store, spans, bundle, queued=_QUEUED * helpers)
            _collect(checked, size, tree, report)
    else:
        checked = (r for span in spans for r in _check_chunk(store.leaf_data(*span), bundle))
        _collect(checked, size, tree, report)
    _check_checkpoints(checkpoints, log_key, tree, report)
    report.problems.sort(key=lambda p: p.index)
    return report


def _shared(
    pool: ProcessPoolExecutor,
    store: LedgerStore,
    spans: list[tuple[int, int]],
    bundle: TrustBundle,
    *,
    queued: int,
) -> Iterator[_Checked]:
    """The checked entries in order, verified by the workers and by this process.

    A chunk goes to the workers while fewer than ``queued`` wait there; otherwise this process
    checks it itself. So every core verifies, none waits on another until the last chunks,
    and only a few chunks are ever read ahead.
    """
    window: deque[Future[list[_Checked]] | list[_Checked]] = deque()
    waiting = 0
    for span in spans:
        while window and (isinstance(window[0], list) or window[0].done()):
            done = window.popleft()
            if not isinstance(done, list):
                waiting -= 1
                done = done.result()
            yield from done
        rows = store.leaf_data(*span)
        if waiting < queued:
            window.append(pool.submit(_check_chunk_in_worker, rows))
            waiting += 1
        else:
            window.append(_check_chunk(rows, bundle))
    for rest in window:
        yield from rest if isinstance(rest, list) else rest.result()


class _Tree:
    """The log rebuilt leaf by leaf, keeping its roots at the sizes the checkpoints name."""

    def __init__(self, sizes: set[int]) -> None:
        self.size = 0
        self.roots: dict[int, bytes] = {}
        self._sizes = sizes
        self._range = _merkle.CompactRange()

    def append(self, leaf: bytes) -> None:
        self._range.append(leaf)
        self.size += 1
        if self.size in self._sizes:
            self.roots[self.size] = self._range.root()


_UNKNOWN_LEAF = b"\0" * 32  # stands in for a missing row: its leaf cannot be recomputed


def _collect(checked: Iterable[_Checked], size: int, tree: _Tree, report: AuditReport) -> None:
    """Take the checked entries in index order: note gaps, bad leaves, bad signatures, forks."""
    latest: dict[str, bytes] = {}
    seen: dict[str, set[bytes]] = {}
    for position, leaf, leaf_ok, error, digest, containers, prev in checked:
        while tree.size < position:
            report.problems.append(Problem(tree.size, "entry-missing", "no entry stored"))
            tree.append(_UNKNOWN_LEAF)
        if not leaf_ok:
            report.problems.append(
                Problem(position, "leaf-mismatch", "entry bytes do not hash to the leaf")
            )
        tree.append(leaf)
        report.entries += 1
        if error:
            report.problems.append(Problem(position, "event-signature", error))
            continue
        report.signatures += 1
        for container, claimed in zip(containers, prev, strict=True):
            heads = seen.setdefault(container, set())
            if claimed != latest.get(container, NO_PREVIOUS):
                kind = (
                    "unlinked" if claimed == NO_PREVIOUS
                    else "fork" if claimed in heads
                    else "unknown-predecessor"
                )  # fmt: skip
                report.forks.append(Problem(position, kind, container))
            heads.add(digest)
            latest[container] = digest
    while tree.size < size:
        report.problems.append(Problem(tree.size, "entry-missing", "no entry stored"))
        tree.append(_UNKNOWN_LEAF)
    report.containers = len(latest)


def _check_checkpoints(
    checkpoints: Sequence[tuple[int, bytes, bytes]],
    log_key: VerifierKey,
    tree: _Tree,
    report: AuditReport,
) -> None:
    previous_ok = 0
    for size, _, note in checkpoints:
        report.checkpoints += 1
        try:
            body, _ = open_note(note, [log_key])
            point = Checkpoint.parse_body(body)
        except CustodyError as exc:
            report.problems.append(Problem(previous_ok, "checkpoint-signature", exc.message))
            continue
        if point.size != size or point.size > tree.size:
            report.problems.append(
                Problem(previous_ok, "checkpoint-size", f"checkpoint says {point.size}, row {size}")
            )
        elif tree.roots.get(point.size) != point.root:
            report.problems.append(
                Problem(
                    previous_ok,
                    "root-mismatch",
                    f"entries {previous_ok}..{size - 1} do not give the root signed at size {size}",
                )
            )
        else:
            previous_ok = size

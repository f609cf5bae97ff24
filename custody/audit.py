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
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from custody import _merkle
from custody._collector import cycle_collection_paused
from custody.checkpoint import Checkpoint, open_note
from custody.errors import CustodyError
from custody.events import NO_PREVIOUS, verified_links
from custody.ledger import read_entry

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from custody.keys import VerifierKey
    from custody.ports import LedgerStore
    from custody.trust import TrustBundle

__all__ = ["AuditReport", "Problem", "audit"]

# Small chunks keep both cores busy to the end: with a few large ones the last runs alone.
_CHUNK = 250


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


def _rows(store: LedgerStore, start: int, stop: int) -> list[tuple[int, bytes, bytes]]:
    return [(e.index, e.entry, e.leaf_hash) for e in store.entries(start, stop)]


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

    This process reads the entries in small chunks and hands each to a worker as soon as it
    is read, so reading overlaps with checking; it keeps only leaf hashes and chain links.
    (Workers reading their own chunks was tried: it moved the reading, not the total.)
    """
    with cycle_collection_paused():  # many objects, no cycles (see custody/_collector.py)
        return _audit(store, log_key, bundle, workers)


def _audit(
    store: LedgerStore,
    log_key: VerifierKey,
    bundle: TrustBundle,
    workers: int | None,
) -> AuditReport:
    report = AuditReport()
    size = store.state().size
    spans = [(start, min(size, start + _CHUNK)) for start in range(0, size, _CHUNK)]
    processes = workers or os.cpu_count() or 1
    if processes > 1 and size > _CHUNK:
        with ProcessPoolExecutor(processes, initializer=_init_worker, initargs=(bundle,)) as pool:
            pending = [pool.submit(_check_chunk_in_worker, _rows(store, *s)) for s in spans]
            leaves = _collect((r for f in pending for r in f.result()), size, report)
    else:
        checked = (r for span in spans for r in _check_chunk(_rows(store, *span), bundle))
        leaves = _collect(checked, size, report)
    _check_checkpoints(store, log_key, leaves, report)
    report.problems.sort(key=lambda p: p.index)
    return report


def _collect(checked: Iterable[_Checked], size: int, report: AuditReport) -> list[bytes]:
    """Take the checked entries in index order: note gaps, bad leaves, bad signatures, forks."""
    leaves: list[bytes] = []
    latest: dict[str, bytes] = {}
    seen: dict[str, set[bytes]] = {}
    for position, leaf, leaf_ok, error, digest, containers, prev in checked:
        while len(leaves) < position:  # a missing row: its leaf cannot be recomputed
            report.problems.append(Problem(len(leaves), "entry-missing", "no entry stored"))
            leaves.append(b"\0" * 32)
        if not leaf_ok:
            report.problems.append(
                Problem(position, "leaf-mismatch", "entry bytes do not hash to the leaf")
            )
        leaves.append(leaf)
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
    while len(leaves) < size:
        report.problems.append(Problem(len(leaves), "entry-missing", "no entry stored"))
        leaves.append(b"\0" * 32)
    report.containers = len(latest)
    return leaves


def _check_checkpoints(
    store: LedgerStore, log_key: VerifierKey, leaves: list[bytes], report: AuditReport
) -> None:
    roots = _prefix_roots(leaves, [size for size, _, _ in store.checkpoints()])
    previous_ok = 0
    for size, _, note in store.checkpoints():
        report.checkpoints += 1
        try:
            body, _ = open_note(note, [log_key])
            point = Checkpoint.parse_body(body)
        except CustodyError as exc:
            report.problems.append(Problem(previous_ok, "checkpoint-signature", exc.message))
            continue
        if point.size != size or point.size > len(leaves):
            report.problems.append(
                Problem(previous_ok, "checkpoint-size", f"checkpoint says {point.size}, row {size}")
            )
        elif roots[point.size] != point.root:
            report.problems.append(
                Problem(
                    previous_ok,
                    "root-mismatch",
                    f"entries {previous_ok}..{size - 1} do not give the root signed at size {size}",
                )
            )
        else:
            previous_ok = size


def _prefix_roots(leaves: list[bytes], sizes: Iterable[int]) -> dict[int, bytes]:
    wanted = set(sizes)
    roots: dict[int, bytes] = {}
    compact = _merkle.CompactRange()
    for leaf in leaves:
        compact.append(leaf)
        if compact.size in wanted:
            roots[compact.size] = compact.root()
    return roots

"""Auditing the whole ledger with no trust in the server's derived data.

From the stored entry bytes alone the audit recomputes every leaf hash and every signed
checkpoint's root, verifies every checkpoint's signature and every event's device signature
(spread over all cores), and walks every container's chain for forks. It reports each
problem with the index where it starts; a clean audit means every entry is exactly what was
signed into the log.
"""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

from custody import _merkle
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

# Small chunks keep both cores busy to the end: with a few large ones the last runs alone.
_CHUNK = 250


class _Checked(NamedTuple):
    """One stored entry after checking: what the main process needs, and nothing more."""

    position: int
    leaf: bytes
    leaf_ok: bool
    error: str = ""
    digest: bytes = b""
    containers: tuple[str, ...] = ()
    prev: tuple[bytes, ...] = ()


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
            out.append(_Checked(index, leaf, leaf == stored_leaf, f"{exc.code}: {exc.message}"))
            continue
        out.append(_Checked(index, leaf, leaf == stored_leaf, "", digest, containers, prev))
    return out


_worker_bundle: list[TrustBundle] = []  # set once per worker process by its initializer


def _init_worker(bundle: TrustBundle) -> None:
    _worker_bundle[:] = [bundle]


def _check_chunk_in_worker(chunk: Sequence[tuple[int, bytes, bytes]]) -> list[_Checked]:
    return _check_chunk(chunk, _worker_bundle[0])


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
    """
    report = AuditReport()
    size = store.state().size

    def chunks() -> Iterator[list[tuple[int, bytes, bytes]]]:
        for start in range(0, size, _CHUNK):
            stored = store.entries(start, min(size, start + _CHUNK))
            yield [(e.index, e.entry, e.leaf_hash) for e in stored]

    processes = workers or os.cpu_count() or 1
    if processes > 1 and size > _CHUNK:
        with ProcessPoolExecutor(processes, initializer=_init_worker, initargs=(bundle,)) as pool:
            pending = [pool.submit(_check_chunk_in_worker, chunk) for chunk in chunks()]
            leaves = _collect((r for f in pending for r in f.result()), size, report)
    else:
        leaves = _collect((r for c in chunks() for r in _check_chunk(c, bundle)), size, report)
    _check_checkpoints(store, log_key, leaves, report)
    report.problems.sort(key=lambda p: p.index)
    return report


def _collect(checked: Iterable[_Checked], size: int, report: AuditReport) -> list[bytes]:
    """Take the checked entries in index order: note gaps, bad leaves, bad signatures, forks."""
    leaves: list[bytes] = []
    latest: dict[str, bytes] = {}
    seen: dict[str, set[bytes]] = {}
    for item in checked:
        while len(leaves) < item.position:  # a missing row: its leaf cannot be recomputed
            report.problems.append(Problem(len(leaves), "entry-missing", "no entry stored"))
            leaves.append(b"\0" * 32)
        if not item.leaf_ok:
            report.problems.append(
                Problem(item.position, "leaf-mismatch", "entry bytes do not hash to the leaf")
            )
        leaves.append(item.leaf)
        report.entries += 1
        if item.error:
            report.problems.append(Problem(item.position, "event-signature", item.error))
            continue
        report.signatures += 1
        for container, claimed in zip(item.containers, item.prev, strict=True):
            heads = seen.setdefault(container, set())
            if claimed != latest.get(container, NO_PREVIOUS):
                kind = (
                    "unlinked" if claimed == NO_PREVIOUS
                    else "fork" if claimed in heads
                    else "unknown-predecessor"
                )  # fmt: skip
                report.forks.append(Problem(item.position, kind, container))
            heads.add(item.digest)
            latest[container] = item.digest
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

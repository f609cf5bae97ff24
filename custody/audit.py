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
from typing import TYPE_CHECKING

from custody import _merkle
from custody.checkpoint import Checkpoint, open_note
from custody.errors import CustodyError
from custody.events import NO_PREVIOUS, verified_links
from custody.ledger import read_entry

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from custody.keys import VerifierKey
    from custody.ports import LedgerStore, StoredEntry
    from custody.trust import TrustBundle

__all__ = ["AuditReport", "Problem", "audit"]

_CHUNK = 2000


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


def _verify_chunk(
    chunk: Sequence[tuple[int, bytes]], bundle: TrustBundle
) -> list[tuple[int, str, bytes, tuple[str, ...], tuple[bytes, ...]]]:
    """Verify entries' event signatures; per entry: index, error, event hash, containers, prev."""
    out: list[tuple[int, str, bytes, tuple[str, ...], tuple[bytes, ...]]] = []
    for index, entry in chunk:
        try:
            _, message = read_entry(entry)
            digest, containers, prev = verified_links(message, bundle)
        except CustodyError as exc:
            out.append((index, f"{exc.code}: {exc.message}", b"", (), ()))
            continue
        out.append((index, "", digest, containers, prev))
    return out


def audit(
    store: LedgerStore,
    log_key: VerifierKey,
    bundle: TrustBundle,
    *,
    workers: int | None = None,
) -> AuditReport:
    """Check everything; ``workers`` processes verify signatures (default: every core).

    Entries are read once. Signature checks start in the worker processes at once, while
    this process recomputes leaves and roots, so the two overlap.
    """
    report = AuditReport()
    size = store.state().size
    entries = [
        e
        for start in range(0, size, _CHUNK)
        for e in store.entries(start, min(size, start + _CHUNK))
    ]
    chunks = [
        [(e.index, e.entry) for e in entries[i : i + _CHUNK]]
        for i in range(0, len(entries), _CHUNK)
    ]
    processes = workers or os.cpu_count() or 1
    if processes > 1 and len(chunks) > 1:
        with ProcessPoolExecutor(max_workers=processes) as pool:
            pending = pool.map(_verify_chunk, chunks, [bundle] * len(chunks))
            leaves = _leaves(entries, size, report)
            _check_checkpoints(store, log_key, leaves, report)
            results = [r for part in pending for r in part]
    else:
        leaves = _leaves(entries, size, report)
        _check_checkpoints(store, log_key, leaves, report)
        results = [r for chunk in chunks for r in _verify_chunk(chunk, bundle)]
    _check_chains(results, report)
    report.problems.sort(key=lambda p: p.index)
    return report


def _leaves(entries: list[StoredEntry], size: int, report: AuditReport) -> list[bytes]:
    leaves: list[bytes] = []
    for entry in entries:
        while len(leaves) < entry.index:  # a missing row: its leaf cannot be recomputed
            report.problems.append(Problem(len(leaves), "entry-missing", "no entry stored"))
            leaves.append(b"\0" * 32)
        recomputed = _merkle.leaf_hash(entry.entry)
        if recomputed != entry.leaf_hash:
            report.problems.append(
                Problem(entry.index, "leaf-mismatch", "entry bytes do not hash to the leaf")
            )
        leaves.append(recomputed)
        report.entries += 1
    while len(leaves) < size:
        report.problems.append(Problem(len(leaves), "entry-missing", "no entry stored"))
        leaves.append(b"\0" * 32)
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


def _check_chains(
    results: list[tuple[int, str, bytes, tuple[str, ...], tuple[bytes, ...]]],
    report: AuditReport,
) -> None:
    heads: dict[str, set[bytes]] = {}
    latest: dict[str, bytes] = {}
    for index, error, digest, containers, prev in sorted(results):
        if error:
            report.problems.append(Problem(index, "event-signature", error))
            continue
        report.signatures += 1
        for container, claimed in zip(containers, prev, strict=True):
            seen = heads.setdefault(container, set())
            if claimed != latest.get(container, NO_PREVIOUS):
                kind = (
                    "fork" if claimed in seen or claimed == NO_PREVIOUS else "unknown-predecessor"
                )
                report.forks.append(Problem(index, kind, container))
            seen.add(digest)
            latest[container] = digest
    report.containers = len(latest)

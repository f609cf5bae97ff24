"""Auditing the whole ledger with no trust in the server's derived data.

From the stored entry bytes alone the audit recomputes every leaf hash and every signed
checkpoint's root, verifies every checkpoint's signature and every event's device signature
(spread over all cores), and walks every container's chain for forks. It reports each
problem with the index where it starts; a clean audit means every entry is exactly what was
signed into the log.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import sys
from collections import deque
from contextlib import contextmanager
from dataclasses import dataclass, field
from operator import attrgetter
from typing import TYPE_CHECKING

from custody import _merkle
from custody._collector import cycle_collection_paused
from custody.checkpoint import Checkpoint, open_note
from custody.errors import AuditInterrupted, CustodyError
from custody.events import NO_PREVIOUS, verified_links
from custody.ledger import read_entry

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Sequence
    from multiprocessing.connection import Connection
    from multiprocessing.queues import Queue

    from custody.keys import VerifierKey
    from custody.ports import LedgerStore
    from custody.trust import TrustBundle

    _Rows = Sequence[tuple[int, bytes, bytes]]  # index, entry bytes, stored leaf hash

__all__ = ["AuditReport", "Problem", "audit"]

#: Entries per chunk: 250 audited fastest of 125, 250, 500 and 1,000 (a chunk's fixed cost is
#: small next to 250 signatures).
_CHUNK = 250
#: The last chunks are cut down toward this many entries, so no core is left checking a long
#: chunk alone at the end.
_SMALLEST = 25
#: Chunks waiting per helper process: enough to keep it busy, few enough that it does not
#: still have a backlog when this process has checked the last chunk.
_QUEUED = 2
#: Seconds a helper that stopped gets to report its exit code.
_PATIENCE = 5.0
#: Helpers are forked on Linux, whatever the interpreter's default: they start in a few
#: milliseconds with everything imported, and nothing else runs in the process when they
#: fork (the queues' feeder threads start later). Python 3.14's default there, "forkserver",
#: imports the parent's main module again in each helper: 0.56 of the limit in
#: bench_ledger.py against 0.80.
_START = multiprocessing.get_context("fork" if sys.platform == "linux" else None)


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


def _check_chunk(chunk: _Rows, bundle: TrustBundle) -> list[_Checked]:
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


def _verify_chunks(tasks: Queue[_Rows | None], results: Connection, bundle: TrustBundle) -> None:
    """A helper process: check each chunk it is sent, in order, until it is sent ``None``."""
    # It lives for one audit and makes no cycles; a collection would walk the heap it
    # inherited from its parent (and copy its pages, touching every reference count).
    gc.disable()
    while (rows := tasks.get()) is not None:
        results.send(_check_chunk(rows, bundle))


class _Helper:
    """One verifying process: chunks go to it through a queue, verdicts come back in order.

    Two plain channels rather than a ProcessPoolExecutor, whose manager thread and futures
    cost about half a millisecond per chunk here, 2 µs an entry (docs/ledger.md).
    """

    def __init__(self, bundle: TrustBundle) -> None:
        self.waiting = 0  # chunks sent whose verdicts were not taken yet
        self._tasks: Queue[_Rows | None] = _START.Queue()  # a thread feeds it
        self._verdicts, sending_end = _START.Pipe(duplex=False)
        self._process = _START.Process(
            target=_verify_chunks,
            args=(self._tasks, sending_end, bundle),
            name="custody-audit",
            daemon=True,
        )
        self._process.start()
        sending_end.close()  # so the pipe ends when the helper does

    def send(self, rows: _Rows) -> None:
        self._tasks.put(rows)
        self.waiting += 1

    def ready(self) -> bool:
        """Whether the verdicts on the oldest chunk sent can be taken without waiting."""
        return self._verdicts.poll()

    def take(self) -> list[_Checked]:
        """The verdicts on the oldest chunk sent and not yet taken."""
        try:
            verdicts: list[_Checked] = self._verdicts.recv()
        except EOFError:
            self._process.join(_PATIENCE)
            raise AuditInterrupted(
                f"a verifying process stopped (exit code {self._process.exitcode}); "
                "nothing was concluded, run the audit again",
                zh="审计进程意外终止，未得出结论，请重新审计",
            ) from None
        self.waiting -= 1
        return verdicts

    def stop(self, *, finished: bool) -> None:
        """Let the helper exit, or end it when the audit stopped part way."""
        if finished:
            self._tasks.put(None)
        else:
            self._tasks.cancel_join_thread()  # chunks still queued are dropped
            self._process.terminate()
        self._tasks.close()
        self._process.join()
        self._verdicts.close()


@contextmanager
def _helpers(count: int, bundle: TrustBundle) -> Iterator[list[_Helper]]:
    # Every helper starts before anything is queued: no feeder thread yet when they fork.
    helpers = [_Helper(bundle) for _ in range(count)]
    finished = False
    try:
        yield helpers
        finished = True
    finally:
        for helper in helpers:
            helper.stop(finished=finished)


def audit(
    store: LedgerStore,
    log_key: VerifierKey,
    bundle: TrustBundle,
    *,
    workers: int | None = None,
) -> AuditReport:
    """Check everything; ``workers`` processes verify signatures (default: every core).

    This process is one of them: it reads the entries in small chunks, hands each to one of
    ``workers - 1`` helper processes while few wait there and checks it itself otherwise,
    and keeps only the chains' heads and the roots the checkpoints name. (Helpers reading
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
    processes = workers or os.cpu_count() or 1
    if processes > 1 and size > _CHUNK:
        with _helpers(processes - 1, bundle) as helpers:  # this process verifies too
            chunks = _tapered(store.leaf_data(size, _CHUNK), size, processes)
            checked = _shared(helpers, chunks, bundle)
            _collect(checked, size, tree, report)
    else:
        checked = (r for rows in store.leaf_data(size, _CHUNK) for r in _check_chunk(rows, bundle))
        _collect(checked, size, tree, report)
    _check_checkpoints(checkpoints, log_key, tree, report)
    report.problems.sort(key=lambda p: p.index)
    return report


def _shared(
    helpers: list[_Helper], chunks: Iterable[_Rows], bundle: TrustBundle
) -> Iterator[_Checked]:
    """The checked entries in order, verified by the helpers and by this process.

    A chunk goes to the least busy helper while fewer than ``_QUEUED`` wait there; otherwise
    this process checks it itself. So every core verifies, none waits on another until the
    last chunks, and only a few chunks are ever read ahead.
    """
    window: deque[list[_Checked] | _Helper] = deque()  # a helper stands for its next verdicts
    for rows in chunks:
        while window and (isinstance(window[0], list) or window[0].ready()):
            done = window.popleft()
            yield from done if isinstance(done, list) else done.take()
        helper = min(helpers, key=attrgetter("waiting"))
        if helper.waiting < _QUEUED:
            helper.send(rows)
            window.append(helper)
        else:
            window.append(_check_chunk(rows, bundle))
    for rest in window:
        yield from rest if isinstance(rest, list) else rest.take()


def _tapered(chunks: Iterable[_Rows], size: int, processes: int) -> Iterator[_Rows]:
    """The chunks, cut smaller toward the end (guided self-scheduling).

    A piece is at most a ``2 * processes``-th of the entries left, so the cores finish within
    a small piece of each other: with whole chunks to the end, the last process still busy
    worked alone for about a chunk and a half, 4 % of a 10,000-entry audit.
    """
    for rows in chunks:
        start = 0
        while start < len(rows):
            piece = max(_SMALLEST, (size - rows[start][0]) // (2 * processes))
            yield rows if start == 0 and piece >= len(rows) else rows[start : start + piece]
            start += piece


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
    latest: dict[str, bytes] = {}  # each container's newest event
    named: dict[bytes, tuple[str, ...]] = {}  # every event so far, and the containers it names
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
        named[digest] = containers
        for container, claimed in zip(containers, prev, strict=True):
            if claimed != latest.get(container, NO_PREVIOUS):
                kind = (
                    "unlinked" if claimed == NO_PREVIOUS
                    else "fork" if container in named.get(claimed, ())
                    else "unknown-predecessor"
                )  # fmt: skip
                report.forks.append(Problem(position, kind, container))
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

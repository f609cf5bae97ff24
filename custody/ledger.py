"""The custody ledger: signed events appended to a Merkle log with signed checkpoints.

Each entry is ``CBOR [1, received_at_ms, signed_event_bytes]``: the device's exact signed
bytes, wrapped with the time the server received them (the server's clock orders the log; the
device's clock is a claim). Leaf and node hashes follow RFC 6962. After every append the log
signs a C2SP checkpoint (``origin / size / root``) with its own key.

The log never signs two checkpoints that disagree: each append starts from the stored compact
range, checks it against the last signed root, extends it, and signs the result, all inside
one exclusive transaction. Appends are batched, so one lock, one commit and one signature
serve many events.

The ledger records what happened, not what should have happened: an event whose back link
does not match its container's latest entry is still appended, and the anomaly (a fork, or a
predecessor not seen yet) is recorded beside it for the checker.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import cbor2

from custody import _merkle
from custody._collector import cycle_collection_paused
from custody._millis import from_millis, to_millis
from custody.checkpoint import Checkpoint, open_note, sign_note
from custody.errors import ConflictError, LedgerTampered, NotFoundError, ProofInvalid
from custody.events import NO_PREVIOUS
from custody.ports import AppendBatch, ChainFlag, LedgerState, NewEntry, StoredEntry

if TYPE_CHECKING:
    from collections.abc import Sequence

    from custody.events import SignedEvent
    from custody.keys import SigningKey, VerifierKey
    from custody.ports import LedgerStore, LedgerWriter

__all__ = ["Ledger", "Receipt", "make_entry", "read_entry", "verify_extension"]

_ENTRY_SCHEMA = 1


def make_entry(received_at: datetime, message: bytes) -> bytes:
    """The leaf data: schema, receive time in milliseconds, the signed event bytes."""
    return _entry(to_millis(received_at), message)


def _entry(millis: int, message: bytes) -> bytes:
    return cbor2.dumps([_ENTRY_SCHEMA, millis, message], canonical=True)


def read_entry(entry: bytes) -> tuple[datetime, bytes]:
    """Split leaf data into receive time and signed event bytes."""
    try:
        schema, millis, message = cbor2.loads(entry)
        if schema != _ENTRY_SCHEMA or not isinstance(message, bytes):
            raise ValueError("entry schema")  # noqa: TRY301  # reported below
        return from_millis(millis), message
    except (ValueError, TypeError, cbor2.CBORDecodeError, OverflowError, OSError) as exc:
        raise LedgerTampered(
            f"a ledger entry is not in the entry format: {exc}", zh="账本条目格式被破坏"
        ) from exc


@dataclass(frozen=True, slots=True)
class Receipt:
    """Proof that an event is in the log: its index, and an inclusion proof to a checkpoint."""

    index: int
    event_id: str
    event_hash: bytes
    leaf_hash: bytes
    size: int
    proof: tuple[bytes, ...]
    checkpoint: bytes  # the signed note of the tree of ``size`` leaves
    duplicate: bool  # the event was in the log already: this is its original place
    received_at: datetime | None = None  # the leaf's receive time: with it the leaf is rebuilt

    def verify(self, log_key: VerifierKey, message: bytes | None = None) -> None:
        """Check the checkpoint signature and the inclusion proof; raise if either fails.

        Given the signed event bytes the device sent, also check that the proven leaf is the
        entry of exactly those bytes at ``received_at``, not merely some leaf of the log.
        """
        if message is not None:
            if self.received_at is None:
                raise ProofInvalid("the receipt has no receive time to rebuild its leaf from",
                                   zh="回执缺少接收时间，无法重建叶子")  # fmt: skip
            if _merkle.leaf_hash(make_entry(self.received_at, message)) != self.leaf_hash:
                raise ProofInvalid(
                    "the receipt's leaf is not the entry of the event sent",
                    zh="回执中的叶子不是所发送事件的账本条目",
                )
        body, _ = open_note(self.checkpoint, [log_key])
        point = Checkpoint.parse_body(body)
        if point.size != self.size:
            raise ProofInvalid(
                f"receipt for size {self.size} carries a checkpoint of size {point.size}",
                zh="回执中的树大小与检查点不符",
            )
        try:
            _merkle.verify_inclusion(self.leaf_hash, self.index, self.size, self.proof, point.root)
        except _merkle.ProofError as exc:
            raise ProofInvalid(f"inclusion proof fails: {exc}", zh="包含性证明不成立") from exc


def verify_extension(old_note: bytes, new_note: bytes, proof: Sequence[bytes],
                     log_key: VerifierKey) -> tuple[Checkpoint, Checkpoint]:  # fmt: skip
    """Check that the checkpoint ``new_note`` extends ``old_note`` (both signed by ``log_key``).

    What a scanner or monitor does with every new checkpoint it is shown: a log that showed
    it one history and now shows another fails here, and the two signed notes prove it.
    Raises ``ProofInvalid`` (or the note's signature errors); returns both checkpoints.
    """
    old = Checkpoint.parse_body(open_note(old_note, [log_key])[0])
    new = Checkpoint.parse_body(open_note(new_note, [log_key])[0])
    if old.origin != new.origin:
        raise ProofInvalid(
            f"checkpoints of two logs: {old.origin} and {new.origin}", zh="两个检查点来自不同日志"
        )
    try:
        _merkle.verify_consistency(old.size, new.size, old.root, new.root, proof)
    except _merkle.ProofError as exc:
        raise ProofInvalid(
            f"the log at size {new.size} does not extend the one signed at size {old.size}: {exc}",
            zh=f"树大小 {new.size} 的日志不是树大小 {old.size} 时已签名日志的延续：账本历史被改写",
            old_size=old.size,
            new_size=new.size,
        ) from exc
    return old, new


class Ledger:
    """Append and prove, over any :class:`~custody.ports.LedgerStore`."""

    def __init__(self, store: LedgerStore, log_key: SigningKey, origin: str) -> None:
        self.store = store
        self._key = log_key
        self.origin = origin

    @property
    def verifier(self) -> VerifierKey:
        """The key that verifies this log's checkpoints."""
        return self._key.record.verifier_key

    # -- appending -------------------------------------------------------------------------

    def append(
        self, events: Sequence[SignedEvent], received_at: datetime | None = None
    ) -> list[Receipt]:
        """Append verified events in order; an event already in the log keeps its place."""
        when = received_at or datetime.now(UTC)
        made: dict[tuple[int, int], bytes] = {}
        placed: list[tuple[StoredEntry | NewEntry, bool]] = []
        # A batch makes tens of thousands of objects and no cycles: a collection fired by
        # them would walk the whole heap (about a fifth of a batch's time in bench_ledger).
        with cycle_collection_paused():
            with self.store.writer() as writer:
                state = writer.state()
                self._check(state)
                made = _peak_ranges(state)
                new, nodes, heads, flags, peaks, placed = self._extend(writer, state, events, when)
                if new:
                    size = state.size + len(new)
                    root = _merkle.CompactRange.from_list(size, peaks).root()
                    note = sign_note(Checkpoint(self.origin, size, root).body(), self._key)
                    state = LedgerState(size, peaks, note)
                    writer.write(AppendBatch(new, nodes, heads, flags, state, root))
                    made.update({(lo, hi): h for lo, hi, h in nodes})
            stamped = read_entry(new[0].entry)[0] if new else None
            return self._receipts(placed, state, made, stamped)

    def _extend(  # the pieces of one append, returned together
        self,
        writer: LedgerWriter,
        state: LedgerState,
        events: Sequence[SignedEvent],
        when: datetime,
    ) -> tuple[
        list[NewEntry],
        list[tuple[int, int, bytes]],
        dict[str, bytes],
        list[ChainFlag],
        list[bytes],
        list[tuple[StoredEntry | NewEntry, bool]],
    ]:
        earlier: dict[str, StoredEntry | NewEntry] = dict(
            writer.existing([s.event.event_id for s in events])
        )
        containers = sorted({c for s in events for c in s.event.containers})
        heads = writer.heads(containers)
        in_batch: dict[str, set[bytes]] = {}
        peaks, size = list(state.peaks), state.size
        new: list[NewEntry] = []
        nodes: list[tuple[int, int, bytes]] = []
        flags: list[ChainFlag] = []
        changed: dict[str, bytes] = {}
        placed: list[tuple[StoredEntry | NewEntry, bool]] = []
        millis = to_millis(when)  # one receive time for the batch
        for signed in events:
            event, digest = signed.event, signed.event_hash
            prior = earlier.get(event.event_id)
            if prior is not None:
                if prior.event_hash != digest:
                    raise _reused(event.event_id)
                placed.append((prior, True))
                continue
            for container in event.containers:
                claimed, head = event.prev_of(container), heads.get(container, NO_PREVIOUS)
                if claimed != head:
                    kind = _chain_flag(writer, container, claimed, in_batch.get(container, set()))
                    flags.append(ChainFlag(kind, container, size, claimed, head))
                heads[container] = changed[container] = digest
                in_batch.setdefault(container, set()).add(digest)
            entry = _entry(millis, signed.message)
            leaf = _merkle.leaf_hash(entry)
            nodes += _merkle.new_subtrees(size, leaf, peaks)
            made = NewEntry(size, event.event_id, digest, entry, leaf, event.containers, when,
                            event.device, event.counter, event.parent)  # fmt: skip
            new.append(made)
            earlier[event.event_id] = made  # a replay later in the batch gets this place
            placed.append((made, False))
            size += 1
        return new, nodes, changed, flags, peaks, placed

    def _check(self, state: LedgerState) -> None:
        """Refuse to extend a log whose stored state disagrees with its last signature."""
        if state.checkpoint is None:
            if state.size != 0:
                raise LedgerTampered("entries without a checkpoint", zh="账本有条目却无检查点")
            return
        body, _ = open_note(state.checkpoint, [self.verifier])
        point = Checkpoint.parse_body(body)
        root = _merkle.CompactRange.from_list(state.size, state.peaks).root()
        if (point.origin, point.size, point.root) != (self.origin, state.size, root):
            raise LedgerTampered(
                "the stored log state does not match the last signed checkpoint",
                zh="账本状态与最近签名的检查点不一致，拒绝追加",
            )

    def _receipts(
        self,
        placed: Sequence[tuple[StoredEntry | NewEntry, bool]],
        state: LedgerState,
        made: dict[tuple[int, int], bytes],
        stamped: datetime | None = None,
    ) -> list[Receipt]:
        """Receipts for placed entries.

        ``stamped`` is the receive time of the entries just appended, as they hold it (to the
        millisecond), so those entries are not decoded again.
        """
        cache: dict[tuple[int, int], bytes] = dict(made)

        def subtree(lo: int, hi: int) -> bytes:
            if (lo, hi) not in cache:
                cache[lo, hi] = self.store.subtree(lo, hi)
            return cache[lo, hi]

        if state.checkpoint is None:  # pragma: no cover  # nothing placed in an empty log
            return []
        ragged: dict[tuple[int, int], bytes] = {}
        fresh = [entry.index for entry, duplicate in placed if not duplicate]
        proofs: dict[int, list[bytes]] = {}
        if fresh:  # the new leaves are the tail of the tree: prove them all in one walk
            first = min(fresh)
            batch = _merkle.inclusion_proofs_from(first, state.size, subtree, ragged)
            proofs = dict(enumerate(batch, start=first))

        def proof(index: int) -> list[bytes]:
            if index in proofs:
                return proofs[index]
            return _merkle.inclusion_proof_by(index, state.size, subtree, ragged)

        return [
            Receipt(
                index=entry.index,
                event_id=entry.event_id,
                event_hash=entry.event_hash,
                leaf_hash=entry.leaf_hash,
                size=state.size,
                proof=tuple(proof(entry.index)),
                checkpoint=state.checkpoint,
                duplicate=duplicate,
                received_at=stamped if stamped and not duplicate else read_entry(entry.entry)[0],
            )
            for entry, duplicate in placed
        ]

    # -- proving ---------------------------------------------------------------------------

    def receipts_for(self, indices: Sequence[int]) -> list[Receipt]:
        """Receipts for entries, all against the same (latest) checkpoint."""
        state = self.store.state()
        placed = []
        for index in indices:
            entry = self.store.entry(index) if index < state.size else None
            if entry is None:
                raise ProofInvalid(f"no entry {index} in the log", zh=f"账本中没有第 {index} 条")
            placed.append((entry, True))
        return self._receipts(placed, state, {})

    def latest_checkpoint(self) -> bytes:
        """The latest signed checkpoint note."""
        note = self.store.state().checkpoint
        if note is None:
            raise NotFoundError("the ledger is empty: no checkpoint yet", zh="账本为空，尚无检查点")
        return note

    def consistency(self, old_size: int, new_size: int) -> list[bytes]:
        """A consistency proof between two tree sizes of this log."""
        if not 0 <= old_size <= new_size <= self.store.state().size:
            raise ProofInvalid(
                f"no consistency proof from size {old_size} to {new_size}",
                zh=f"无法提供从 {old_size} 到 {new_size} 的一致性证明",
            )
        return _merkle.consistency_proof_by(old_size, new_size, self.store.subtree)


def _chain_flag(writer: LedgerWriter, container: str, claimed: bytes, in_batch: set[bytes]) -> str:
    """Name a broken link.

    An event claiming no predecessor for a container with history is ``unlinked`` (a device
    that did not know it, offline at a hand-over); two events on one predecessor are a
    ``fork``; a predecessor the log never held is ``unknown-predecessor``.
    """
    if claimed == NO_PREVIOUS:
        return "unlinked"
    known = claimed in in_batch or bool(writer.known(container, [claimed]))
    return "fork" if known else "unknown-predecessor"


def _peak_ranges(state: LedgerState) -> dict[tuple[int, int], bytes]:
    """The old peaks by leaf range: with the batch's new nodes they prove every new leaf."""
    ranges: dict[tuple[int, int], bytes] = {}
    lo, peaks = 0, iter(state.peaks)
    for bit in reversed(range(state.size.bit_length())):
        width = 1 << bit
        if state.size & width:
            ranges[lo, lo + width] = next(peaks)
            lo += width
    return ranges


def _reused(event_id: str) -> ConflictError:
    return ConflictError(
        f"event id {event_id} is in the log already with other content: a replay or a device "
        "fault; the first event stands",
        zh=f"事件编号 {event_id} 已被另一内容的事件使用（重放或设备故障），以首次提交为准",
        event_id=event_id,
    )

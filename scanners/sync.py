"""Delivering the outbox: in order, without loss or duplicates, and checking every answer.

One run (:meth:`Syncer.run`):

1. Stop at once if a split view was ever recorded: the device keeps its evidence and sends
   nothing more to a log that lied to it.
2. Fetch the trust bundle and keep it if the pinned root signed it and it is newer.
3. Send pending events oldest first, ``batch_size`` at a time, as the exact bytes signed.
   ``POST /events`` is idempotent by event id, so a batch whose answer was lost is simply sent
   again and answered with the original receipts (``duplicate: true``).
4. Check each receipt before anything is marked sent: it names our event id, its event hash is
   SHA-256 of the bytes we sent, its checkpoint is signed by the log key of the trust bundle,
   and its inclusion proof leads from the leaf to that checkpoint's root.
5. Check that every checkpoint seen extends (or is extended by) the last one kept, with a
   consistency proof fetched from ``GET /ledger/consistency``. Two roots for one size, or a
   proof that fails, is a split view: both signed notes and the proof are stored and the run
   stops with :class:`~scanners.errors.SplitViewDetected`.
6. If the server refuses a batch (HTTP 422, ``events-refused``), exactly the events it names
   are marked refused with their reason; the rest go again in the next batch.
7. Finally check the latest checkpoint too, and learn the ledger's latest event of the
   containers scanned most recently (what the next scan of each links back to).

No answer, a timeout, 409 or 5xx: retried with back-off (:mod:`scanners.http`), then the run
ends with :class:`~scanners.errors.ServerUnreachable` and the events stay pending. Nothing is
ever deleted.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import fcntl
import json
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, NoReturn

from custody.checkpoint import Checkpoint, open_note
from custody.errors import ConflictError, EvidenceError, InputError, KeyUnknown, ProofInvalid
from custody.ledger import Receipt, verify_extension
from scanners.bundles import log_keys, refresh_bundle
from scanners.errors import (
    ReceiptInvalid,
    ScannerError,
    ServerRefused,
    ServerUnreachable,
    SplitViewDetected,
)
from scanners.outbox import Delivered, EventState, Refusal, SeenCheckpoint

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Sequence

    from custody.keys import VerifierKey
    from custody.trust import TrustBundle
    from scanners.http import ServerClient
    from scanners.outbox import Outbox, QueuedEvent

__all__ = ["SyncConfig", "SyncReport", "Syncer", "learn_heads", "parse_receipt"]

MAX_BATCH = 5000  # what POST /events takes at most


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class SyncConfig:
    """How a run sends: events per ``POST /events``; containers whose chain head it refreshes."""

    batch_size: int = 100
    refresh_heads: int = 50  # the most recently scanned containers, one GET each

    def __post_init__(self) -> None:
        if not 1 <= self.batch_size <= MAX_BATCH:
            raise InputError(
                f"batch size must be 1-{MAX_BATCH}", zh=f"每批事件数须在 1 至 {MAX_BATCH} 之间"
            )


@dataclass(slots=True)
class SyncReport:
    """What one run did."""

    delivered: int = 0  # events newly proved to be in the ledger
    duplicates: int = 0  # of those, how many the ledger had already (an earlier run's answer lost)
    refused: list[QueuedEvent] = field(default_factory=list)  # refused during this run
    pending: int = 0  # still to send after the run
    checkpoint: SeenCheckpoint | None = None  # the largest checkpoint seen so far
    bundle_version: int | None = None
    bundle_rolled_back: bool = False  # the server offered an older bundle (ignored)
    heads_learned: int = 0


def parse_receipt(raw: object) -> Receipt:
    """A receipt from its JSON form (``api/schemas/ledger.py`` ``ReceiptPublic``), unverified.

    Raises ``ReceiptInvalid`` when a field is missing or out of shape.
    """
    try:
        if not isinstance(raw, dict):
            raise TypeError("not an object")  # noqa: TRY301  # reported below
        index, size, duplicate = raw["index"], raw["size"], raw["duplicate"]
        if not (_is_int(index) and _is_int(size) and isinstance(duplicate, bool)):
            raise TypeError("index and size must be integers, duplicate a boolean")  # noqa: TRY301
        proof = raw["proof"]
        if not isinstance(proof, list):
            raise TypeError("proof must be a list")  # noqa: TRY301
        return Receipt(
            index=index,
            event_id=str(raw["event_id"]),
            event_hash=bytes.fromhex(raw["event_hash"]),
            leaf_hash=bytes.fromhex(raw["leaf_hash"]),
            size=size,
            proof=tuple(base64.b64decode(p, validate=True) for p in proof),
            checkpoint=str(raw["checkpoint"]).encode(),
            duplicate=duplicate,
            received_at=_received_at(raw.get("received_at")),
        )
    except (KeyError, TypeError, ValueError, binascii.Error) as exc:
        raise ReceiptInvalid(
            f"a receipt is out of shape: {exc!r}", zh="入账回执格式错误", reason=repr(exc)
        ) from exc


def _received_at(value: object) -> datetime | None:
    if value is None:
        return None
    when = datetime.fromisoformat(str(value))
    if when.tzinfo is None:
        raise ValueError("received_at needs a time zone")
    return when


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _receipt_json(raw: object) -> str:
    return json.dumps(raw, ensure_ascii=False, sort_keys=True)


@contextlib.contextmanager
def _exclusive(outbox: Outbox) -> Iterator[None]:
    """One sync at a time per outbox (scanning may go on meanwhile)."""
    path = outbox.path.with_name(outbox.path.name + ".sync-lock")
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ConflictError(
                "another sync of this outbox is running", zh="本机已有另一个同步进程在运行"
            ) from None
        yield
    finally:
        os.close(fd)  # closing releases the lock


class Syncer:
    """Sends an outbox to the custody service and checks everything the service answers."""

    def __init__(
        self,
        outbox: Outbox,
        client: ServerClient,
        root: VerifierKey,
        config: SyncConfig | None = None,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self._outbox = outbox
        self._client = client
        self._root = root
        self._config = config or SyncConfig()
        self._clock = clock
        self._bundle: TrustBundle | None = None
        self._bundle_fresh = False
        self._report = SyncReport()

    def run(self) -> SyncReport:
        """Deliver everything pending, check every receipt and checkpoint; see the module doc."""
        with _exclusive(self._outbox):
            self._refuse_after_split_view()
            report = self._report = SyncReport()
            self._refresh_bundle()
            while batch := self._outbox.pending(self._config.batch_size):
                self._send(batch, report)
            latest = self._client.checkpoint()
            if latest is not None:
                self._observe(latest)
            recent = self._outbox.recent_containers(self._config.refresh_heads)
            with contextlib.suppress(ServerUnreachable):  # delivered already; heads can wait
                report.heads_learned = learn_heads(self._outbox, self._client, recent)
            report.pending = self._outbox.counts()[EventState.PENDING]
            report.checkpoint = self._outbox.last_checkpoint()
            return report

    # -- steps --------------------------------------------------------------------------------

    def _refuse_after_split_view(self) -> None:
        views = self._outbox.split_views()
        if views:
            first = views[0]
            raise SplitViewDetected(
                f"a split view was recorded on {first.detected_at:%Y-%m-%d %H:%M} UTC "
                f"({first.reason}); this device sends nothing more",
                zh=f"本机已于 {first.detected_at:%Y-%m-%d %H:%M} UTC 记录到账本分叉视图"
                f"（{first.reason_zh}），不再发送任何事件",
                split_views=len(views),
            )

    def _refresh_bundle(self) -> None:
        update = refresh_bundle(self._outbox, self._client, self._root)
        self._bundle, self._bundle_fresh = update.bundle, True
        self._report.bundle_version = update.bundle.version
        self._report.bundle_rolled_back = self._report.bundle_rolled_back or update.rolled_back

    def _send(self, batch: Sequence[QueuedEvent], report: SyncReport) -> None:
        body = json.dumps(
            {"events": [base64.b64encode(event.message).decode() for event in batch]}
        ).encode()
        try:
            answer = self._client.call("POST", "/events", body, "application/json")
        except ServerRefused as exc:
            if exc.context.get("status") == 422 and exc.context.get("problem_code") == (
                "events-refused"
            ):
                self._refused(batch, exc, report)
                return
            self._outbox.note_failure([event.seq for event in batch], exc.message)
            raise
        except ServerUnreachable as exc:
            self._outbox.note_failure([event.seq for event in batch], exc.message)
            raise
        self._bundle_fresh = False  # a new log key may have been published meanwhile
        checked = self._checked_receipts(batch, answer.body)
        notes = list(dict.fromkeys(receipt.checkpoint for _, receipt, _ in checked))
        for note in notes:
            self._observe(note)
        changed = self._outbox.mark_sent(
            [Delivered(event.seq, _receipt_json(raw), receipt.index)
             for event, receipt, raw in checked],
            None,
        )  # fmt: skip
        if changed == 0:  # pragma: no cover  # the lock keeps other syncs away
            raise ScannerError("no event changed state; stopping", zh="没有事件状态变化，停止同步")
        report.delivered += changed
        report.duplicates += sum(receipt.duplicate for _, receipt, _ in checked)

    def _refused(
        self, batch: Sequence[QueuedEvent], exc: ServerRefused, report: SyncReport
    ) -> None:
        """Mark exactly the events the server named as refused; the rest stay pending.

        Every refusal is checked before any is stored: a position outside the batch, or an
        event id other than the one sent there, stops the run and marks nothing.
        """
        context = exc.context.get("problem_context")
        listed = context.get("events") if isinstance(context, dict) else None
        if not isinstance(listed, list) or not listed:
            raise exc
        named: list[tuple[QueuedEvent, Refusal]] = []
        for item in listed:
            position = item.get("position") if isinstance(item, dict) else None
            if (
                not isinstance(item, dict)
                or not isinstance(position, int)
                or not (0 <= position < len(batch))
            ):
                raise exc  # a refusal of the batch as a whole: nothing to single out
            event = batch[position]
            if item.get("event_id") not in {None, event.event_id}:
                raise ServerRefused(
                    f"the server refused position {position} as event {item.get('event_id')}, "
                    f"but we sent {event.event_id} there",
                    zh=f"服务器拒收第 {position} 个事件时所列编号与本机发送的不符",
                ) from exc
            detail = str(item.get("detail", ""))
            refusal = Refusal(str(item.get("code", "refused")), detail,
                              str(item.get("detail_zh", "")) or detail)  # fmt: skip
            named.append((event, refusal))
        marked = [
            event for event, refusal in named if self._outbox.mark_refused(event.seq, refusal)
        ]
        if not marked:  # pragma: no cover  # the events came from the pending queue
            raise exc  # no progress: never loop on the same batch
        report.refused += [self._outbox.get(event.seq) for event in marked]

    def _checked_receipts(
        self, batch: Sequence[QueuedEvent], body: bytes
    ) -> list[tuple[QueuedEvent, Receipt, object]]:
        try:
            listed = json.loads(body)["receipts"]
        except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as exc:
            raise ReceiptInvalid(
                "the answer to POST /events holds no receipts", zh="入账应答中没有回执"
            ) from exc
        if not isinstance(listed, list) or len(listed) != len(batch):
            raise ReceiptInvalid(
                f"sent {len(batch)} events, got "
                f"{len(listed) if isinstance(listed, list) else 'no'} receipts",
                zh=f"发送 {len(batch)} 个事件，回执数量不符",
            )
        checked = []
        for event, raw in zip(batch, listed, strict=True):
            receipt = parse_receipt(raw)
            self._check_receipt(event, receipt)
            checked.append((event, receipt, raw))
        return checked

    def _check_receipt(self, event: QueuedEvent, receipt: Receipt) -> None:
        if receipt.event_id != event.event_id:
            raise ReceiptInvalid(
                f"receipt for event {receipt.event_id} where {event.event_id} was sent",
                zh=f"回执所列事件编号 {receipt.event_id} 与发送的 {event.event_id} 不符",
                event_id=event.event_id,
            )
        if receipt.event_hash != event.event_hash:
            raise ReceiptInvalid(
                f"receipt for event {event.event_id} names event hash "
                f"{receipt.event_hash.hex()}, not the SHA-256 of the bytes sent "
                f"({event.event_hash.hex()})",
                zh=f"事件 {event.event_id} 的回执哈希与本机发送的签名字节不符",
                event_id=event.event_id,
            )
        key = self._log_key(receipt.checkpoint)
        try:
            receipt.verify(key, event.message)  # the proven leaf must be our own bytes
        except EvidenceError as exc:
            raise ReceiptInvalid(
                f"receipt for event {event.event_id} does not verify: {exc.message}",
                zh=f"事件 {event.event_id} 的入账回执核验未通过：{exc.zh}",
                event_id=event.event_id,
            ) from exc

    def _log_key(self, note: bytes) -> VerifierKey:
        """The log key of the trust bundle that signed ``note`` (bundle refreshed once if none)."""
        while True:
            assert self._bundle is not None  # noqa: S101  # refreshed at the start of a run
            try:
                _, signers = open_note(note, log_keys(self._bundle))
            except KeyUnknown as exc:
                if not self._bundle_fresh:
                    self._refresh_bundle()
                    continue
                raise ReceiptInvalid(
                    f"the checkpoint is not signed by a log key of trust bundle version "
                    f"{self._bundle.version}",
                    zh=f"检查点并非由信任列表（第 {self._bundle.version} 版）中的账本密钥签名",
                ) from exc
            except EvidenceError as exc:
                raise ReceiptInvalid(
                    f"the checkpoint does not verify: {exc.message}",
                    zh=f"检查点核验未通过：{exc.zh}",
                ) from exc
            return signers[0]

    def _observe(self, note: bytes) -> None:
        """Check a checkpoint against the last one kept; keep it if it is consistent."""
        key = self._log_key(note)
        point = Checkpoint.parse_body(open_note(note, [key])[0])
        seen = SeenCheckpoint(point.size, point.root, note, self._clock())
        last = self._outbox.last_checkpoint()
        if last is None:
            self._outbox.record_checkpoint(seen)
            return
        if point.size == last.size:
            if point.root != last.root:
                self._split(last.note, note, (), f"two different roots for tree size {point.size}",
                            f"同一树大小 {point.size} 出现两个不同的根哈希")  # fmt: skip
            return
        old, new = (last, seen) if point.size > last.size else (seen, last)
        try:
            proof = self._consistency(old.size, new.size)
        except ServerRefused as exc:
            self._split(
                old.note,
                new.note,
                (),
                f"the log signed sizes {old.size} and {new.size} but cannot prove one "
                f"extends the other: {exc.message}",
                f"账本签署了树大小 {old.size} 和 {new.size}，却无法证明后者是前者的延续",
            )
        try:
            verify_extension(old.note, new.note, proof, key)
        except ProofInvalid as exc:
            self._split(old.note, new.note, proof, exc.message, exc.zh)
        except EvidenceError as exc:  # the two notes are not signed by one key
            raise ScannerError(
                f"cannot compare checkpoints signed by different log keys: {exc.message}",
                zh=f"无法比较由不同账本密钥签名的检查点：{exc.zh}",
            ) from exc
        self._outbox.record_checkpoint(seen)

    def _consistency(self, old: int, new: int) -> list[bytes]:
        answer = self._client.json("GET", f"/ledger/consistency?old={old}&new={new}")
        try:
            if not isinstance(answer, dict) or (answer["old"], answer["new"]) != (old, new):
                raise TypeError("sizes do not match the request")  # noqa: TRY301  # reported below
            return [base64.b64decode(h, validate=True) for h in answer["proof"]]
        except (KeyError, TypeError, ValueError, binascii.Error) as exc:
            raise ServerRefused(
                f"the consistency proof from {old} to {new} is out of shape: {exc!r}",
                zh=f"从 {old} 到 {new} 的一致性证明格式错误",
            ) from exc

    def _split(
        self, old: bytes, new: bytes, proof: Sequence[bytes], reason: str, reason_zh: str
    ) -> NoReturn:
        view = self._outbox.record_split_view(old, new, proof, reason, reason_zh)
        raise SplitViewDetected(
            f"the ledger showed this device two histories that cannot both be true: {reason}",
            zh=f"账本向本机展示了相互矛盾的两段历史：{reason_zh}",
            split_view=view.id,
        )


def learn_heads(outbox: Outbox, client: ServerClient, containers: Iterable[str]) -> int:
    """Ask the ledger for each container's latest event; link the next scan to it.

    A container the server does not know leaves what is known here; no answer raises
    ``ServerUnreachable`` (asking about the next container would not help). A head the server
    gives is a hint, not evidence: a wrong one only shows up as a chain flag on the next
    event, never as a lost event. Returns how many heads changed.
    """
    changed = 0
    for container in containers:
        try:
            text = client.head(container)
        except ServerRefused:
            continue
        try:
            digest = bytes.fromhex(text) if isinstance(text, str) else b""
        except ValueError:
            continue
        if len(digest) == 32 and outbox.learn_head(container, digest):
            changed += 1
    return changed

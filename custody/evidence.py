"""Evidence bundles: one self-contained file that proves a container's custody history.

A bundle holds the container's ledger entries exactly as stored, an inclusion proof of each
to one signed checkpoint, the signed trust bundle that says whose keys signed what, and the
verifier keys of the trust root and the log. ``verify_bundle`` checks all of it with no server
and no database, and says exactly what failed. Pin the root and log keys you got from a
trusted channel (a court, the regulator's site); without pins the bundle is only checked
against the keys it carries, and the report says so.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from custody import _merkle
from custody.checkpoint import Checkpoint, open_note
from custody.errors import BundleInvalid, CustodyError
from custody.events import NO_PREVIOUS, verify_event
from custody.keys import KeyRole, VerifierKey
from custody.ledger import read_entry
from custody.trust import TrustBundle

if TYPE_CHECKING:
    from custody.events import CustodyEvent
    from custody.ledger import Ledger
    from custody.ports import LedgerStore

__all__ = ["BundleReport", "EvidenceBundle", "export_container", "verify_bundle"]

FORMAT = "custody-evidence/1"


@dataclass(frozen=True, slots=True)
class BundledEntry:
    """One ledger entry with its inclusion proof."""

    index: int
    entry: bytes
    proof: tuple[bytes, ...]


@dataclass(frozen=True, slots=True)
class EvidenceBundle:
    """A container's custody evidence, as exported."""

    container: str
    exported_at: datetime
    checkpoint: bytes
    log_key: str
    trust_root: str
    trust_bundle: bytes
    entries: tuple[BundledEntry, ...]

    def to_json(self) -> str:
        """The bundle file: JSON with binary fields in base64."""

        def b64(data: bytes) -> str:
            return base64.b64encode(data).decode()

        return json.dumps(
            {
                "format": FORMAT,
                "container": self.container,
                "exported_at": self.exported_at.isoformat(),
                "checkpoint": self.checkpoint.decode(),
                "log_key": self.log_key,
                "trust_root": self.trust_root,
                "trust_bundle": b64(self.trust_bundle),
                "entries": [
                    {"index": e.index, "entry": b64(e.entry), "proof": [b64(h) for h in e.proof]}
                    for e in self.entries
                ],
            },
            ensure_ascii=False,
            indent=1,
        )

    @classmethod
    def from_json(cls, text: str) -> EvidenceBundle:
        """Read a bundle file; ``BundleInvalid`` if it is not one."""
        try:
            doc = json.loads(text)
            if doc.get("format") != FORMAT:
                raise ValueError(f"format {doc.get('format')!r}")  # noqa: TRY301  # wrapped below
            return cls(
                container=doc["container"],
                exported_at=datetime.fromisoformat(doc["exported_at"]),
                checkpoint=doc["checkpoint"].encode(),
                log_key=doc["log_key"],
                trust_root=doc["trust_root"],
                trust_bundle=base64.b64decode(doc["trust_bundle"], validate=True),
                entries=tuple(
                    BundledEntry(
                        int(e["index"]),
                        base64.b64decode(e["entry"], validate=True),
                        tuple(base64.b64decode(h, validate=True) for h in e["proof"]),
                    )
                    for e in doc["entries"]
                ),
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise BundleInvalid(
                f"not an evidence bundle: {exc}", zh="不是有效的证据包文件", step="format"
            ) from exc


def export_container(
    store: LedgerStore,
    ledger: Ledger,
    container: str,
    trust_bundle: bytes,
    trust_root: VerifierKey,
) -> EvidenceBundle:
    """Every entry naming ``container``, proven against the latest checkpoint."""
    entries = store.container_entries(container)
    if not entries:
        raise BundleInvalid(
            f"the ledger holds no entry for container {container}",
            zh=f"账本中没有容器 {container} 的记录",
            step="export",
        )
    receipts = ledger.receipts_for([e.index for e in entries])
    bundled = tuple(
        BundledEntry(e.index, e.entry, r.proof) for e, r in zip(entries, receipts, strict=True)
    )
    return EvidenceBundle(
        container=container,
        exported_at=datetime.now(UTC).replace(microsecond=0),
        checkpoint=receipts[0].checkpoint,
        log_key=str(ledger.verifier),
        trust_root=str(trust_root),
        trust_bundle=trust_bundle,
        entries=bundled,
    )


@dataclass(frozen=True, slots=True)
class BundleReport:
    """What a verified bundle shows."""

    container: str
    events: tuple[CustodyEvent, ...]
    received: tuple[datetime, ...]
    indices: tuple[int, ...]
    size: int
    origin: str
    pinned: bool  # whether root and log keys were pinned by the caller


def _fail(step: str, message: str, zh: str, **context: object) -> BundleInvalid:
    return BundleInvalid(message, zh=zh, step=step, **context)


def verify_bundle(
    bundle: EvidenceBundle,
    *,
    trust_root: VerifierKey | None = None,
    log_key: VerifierKey | None = None,
) -> BundleReport:
    """Verify a bundle offline; raise ``BundleInvalid`` naming the step and entry that fail."""
    root = trust_root or VerifierKey.parse(bundle.trust_root)
    log = log_key or VerifierKey.parse(bundle.log_key)
    try:
        trust = TrustBundle.from_signed(bundle.trust_bundle, root)
    except CustodyError as exc:
        raise _fail("trust-bundle", exc.message, exc.zh) from exc
    listed = trust.by_name(log.name)
    if listed is None or listed.role is not KeyRole.LOG or listed.public_key != log.public_key:
        raise _fail("log-key", f"the log key {log.name} is not a log key of the trust bundle",
                    f"日志密钥 {log.name} 不在信任列表中")  # fmt: skip
    try:
        body, _ = open_note(bundle.checkpoint, [log])
        point = Checkpoint.parse_body(body)
    except CustodyError as exc:
        raise _fail("checkpoint", exc.message, exc.zh) from exc
    events: list[CustodyEvent] = []
    received: list[datetime] = []
    latest = NO_PREVIOUS
    for item in bundle.entries:
        leaf = _merkle.leaf_hash(item.entry)
        try:
            _merkle.verify_inclusion(leaf, item.index, point.size, item.proof, point.root)
        except _merkle.ProofError as exc:
            reason = f"entry {item.index} is not in the signed log: {exc}"
            zh = f"第 {item.index} 条不在已签名的账本中"
            raise _fail("inclusion", reason, zh, index=item.index) from exc
        try:
            when, message = read_entry(item.entry)
            signed, _ = verify_event(message, trust, when)
        except CustodyError as exc:
            raise _fail("event", f"entry {item.index}: {exc.message}",
                        f"第 {item.index} 条：{exc.zh}", index=item.index) from exc  # fmt: skip
        event = signed.event
        if bundle.container not in event.containers and event.parent == bundle.container:
            # The consolidation that made the container: its history starts there, and its own
            # chain with the next event (which claims no predecessor for it).
            events.append(event)
            received.append(when)
            continue
        if bundle.container not in event.containers:
            raise _fail("container", f"entry {item.index} does not name {bundle.container}",
                        f"第 {item.index} 条与该容器无关", index=item.index)  # fmt: skip
        if event.prev_of(bundle.container) != latest:
            raise _fail("chain", f"entry {item.index} does not link to the entry before it: "
                        "an event is missing from the bundle or the chain forks",
                        f"第 {item.index} 条未链接到前一条：证据包缺少事件或记录链分叉",
                        index=item.index)  # fmt: skip
        latest = signed.event_hash
        events.append(event)
        received.append(when)
    return BundleReport(
        container=bundle.container,
        events=tuple(events),
        received=tuple(received),
        indices=tuple(e.index for e in bundle.entries),
        size=point.size,
        origin=point.origin,
        pinned=trust_root is not None and log_key is not None,
    )

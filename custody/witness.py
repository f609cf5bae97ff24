"""A transparency-log witness: the ``add-checkpoint`` logic of C2SP tlog-witness, without I/O.

A witness keeps, per log origin, the latest checkpoint it cosigned. A log submits each new
checkpoint with a consistency proof from that one; the witness cosigns only a checkpoint that
extends what it has seen, so a log cannot show two different trees to two witnesses (a split
view) without one of them noticing. The request body is::

    old <size the log believes the witness is at>
    <base64 consistency-proof hash>            zero to 63 lines, RFC 6962 / RFC 9162
    <empty line>
    <the log's signed checkpoint note>

and the answer is the witness's ``cosignature/v1`` signature line (see
:func:`custody.checkpoint.cosign`). The checks run in the order the specification lists them;
each failure raises its own error, which ``api/witness.py`` maps to the specification's HTTP
status (HTTP stays out of the core):

=======================================  ========================================
check                                    error raised
=======================================  ========================================
request framing, note or checkpoint      ``InputError``, ``EvidenceError``
origin not configured                    ``NotFoundError``
no valid signature by the log's key      ``KeyUnknown``, ``SignatureInvalid``
``old`` larger than the checkpoint size  ``InputError``
``old`` is not the size last cosigned    ``ConflictError`` (``size=`` that size)
same size, other root (a split view)     ``ConflictError`` (both signed notes)
consistency proof fails                  ``ProofInvalid``
=======================================  ========================================

A checkpoint smaller than the one stored can never pass: ``old`` must equal the stored size
and may not exceed the new one. The check of ``old`` against the stored state and the update
happen as one compare-and-swap on the :class:`WitnessStore`, so two concurrent requests cannot
roll the witness back (the race the specification describes).

This module does no I/O: the file-backed store lives in ``api/witness.py``.
"""

from __future__ import annotations

import base64
import logging
import re
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from custody import _merkle
from custody.checkpoint import MAX_TREE_SIZE, Checkpoint, cosign, open_note
from custody.errors import (
    ConfigurationError,
    ConflictError,
    InputError,
    NoteMalformed,
    NotFoundError,
    ProofInvalid,
)
from custody.keys import KeyRole

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from custody.keys import SigningKey, VerifierKey

__all__ = [
    "MAX_PROOF_LINES",
    "MAX_REQUEST_BYTES",
    "ROOT_MISMATCH",
    "STALE_OLD_SIZE",
    "AddCheckpointRequest",
    "InMemoryWitnessStore",
    "Witness",
    "WitnessStore",
    "WitnessedCheckpoint",
]

_log = logging.getLogger(__name__)

#: tlog-witness: "The client MUST NOT send more than 63 consistency proof lines."
MAX_PROOF_LINES = 63
#: A bound on the whole request: 63 proof lines and 100 signature lines fit with room to spare.
MAX_REQUEST_BYTES = 64 * 1024

#: ``ConflictError.context["reason"]`` when ``old`` is not the size the witness last cosigned;
#: ``context["size"]`` then holds that size, the body of the 409 answer.
STALE_OLD_SIZE = "stale-old-size"
#: ``ConflictError.context["reason"]`` when a checkpoint of the stored size has another root.
ROOT_MISMATCH = "root-mismatch"

_OLD_SIZE = re.compile(rb"old (0|[1-9][0-9]{0,18})")  # ASCII decimal, no leading zeros


def _bad_request(reason: str, zh: str, **context: object) -> InputError:
    return InputError(
        f"malformed add-checkpoint request: {reason}", zh=f"见证请求格式错误：{zh}", **context
    )


def _proof_hash(line: bytes, position: int) -> bytes:
    """One consistency-proof line: the canonical base64 of a 32-byte hash."""
    try:
        raw = base64.b64decode(line, validate=True)
    except ValueError:  # binascii.Error
        raw = b""
    if len(raw) != _merkle.HASH_SIZE or base64.b64encode(raw) != line:
        raise _bad_request(
            f"proof line {position + 1} is not the base64 of a {_merkle.HASH_SIZE}-byte hash",
            f"第 {position + 1} 行一致性证明不是 {_merkle.HASH_SIZE} 字节哈希的 base64 编码",
            field="proof",
        )
    return raw


@dataclass(frozen=True, slots=True)
class AddCheckpointRequest:
    """The body of a tlog-witness ``add-checkpoint`` request, parsed (not yet verified)."""

    old_size: int
    proof: tuple[bytes, ...]
    note: bytes  # the log's signed checkpoint note, possibly with other signatures

    @classmethod
    def parse(cls, body: bytes) -> AddCheckpointRequest:
        """Read a request body; raise ``InputError`` when it is not framed as the spec says.

        The note itself is checked later, by :meth:`Witness.add_checkpoint`.
        """
        if len(body) > MAX_REQUEST_BYTES:
            raise _bad_request(
                f"{len(body)} bytes, more than the {MAX_REQUEST_BYTES} accepted",
                f"请求 {len(body)} 字节，超过上限 {MAX_REQUEST_BYTES} 字节",
            )
        # No header line is empty, so the first blank line ends the header.
        head, blank, note = body.partition(b"\n\n")
        if not blank:
            raise _bad_request(
                "no empty line between the header and the checkpoint", "请求头与检查点之间缺少空行"
            )
        first, *proof_lines = head.split(b"\n")
        old = _OLD_SIZE.fullmatch(first)
        if old is None or int(old[1]) > MAX_TREE_SIZE:
            raise _bad_request(
                "the first line must be 'old <size>', the size in decimal without leading zeros",
                "首行须为“old <树大小>”，树大小为无前导零的十进制数",
                field="old",
            )
        if len(proof_lines) > MAX_PROOF_LINES:
            raise _bad_request(
                f"{len(proof_lines)} consistency proof lines, more than {MAX_PROOF_LINES}",
                f"一致性证明 {len(proof_lines)} 行，超过上限 {MAX_PROOF_LINES} 行",
                field="proof",
            )
        proof = tuple(_proof_hash(line, i) for i, line in enumerate(proof_lines))
        return cls(int(old[1]), proof, note)

    def to_bytes(self) -> bytes:
        """The request body, as a log sends it."""
        lines = [f"old {self.old_size}".encode(), *map(base64.b64encode, self.proof)]
        return b"".join(line + b"\n" for line in lines) + b"\n" + self.note


@dataclass(frozen=True, slots=True)
class WitnessedCheckpoint:
    """The latest checkpoint a witness cosigned for one log, and the signed note it came in."""

    checkpoint: Checkpoint
    note: bytes  # as the log signed it: evidence if the log later contradicts it

    @property
    def size(self) -> int:
        """The tree size."""
        return self.checkpoint.size

    @property
    def root(self) -> bytes:
        """The RFC 6962 root hash at that size."""
        return self.checkpoint.root


class WitnessStore(Protocol):
    """Where a witness keeps the latest checkpoint it cosigned, per log origin.

    ``compare_and_swap`` must be atomic with respect to every other call on the same store,
    across threads and, for a store shared between processes, across processes too.
    """

    def latest(self, origin: str) -> WitnessedCheckpoint | None:
        """The latest cosigned checkpoint of ``origin``, or ``None`` if there is none yet."""
        ...

    def compare_and_swap(
        self, origin: str, expected: WitnessedCheckpoint | None, new: WitnessedCheckpoint
    ) -> bool:
        """Store ``new`` if the latest is still ``expected``; return whether it was stored.

        Raises ``StorageError`` if the store fails; nothing is stored then.
        """
        ...


class InMemoryWitnessStore:
    """A :class:`WitnessStore` in a dict: for tests, and for a witness that may forget."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._latest: dict[str, WitnessedCheckpoint] = {}

    def latest(self, origin: str) -> WitnessedCheckpoint | None:
        """The latest cosigned checkpoint of ``origin``, or ``None``."""
        with self._lock:
            return self._latest.get(origin)

    def compare_and_swap(
        self, origin: str, expected: WitnessedCheckpoint | None, new: WitnessedCheckpoint
    ) -> bool:
        """Store ``new`` if the latest is still ``expected``."""
        with self._lock:
            if self._latest.get(origin) != expected:
                return False
            self._latest[origin] = new
            return True


def _stale(origin: str, old_size: int, known: int) -> ConflictError:
    return ConflictError(
        f"old size {old_size} does not match the size {known} this witness last cosigned for "
        f"{origin}: resend with 'old {known}' and a proof from there",
        zh=f"请求中的原树大小 {old_size} 与本见证方对 {origin} 最近联署的树大小 {known} 不符",
        reason=STALE_OLD_SIZE,
        size=known,
    )


def _origin_of(note: bytes) -> str:
    """The origin line of a note, read before its signature is checked (to pick the key)."""
    line, newline, _ = note.partition(b"\n")
    try:
        if newline:
            return line.decode("utf-8")
    except UnicodeDecodeError:
        pass
    raise NoteMalformed(
        "malformed signed note: no UTF-8 origin line ending in a newline",
        zh="签名注记格式错误：缺少以换行结尾的 UTF-8 来源行",
    )


class Witness:
    """Cosign checkpoints of the configured logs, each only if it extends the last one.

    ``logs`` maps each origin line to the key its checkpoints must be signed with; ``clock``
    returns the current POSIX time in seconds, the timestamp of each cosignature.
    """

    def __init__(
        self,
        key: SigningKey,
        logs: Mapping[str, VerifierKey],
        store: WitnessStore,
        clock: Callable[[], int],
    ) -> None:
        if key.record.role is not KeyRole.WITNESS:
            raise ConfigurationError(
                f"key {key.record.name} has role {key.record.role}, not {KeyRole.WITNESS}",
                zh=f"密钥 {key.record.name} 的用途为 {key.record.role}，不是见证（witness）",
                key=key.record.name,
            )
        self._key = key
        self._logs = dict(logs)
        self._store = store
        self._clock = clock

    @property
    def verifier(self) -> VerifierKey:
        """The witness's public key, which clients pin to verify its cosignatures."""
        return self._key.record.verifier_key

    def add_checkpoint(self, body: bytes) -> bytes:
        """Handle one ``add-checkpoint`` request body; return the cosignature line.

        Raises the errors tabled in the module docstring. The new checkpoint is stored before
        this returns, and nothing is stored when any check fails.
        """
        request = AddCheckpointRequest.parse(body)
        origin = _origin_of(request.note)
        log_key = self._logs.get(origin)
        if log_key is None:
            raise NotFoundError(
                f"this witness does not witness a log with origin {origin!r}",
                zh=f"本见证方未登记来源为“{origin}”的日志",
                origin=origin,
            )
        text, _ = open_note(request.note, [log_key])  # KeyUnknown, SignatureInvalid
        checkpoint = Checkpoint.parse_body(text)
        if request.old_size > checkpoint.size:
            raise _bad_request(
                f"old size {request.old_size} is larger than the checkpoint size {checkpoint.size}",
                f"原树大小 {request.old_size} 大于检查点的树大小 {checkpoint.size}",
                field="old",
            )
        stored = self._store.latest(origin)
        self._check(checkpoint, request, stored)
        new = WitnessedCheckpoint(checkpoint, request.note)
        if not self._store.compare_and_swap(origin, stored, new):
            # Another request moved this log on since we read it: this one is now stale.
            current = self._store.latest(origin)
            raise _stale(origin, request.old_size, current.size if current else 0)
        return cosign(checkpoint, self._key, self._clock())

    def _check(
        self,
        checkpoint: Checkpoint,
        request: AddCheckpointRequest,
        stored: WitnessedCheckpoint | None,
    ) -> None:
        """The spec's size, root and consistency checks against the stored state."""
        origin, old_size = checkpoint.origin, request.old_size
        known_size = stored.size if stored else 0
        if old_size != known_size:
            raise _stale(origin, old_size, known_size)
        if stored is not None and stored.size == checkpoint.size and stored.root != checkpoint.root:
            _log.warning(
                "log %s signed two roots for tree size %d; stored note:\n%s\nsubmitted note:\n%s",
                origin,
                checkpoint.size,
                stored.note.decode(),
                request.note.decode(),
            )
            raise ConflictError(
                f"log {origin} signed another root for tree size {checkpoint.size} than the one "
                "this witness cosigned: the log is showing a split view",
                zh=f"日志 {origin} 对树大小 {checkpoint.size} 签署了与本见证方已联署的不同的"
                "根哈希：日志存在分叉视图",
                reason=ROOT_MISMATCH,
                size=checkpoint.size,
                stored_note=stored.note,
                submitted_note=request.note,
            )
        old_root = stored.root if stored else _merkle.EMPTY_ROOT
        try:
            _merkle.verify_consistency(
                old_size, checkpoint.size, old_root, checkpoint.root, request.proof
            )
        except _merkle.ProofError as exc:
            _log.warning(
                "log %s: consistency proof from %d to %d fails (%s); submitted note:\n%s",
                origin,
                old_size,
                checkpoint.size,
                exc,
                request.note.decode(),
            )
            raise ProofInvalid(
                f"the consistency proof from size {old_size} to {checkpoint.size} of {origin} "
                f"does not hold: {exc}",
                zh=f"{origin} 从树大小 {old_size} 到 {checkpoint.size} 的一致性证明不成立",
                origin=origin,
                old_size=old_size,
                size=checkpoint.size,
            ) from exc

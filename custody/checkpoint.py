"""Log checkpoints, signed notes, and witness cosignatures, as C2SP specifies them.

The three specifications are C2SP tlog-checkpoint, signed-note and tlog-cosignature (its
Ed25519 ``cosignature/v1``).

A checkpoint body is exactly three lines; this log writes no extension lines and reads none::

    wastetrack.example.gov/log/2026
    1234567
    <base64 of the 32-byte RFC 6962 root>

A signed note is the body, a blank line, and one line per signature::

    — <key name> base64(key id (4) || Ed25519 signature over the body (64))

``golang.org/x/mod/sumdb/note`` is the reference implementation; ``open_note`` follows its
``Open``: every signature from a trusted key must verify, signatures from other keys are ignored,
repeated signatures by one key count once, more than 100 signature lines make a note malformed,
and at least one trusted signature is required. Base64 must be canonical, so one note has one
spelling.

A witness cosignature is another signature line on the same note, with key type 0x04 in its key
id, over ``"cosignature/v1" LF "time <t>" LF body``, carrying ``key id || u64 t || signature``.
The log signs with key type 0x01 (the key id of :mod:`custody.keys`); the type byte keeps a
log key and a witness key apart even when they share a name.

The name ``Checkpoint`` here means a *log* checkpoint (日志检查点), not the road checkpoint of
:mod:`custody.parties`.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

from cryptography.exceptions import InvalidSignature

from custody.errors import (
    CheckpointMalformed,
    ConfigurationError,
    InputError,
    KeyUnknown,
    NoteMalformed,
    SignatureInvalid,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from custody.keys import SigningKey, VerifierKey

__all__ = [
    "MAX_SIGNATURES",
    "Checkpoint",
    "Cosignature",
    "cosign",
    "cosignature_key_id",
    "open_cosignatures",
    "open_note",
    "sign_note",
    "verify_cosignature",
]

MAX_SIGNATURES = 100  # golang.org/x/mod/sumdb/note's limit; C2SP asks verifiers to take >= 16
MAX_TREE_SIZE = 2**63 - 1  # a signed 64-bit integer, as the stores keep it
MAX_TIMESTAMP = 2**63 - 1  # tlog-cosignature: "MUST NOT exceed 2^63 - 1"

_HASH_SIZE = 32
_ED25519_SIGNATURE_SIZE = 64
_SIGNATURE_PREFIX = "\u2014 ".encode()  # EM DASH, SPACE
_COSIGNATURE_TYPE = b"\x04"
_COSIGNATURE_HEADER = b"cosignature/v1\ntime "
_COSIGNATURE_SIZE = 4 + 8 + _ED25519_SIGNATURE_SIZE
_TREE_SIZE = re.compile(r"0|[1-9][0-9]{0,18}")  # ASCII digits, no leading zero


def _malformed_checkpoint(reason: str, zh: str, **context: object) -> CheckpointMalformed:
    return CheckpointMalformed(
        f"malformed checkpoint: {reason}", zh=f"日志检查点格式错误：{zh}", **context
    )


def _malformed_note(reason: str, zh: str) -> NoteMalformed:
    return NoteMalformed(f"malformed signed note: {reason}", zh=f"签名注记格式错误：{zh}")


def _b64decode(text: str | bytes) -> bytes | None:
    """Standard base64 in its one canonical spelling, or ``None``."""
    try:
        raw = base64.b64decode(text, validate=True)
    except ValueError:  # binascii.Error, or non-ASCII text
        return None
    expected = text.encode() if isinstance(text, str) else text
    return raw if base64.b64encode(raw) == expected else None


def _check_origin(origin: str) -> None:
    if not origin:
        raise _malformed_checkpoint("the origin line is empty", "来源行为空", field="origin")
    if not origin.isprintable() or origin != origin.strip():
        raise _malformed_checkpoint(
            f"origin {origin!r} must be printable, without leading or trailing spaces",
            f"来源“{origin}”须为可打印字符，且首尾不得有空格",
            field="origin",
        )


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A log's tree head: its origin, its size, and the RFC 6962 root at that size."""

    origin: str
    size: int
    root: bytes

    def __post_init__(self) -> None:
        _check_origin(self.origin)
        if isinstance(self.size, bool) or not 0 <= self.size <= MAX_TREE_SIZE:
            raise _malformed_checkpoint(
                f"tree size {self.size!r} is not between 0 and 2^63-1",
                f"树大小 {self.size!r} 不在 0 至 2^63-1 之间",
                field="size",
            )
        if len(self.root) != _HASH_SIZE:
            raise _malformed_checkpoint(
                f"the root hash has {len(self.root)} bytes, not {_HASH_SIZE}",
                f"根哈希为 {len(self.root)} 字节，应为 {_HASH_SIZE} 字节",
                field="root",
            )

    def body(self) -> bytes:
        """The note text: origin, size and base64 root, each line ending in a newline."""
        root = base64.b64encode(self.root).decode()
        return f"{self.origin}\n{self.size}\n{root}\n".encode()

    @classmethod
    def parse_body(cls, body: bytes) -> Checkpoint:
        """Read a checkpoint body, exactly as ``body()`` writes it; raise ``EvidenceError``."""
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise _malformed_checkpoint("not UTF-8", "不是 UTF-8 编码") from None
        if not text.endswith("\n") or text.count("\n") != 3:
            raise _malformed_checkpoint(
                "a checkpoint has exactly three lines (origin, size, root), each ending in a "
                "newline, and no extension lines",
                "日志检查点应恰为三行（来源、树大小、根哈希），每行以换行结尾，且不含扩展行",
            )
        origin, size, root = text[:-1].split("\n")
        _check_origin(origin)
        if not _TREE_SIZE.fullmatch(size):
            raise _malformed_checkpoint(
                f"tree size {size!r} is not a decimal number without leading zeros",
                f"树大小“{size}”不是无前导零的十进制数",
                field="size",
            )
        raw_root = _b64decode(root)
        if raw_root is None or len(raw_root) != _HASH_SIZE:
            raise _malformed_checkpoint(
                f"root {root!r} is not the base64 of a {_HASH_SIZE}-byte hash",
                f"根哈希“{root}”不是 {_HASH_SIZE} 字节哈希的 base64 编码",
                field="root",
            )
        return cls(origin, int(size), raw_root)


# -- signed notes ---------------------------------------------------------------------------


class _SignatureLine(NamedTuple):
    name: str
    kid: bytes
    signature: bytes  # what follows the key id


def _text_problem(text: bytes) -> tuple[str, str] | None:
    """Why ``text`` cannot be in a note (English, Chinese), or ``None`` if it can."""
    try:
        decoded = text.decode("utf-8")
    except UnicodeDecodeError:
        return "not UTF-8", "不是 UTF-8 编码"
    # golang.org/x/mod/sumdb/note also refuses U+FFFD, the mark of a lossy conversion.
    if any((c < " " and c != "\n") or c == "\ufffd" for c in decoded):
        return "control characters other than newline are not allowed", "除换行外不得含控制字符"
    return None


def _check_note_text(text: bytes) -> None:
    problem = _text_problem(text)
    if problem is not None:
        raise _malformed_note(*problem)


def _valid_key_name(name: str) -> bool:
    return bool(name) and "+" not in name and not any(c.isspace() for c in name)


def _parse_signature_line(line: bytes) -> _SignatureLine:
    """One signature line without its newline: ``— <name> <base64>``."""
    if not line.startswith(_SIGNATURE_PREFIX):
        raise _malformed_note(
            "a signature line starts with an em dash (U+2014) and a space",
            "签名行须以破折号（U+2014）加空格开头",
        )
    name, _, encoded = line[len(_SIGNATURE_PREFIX) :].decode().partition(" ")
    blob = _b64decode(encoded)
    if not _valid_key_name(name) or blob is None or len(blob) < 5:  # key id + 1
        raise _malformed_note(
            "a signature line reads: em dash, space, key name, space, base64(key id || signature)",
            "签名行格式应为：破折号、空格、密钥名称、空格、base64(密钥编号 || 签名)",
        )
    return _SignatureLine(name, blob[:4], blob[4:])


def _split_note(note: bytes) -> tuple[bytes, list[_SignatureLine]]:
    """The note text (with its final newline) and its parsed signature lines."""
    _check_note_text(note)
    split = note.rfind(b"\n\n")
    if split < 0:
        raise _malformed_note("no blank line before the signatures", "签名前缺少空行")
    text, signatures = note[: split + 1], note[split + 2 :]
    if not signatures.endswith(b"\n"):
        raise _malformed_note("signature lines must end in a newline", "签名行须以换行结尾")
    lines = signatures[:-1].split(b"\n")
    if len(lines) > MAX_SIGNATURES:
        raise _malformed_note(
            f"{len(lines)} signature lines, more than the {MAX_SIGNATURES} accepted",
            f"签名行 {len(lines)} 条，超过上限 {MAX_SIGNATURES} 条",
        )
    return text, [_parse_signature_line(line) for line in lines]


def _signature_line(name: str, blob: bytes) -> bytes:
    return _SIGNATURE_PREFIX + name.encode() + b" " + base64.b64encode(blob) + b"\n"


def _lookup(
    keys: dict[tuple[str, bytes], list[VerifierKey]], line: _SignatureLine
) -> VerifierKey | None:
    """The one trusted key with the line's name and key id, if any."""
    found = keys.get((line.name, line.kid), [])
    if len(found) > 1:
        raise ConfigurationError(
            f"two trusted keys share the name and key id {line.name}+{line.kid.hex()}",
            zh=f"两个受信任密钥的名称和编号相同：{line.name}+{line.kid.hex()}",
            key=line.name,
        )
    return found[0] if found else None


def _index(
    keys: Sequence[VerifierKey], kid: Callable[[VerifierKey], bytes]
) -> dict[tuple[str, bytes], list[VerifierKey]]:
    """Trusted keys by (name, key id); the same key given twice is not ambiguous."""
    index: dict[tuple[str, bytes], list[VerifierKey]] = {}
    for key in dict.fromkeys(keys):
        index.setdefault((key.name, kid(key)), []).append(key)
    return index


def sign_note(body: bytes, key: SigningKey) -> bytes:
    """The signed note: ``body``, a blank line, and ``key``'s Ed25519 signature line.

    ``body`` must be UTF-8 text ending in a newline, without other control characters. Further
    signatures (witness cosignatures) are appended as more lines: ``note + cosign(...)``.
    """
    problem = _text_problem(body)
    if problem is not None:
        raise InputError(f"cannot sign the note text: {problem[0]}", zh=f"无法签署：{problem[1]}")
    if not body.endswith(b"\n"):
        raise InputError("note text must end in a newline", zh="注记正文须以换行结尾")
    return body + b"\n" + _signature_line(key.record.name, key.kid + key.sign(body))


def open_note(note: bytes, verifiers: Sequence[VerifierKey]) -> tuple[bytes, list[VerifierKey]]:
    """Verify a signed note against trusted Ed25519 keys; return its text and who signed it.

    The signers come in the order of their signature lines, each once.

    Signatures by keys not in ``verifiers`` are ignored (they may be witnesses or a rotated
    key). Raises ``EvidenceError`` for a malformed note, ``SignatureInvalid`` when a trusted
    key's signature does not verify, and ``KeyUnknown`` when no trusted key signed at all.
    """
    text, lines = _split_note(note)
    keys = _index(verifiers, lambda key: key.kid)
    signed: list[VerifierKey] = []
    for line in lines:
        key = _lookup(keys, line)
        if key is None or key in signed:
            continue
        try:
            key.verifier().verify(line.signature, text)
        except InvalidSignature as exc:
            raise SignatureInvalid(
                f"the signature by {key.name}+{key.kid.hex()} does not match the note text",
                zh=f"密钥 {key.name} 的签名与注记正文不符",
                key=key.name,
            ) from exc
        signed.append(key)
    if not signed:
        raise KeyUnknown(
            "the note carries no signature by a trusted key",
            zh="注记上没有受信任密钥的签名",
            signers=[line.name for line in lines],
        )
    return text, signed


# -- witness cosignatures -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Cosignature:
    """A verified witness cosignature: ``witness`` saw the checkpoint as latest at ``timestamp``."""

    witness: VerifierKey
    timestamp: int  # POSIX seconds, as the witness's clock had it


def cosignature_key_id(name: str, public_key: bytes) -> bytes:
    """The key id of an Ed25519 ``cosignature/v1`` key.

    ``SHA-256(name || 0x0A || 0x04 || public key)[:4]``: type 0x04, where note signatures use 0x01.
    """
    return hashlib.sha256(name.encode() + b"\n" + _COSIGNATURE_TYPE + public_key).digest()[:4]


def _cosigned_message(checkpoint: Checkpoint, timestamp: int) -> bytes:
    return _COSIGNATURE_HEADER + str(timestamp).encode() + b"\n" + checkpoint.body()


def cosign(checkpoint: Checkpoint, witness_key: SigningKey, timestamp: int) -> bytes:
    """The witness's ``cosignature/v1`` signature line on ``checkpoint`` at ``timestamp``.

    Append it to the log's signed note to publish the cosigned checkpoint.
    """
    if isinstance(timestamp, bool) or not 0 <= timestamp <= MAX_TIMESTAMP:
        raise InputError(
            f"cosignature timestamp {timestamp!r} is not between 0 and 2^63-1",
            zh=f"联署时间戳 {timestamp!r} 不在 0 至 2^63-1 之间",
        )
    name, public = witness_key.record.name, witness_key.record.public_key
    signature = witness_key.sign(_cosigned_message(checkpoint, timestamp))
    blob = cosignature_key_id(name, public) + timestamp.to_bytes(8, "big") + signature
    return _signature_line(name, blob)


def _verify_cosignature_line(
    checkpoint: Checkpoint, line: _SignatureLine, witness: VerifierKey
) -> Cosignature:
    if len(line.signature) != _COSIGNATURE_SIZE - 4:
        raise _malformed_note(
            f"a cosignature/v1 signature has {_COSIGNATURE_SIZE} bytes "
            "(key id, timestamp, Ed25519 signature)",
            f"cosignature/v1 联署应为 {_COSIGNATURE_SIZE} 字节（密钥编号、时间戳、Ed25519 签名）",
        )
    timestamp = int.from_bytes(line.signature[:8], "big")
    if timestamp > MAX_TIMESTAMP:
        raise _malformed_note("cosignature timestamp exceeds 2^63-1", "联署时间戳超过 2^63-1")
    try:
        witness.verifier().verify(line.signature[8:], _cosigned_message(checkpoint, timestamp))
    except InvalidSignature as exc:
        raise SignatureInvalid(
            f"the cosignature by witness {witness.name} does not match checkpoint "
            f"{checkpoint.origin} at size {checkpoint.size}",
            zh=f"见证方 {witness.name} 的联署与日志检查点（{checkpoint.origin}，"
            f"树大小 {checkpoint.size}）不符",
            key=witness.name,
        ) from exc
    return Cosignature(witness, timestamp)


def verify_cosignature(checkpoint: Checkpoint, line: bytes, witness: VerifierKey) -> Cosignature:
    """Verify one signature line (as ``cosign`` returns it) as ``witness``'s cosignature.

    Returns the verified cosignature with its timestamp; raises ``KeyUnknown`` if the line is
    not by ``witness``, ``SignatureInvalid`` if it does not verify, ``EvidenceError`` if it is
    malformed.
    """
    if not line.endswith(b"\n") or line.count(b"\n") != 1:
        raise _malformed_note(
            "a cosignature is one line ending in a newline", "联署应为以换行结尾的一行"
        )
    _check_note_text(line)
    parsed = _parse_signature_line(line[:-1])
    kid = cosignature_key_id(witness.name, witness.public_key)
    if (parsed.name, parsed.kid) != (witness.name, kid):
        raise KeyUnknown(
            f"the line is by {parsed.name}+{parsed.kid.hex()}, not by witness "
            f"{witness.name}+{kid.hex()}",
            zh=f"该行签名者为 {parsed.name}，不是见证方 {witness.name}",
            key=parsed.name,
        )
    return _verify_cosignature_line(checkpoint, parsed, witness)


def open_cosignatures(
    note: bytes, witnesses: Sequence[VerifierKey]
) -> tuple[Checkpoint, list[Cosignature]]:
    """The checkpoint in ``note`` and the verified cosignatures of ``witnesses`` on it.

    Lines by other keys (the log's own signature among them) are ignored, so this does *not*
    check the log's signature: call ``open_note`` with the log key for that. A witness's
    cosignature that fails to verify raises ``SignatureInvalid``; a witness that did not
    cosign is simply absent from the list, and the caller's quorum policy decides.
    """
    text, lines = _split_note(note)
    checkpoint = Checkpoint.parse_body(text)
    keys = _index(witnesses, lambda key: cosignature_key_id(key.name, key.public_key))
    found: dict[VerifierKey, Cosignature] = {}
    for line in lines:
        witness = _lookup(keys, line)
        if witness is None or witness in found:
            continue
        found[witness] = _verify_cosignature_line(checkpoint, line, witness)
    return checkpoint, list(found.values())

"""JT/T 808 framing: escaping, the check code, the message header, and a stream decoder.

On the wire a message is ``0x7e | header | body | check code | 0x7e``. Inside the flags
``0x7e`` is sent as ``0x7d 0x02`` and ``0x7d`` as ``0x7d 0x01``; the check code is the XOR of
every header and body byte, taken before escaping. Numbers are big-endian.

The header, 2013 edition (12 bytes, 16 with subpackage information)::

    message id          WORD
    body properties     WORD   bits 0-9 body length, 10-12 encryption, 13 subpackage,
                               14 version flag (2019), 15 reserved
    terminal phone      BCD[6]
    serial number       WORD
    subpackage info     WORD total, WORD index (only with bit 13)

The 2019 edition sets bit 14, puts a protocol version BYTE after the properties and widens the
phone number to BCD[10] (17 bytes, 21 with subpackage information).

Phone numbers are returned as their digits without leading zeros, so the same terminal has the
same number in both editions (``012345678900`` and ``00000000012345678900`` are
``12345678900``).
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from typing import ClassVar, Final

from custody.errors import InputError

__all__ = [
    "FLAG",
    "MAX_BODY",
    "MAX_FRAME_BYTES",
    "Edition",
    "Frame",
    "FrameDecoder",
    "FrameMalformed",
    "Header",
    "checksum",
    "decode_frame",
    "encode_frame",
    "escape",
    "unescape",
]

FLAG: Final = 0x7E
"""The byte that opens and closes every frame."""

MAX_BODY: Final = 0x3FF
"""The longest body the 10-bit length field can announce."""

_ESCAPE: Final = 0x7D
_HEADER_2013: Final = 12
_HEADER_2019: Final = 17
_SUBPACKAGE: Final = 4
_PHONE_DIGITS_2013: Final = 12
_PHONE_DIGITS_2019: Final = 20

MAX_FRAME_BYTES: Final = 2 * (_HEADER_2019 + _SUBPACKAGE + MAX_BODY + 1)
"""The longest escaped frame (every byte escaped) between its flags; longer ones are dropped."""

_BAD_ESCAPE: Final = re.compile(rb"\x7d(?![\x01\x02])")
_RAW_PREVIEW: Final = 64  # bytes of a bad frame kept for the log

_LENGTH_MASK: Final = 0x03FF
_ENCRYPTION_SHIFT: Final = 10
_ENCRYPTION_MASK: Final = 0x7
_SUBPACKAGE_BIT: Final = 1 << 13
_VERSION_BIT: Final = 1 << 14


class Edition(enum.StrEnum):
    """Which edition of JT/T 808 a message follows; the header's version flag says."""

    V2013 = "2013"
    V2019 = "2019"


class FrameMalformed(InputError):
    """A frame that cannot be read: broken escape, wrong check code, too short, bad header.

    ``reason`` is one of ``escape``, ``checksum``, ``too-short``, ``header``, ``length``,
    ``too-long``; ``raw`` holds the start of the offending bytes (escaped, without flags).
    """

    code = "jt808-frame-malformed"
    title = "Malformed JT/T 808 frame"
    title_zh = "JT/T 808 报文帧格式错误"

    REASONS: ClassVar[frozenset[str]] = frozenset(
        {"escape", "checksum", "too-short", "header", "length", "too-long"}
    )

    def __init__(self, reason: str, message: str, zh: str, raw: bytes) -> None:
        super().__init__(message, zh=zh, reason=reason)
        self.reason = reason
        self.raw = raw[:_RAW_PREVIEW]


@dataclass(frozen=True, slots=True)
class Header:
    """A message header, as read or to be written.

    ``protocol_version`` is ``None`` for the 2013 edition and the version byte (1 for the
    2019 edition as published) otherwise. ``subpackage`` is ``(total, index)`` for one piece of
    a long message. ``encryption`` holds the three encryption bits (0: plain, 1: RSA).
    """

    message_id: int
    phone: str
    serial: int
    protocol_version: int | None = None
    encryption: int = 0
    subpackage: tuple[int, int] | None = None

    @property
    def edition(self) -> Edition:
        """The edition the header announces."""
        return Edition.V2013 if self.protocol_version is None else Edition.V2019


@dataclass(frozen=True, slots=True)
class Frame:
    """One message: its header and its body bytes (unescaped)."""

    header: Header
    body: bytes


def checksum(data: bytes) -> int:
    """The XOR of every byte of ``data``."""
    # Fold the number in halves: a handful of big-integer XORs instead of a loop per byte.
    value = int.from_bytes(data, "big")
    width = len(data)
    while width > 1:
        half = width // 2
        bits = 8 * half
        value = (value >> bits) ^ (value & ((1 << bits) - 1))
        width -= half
    return value


def escape(data: bytes) -> bytes:
    """Escape ``0x7d`` and ``0x7e`` for the wire (``0x7d`` first, or its output would be hit)."""
    return data.replace(b"\x7d", b"\x7d\x01").replace(b"\x7e", b"\x7d\x02")


def unescape(data: bytes) -> bytes:
    """Undo :func:`escape`; ``FrameMalformed`` (``escape``) for a 0x7d not followed by 1 or 2."""
    if b"\x7d" not in data:
        return data
    if _BAD_ESCAPE.search(data):
        raise FrameMalformed(
            "escape",
            "0x7d in a frame must be followed by 0x01 or 0x02",
            zh="报文帧中 0x7d 之后须为 0x01 或 0x02",
            raw=data,
        )
    # Every 0x7d starts a pair, so the pairs cannot overlap and the order is safe.
    return data.replace(b"\x7d\x02", b"\x7e").replace(b"\x7d\x01", b"\x7d")


def _bcd_digits(data: bytes) -> str:
    digits = data.hex()
    if not digits.isdigit():
        raise ValueError(digits)
    return digits


def _phone(data: bytes) -> str:
    return _bcd_digits(data).lstrip("0") or "0"


def _phone_bcd(phone: str, digits: int) -> bytes:
    if not phone.isdigit() or not phone.isascii() or len(phone.lstrip("0")) > digits:
        raise ValueError(f"terminal phone {phone!r} is not at most {digits} digits")
    return bytes.fromhex(phone.lstrip("0").rjust(digits, "0"))


def decode_frame(escaped: bytes) -> Frame:
    """Read one frame from the bytes between its flags (still escaped).

    Raises:
        FrameMalformed: the bytes are not a well-formed frame; ``reason`` says why.
    """
    data = unescape(escaped)
    if len(data) < _HEADER_2013 + 1:
        raise FrameMalformed(
            "too-short",
            f"a frame needs at least {_HEADER_2013 + 1} bytes, this one has {len(data)}",
            f"报文帧至少 {_HEADER_2013 + 1} 字节，实际 {len(data)} 字节",
            escaped,
        )
    content, check = data[:-1], data[-1]
    if checksum(content) != check:
        raise FrameMalformed(
            "checksum",
            f"check code 0x{check:02x} does not match the content (0x{checksum(content):02x})",
            f"校验码 0x{check:02x} 与内容不符（应为 0x{checksum(content):02x}）",
            escaped,
        )
    message_id = int.from_bytes(content[0:2], "big")
    properties = int.from_bytes(content[2:4], "big")
    body_length = properties & _LENGTH_MASK
    if properties & _VERSION_BIT:
        size, version, phone_end = _HEADER_2019, content[4], 15
        phone_bytes = content[5:phone_end]
    else:
        size, version, phone_end = _HEADER_2013, None, 10
        phone_bytes = content[4:phone_end]
    subpackaged = bool(properties & _SUBPACKAGE_BIT)
    if subpackaged:
        size += _SUBPACKAGE
    if len(content) < size:
        raise FrameMalformed(
            "too-short",
            f"the header needs {size} bytes, the frame holds {len(content)}",
            f"消息头需 {size} 字节，报文帧只有 {len(content)} 字节",
            escaped,
        )
    try:
        phone = _phone(phone_bytes)
    except ValueError:
        raise FrameMalformed(
            "header",
            f"terminal phone {phone_bytes.hex()} is not BCD",
            f"终端手机号 {phone_bytes.hex()} 不是 BCD 编码",
            escaped,
        ) from None
    serial = int.from_bytes(content[phone_end : phone_end + 2], "big")
    subpackage = None
    if subpackaged:
        total = int.from_bytes(content[phone_end + 2 : phone_end + 4], "big")
        index = int.from_bytes(content[phone_end + 4 : phone_end + 6], "big")
        subpackage = (total, index)
    body = content[size:]
    if len(body) != body_length:
        raise FrameMalformed(
            "length",
            f"the header announces a {body_length}-byte body, the frame holds {len(body)}",
            f"消息头声明消息体 {body_length} 字节，实际 {len(body)} 字节",
            escaped,
        )
    header = Header(
        message_id=message_id,
        phone=phone,
        serial=serial,
        protocol_version=version,
        encryption=(properties >> _ENCRYPTION_SHIFT) & _ENCRYPTION_MASK,
        subpackage=subpackage,
    )
    return Frame(header, body)


def encode_frame(header: Header, body: bytes) -> bytes:
    """The frame for ``header`` and ``body``, flags included, ready to send.

    Raises:
        ValueError: the body is longer than 1023 bytes (it would need subpackaging), or the
            phone number is not at most 12 (2013) or 20 (2019) digits.
        OverflowError: a number does not fit its field.
    """
    if len(body) > MAX_BODY:
        raise ValueError(f"a body of {len(body)} bytes needs subpackaging (at most {MAX_BODY})")
    properties = len(body) | (header.encryption & _ENCRYPTION_MASK) << _ENCRYPTION_SHIFT
    if header.subpackage is not None:
        properties |= _SUBPACKAGE_BIT
    parts = [header.message_id.to_bytes(2, "big")]
    if header.protocol_version is None:
        parts += [properties.to_bytes(2, "big"), _phone_bcd(header.phone, _PHONE_DIGITS_2013)]
    else:
        properties |= _VERSION_BIT
        parts += [
            properties.to_bytes(2, "big"),
            header.protocol_version.to_bytes(1, "big"),
            _phone_bcd(header.phone, _PHONE_DIGITS_2019),
        ]
    parts.append(header.serial.to_bytes(2, "big"))
    if header.subpackage is not None:
        total, index = header.subpackage
        parts += [total.to_bytes(2, "big"), index.to_bytes(2, "big")]
    parts.append(body)
    content = b"".join(parts)
    return b"\x7e" + escape(content + bytes([checksum(content)])) + b"\x7e"


class FrameDecoder:
    """Cut a TCP byte stream into frames, however the segments split or merge them.

    Every ``0x7e`` is a boundary: what lies between two of them is one frame, so a frame
    shared flag (``7e A 7e B 7e``) and separate flags (``7e A 7e 7e B 7e``) both work, and
    garbage between frames is one bad piece that is reported and passed over. A piece that
    grows past ``max_frame`` bytes without a closing flag is reported once (``too-long``) and
    skipped up to the next flag, so memory per connection stays bounded.

    :meth:`feed` never raises for bad input: it returns each bad piece as a
    :class:`FrameMalformed` value among the frames, in stream order.
    """

    def __init__(self, *, max_frame: int = MAX_FRAME_BYTES) -> None:
        self._max = max_frame
        self._pending = bytearray()
        self._discarding = False
        self.skipped = 0
        """Bytes passed over while skipping an over-long piece."""

    def feed(self, data: bytes) -> list[Frame | FrameMalformed]:
        """Take the next bytes of the stream; return the frames (and bad pieces) they complete."""
        out: list[Frame | FrameMalformed] = []
        start = 0
        if self._discarding:
            end = data.find(FLAG)
            if end < 0:
                self.skipped += len(data)
                return out
            self.skipped += end
            self._discarding = False
            start = end + 1
        while (end := data.find(FLAG, start)) >= 0:
            if self._pending:
                self._pending += data[start:end]
                piece = bytes(self._pending)
                self._pending.clear()
            else:
                piece = data[start:end]
            start = end + 1
            if piece:
                out.append(self._decode(piece))
        self._pending += data[start:]
        if len(self._pending) > self._max:
            out.append(self._too_long(bytes(self._pending)))
            self.skipped += len(self._pending)
            self._pending.clear()
            self._discarding = True
        return out

    def _decode(self, piece: bytes) -> Frame | FrameMalformed:
        if len(piece) > self._max:
            return self._too_long(piece)
        try:
            return decode_frame(piece)
        except FrameMalformed as exc:
            return exc

    def _too_long(self, piece: bytes) -> FrameMalformed:
        return FrameMalformed(
            "too-long",
            f"no frame is longer than {self._max} bytes; dropped",
            f"报文帧超过 {self._max} 字节，已丢弃",
            piece,
        )

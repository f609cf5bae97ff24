"""The JT/T 808 messages the gateway reads and writes, as frozen dataclasses.

Each message class has ``parse(body, edition)`` and ``encode(edition)``; the edition matters
where the 2019 edition widened a field (registration, authentication). :func:`parse_message`
picks the class by message id, and a message id without a class here becomes a
:class:`RawMessage` that keeps the body as sent.

Parsing checks structure only (lengths, BCD digits, a real date, GBK text); what the values
mean (is the latitude possible?) is the domain model's job in :mod:`custody.tracks`.
Strings are GBK, read as GB 18030 (its superset) so that a terminal's rarer characters do not
fail; fixed-width fields lose their NUL padding and surrounding spaces.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import TYPE_CHECKING, ClassVar, Final, Self

from custody.errors import InputError
from scanners.jt808.frame import Edition, Frame, Header, encode_frame

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = [
    "Authentication",
    "Heartbeat",
    "LocationBatch",
    "LocationReport",
    "Message",
    "MessageId",
    "MessageMalformed",
    "PlatformReply",
    "RawMessage",
    "Registration",
    "RegistrationReply",
    "RegistrationResult",
    "ReplyResult",
    "TerminalReply",
    "encode_message",
    "parse_message",
]

CHINA_STANDARD_TIME: Final = timezone(timedelta(hours=8), "GMT+8")
"""The zone of every JT/T 808 time field."""

SOUTH: Final = 1 << 2
"""Status bit: the latitude is south."""

WEST: Final = 1 << 3
"""Status bit: the longitude is west."""

_LOCATION_FIXED: Final = 28  # bytes of a 0x0200 body before the additional information
_READ_ENCODING: Final = "gb18030"
_WRITE_ENCODING: Final = "gbk"
_PADDING: Final = b"\x00"


class MessageId(enum.IntEnum):
    """The message ids this module knows."""

    TERMINAL_REPLY = 0x0001
    HEARTBEAT = 0x0002
    REGISTRATION = 0x0100
    AUTHENTICATION = 0x0102
    LOCATION = 0x0200
    LOCATION_BATCH = 0x0704
    PLATFORM_REPLY = 0x8001
    REGISTRATION_REPLY = 0x8100


class ReplyResult(enum.IntEnum):
    """Result of a general reply (0x0001, 0x8001)."""

    OK = 0
    FAILURE = 1
    MESSAGE_ERROR = 2
    NOT_SUPPORTED = 3
    ALARM_ACKNOWLEDGED = 4  # 0x8001 only


class RegistrationResult(enum.IntEnum):
    """Result of a registration reply (0x8100)."""

    OK = 0
    VEHICLE_REGISTERED = 1
    NO_SUCH_VEHICLE = 2
    TERMINAL_REGISTERED = 3
    NO_SUCH_TERMINAL = 4


class MessageMalformed(InputError):
    """A frame whose body does not hold the message its id announces."""

    code = "jt808-message-malformed"
    title = "Malformed JT/T 808 message"
    title_zh = "JT/T 808 消息体格式错误"

    def __init__(self, message_id: int, problem: str, *, zh: str) -> None:
        super().__init__(
            f"message 0x{message_id:04x}: {problem}",
            zh=f"消息 0x{message_id:04x}：{zh}",
            message_id=message_id,
        )
        self.message_id = message_id


class _Reader:
    """A cursor over a body that raises ``MessageMalformed`` instead of reading past the end."""

    __slots__ = ("_at", "_body", "_id")

    def __init__(self, message_id: int, body: bytes) -> None:
        self._id = message_id
        self._body = body
        self._at = 0

    def take(self, size: int, what: str) -> bytes:
        end = self._at + size
        if end > len(self._body):
            raise MessageMalformed(
                self._id,
                f"body ends inside {what} ({size} bytes at {self._at} of {len(self._body)})",
                zh=f"消息体在“{what}”处提前结束",
            )
        chunk = self._body[self._at : end]
        self._at = end
        return chunk

    def uint(self, size: int, what: str) -> int:
        return int.from_bytes(self.take(size, what), "big")

    def text(self, size: int, what: str) -> str:
        return _text(self._id, self.take(size, what), what)

    def left(self) -> int:
        return len(self._body) - self._at

    def rest(self) -> bytes:
        chunk = self._body[self._at :]
        self._at = len(self._body)
        return chunk

    def end(self) -> None:
        if self._at != len(self._body):
            raise MessageMalformed(
                self._id,
                f"{len(self._body) - self._at} unexpected bytes after the last field",
                zh=f"最后一个字段之后多出 {len(self._body) - self._at} 字节",
            )


def _text(message_id: int, raw: bytes, what: str) -> str:
    try:
        return raw.rstrip(_PADDING).decode(_READ_ENCODING).strip()
    except UnicodeDecodeError:
        raise MessageMalformed(
            message_id, f"{what} is not GBK text", zh=f"“{what}”不是 GBK 文本"
        ) from None


def _gbk(text: str) -> bytes:
    return text.encode(_WRITE_ENCODING)


def _fixed(text: str, size: int, what: str) -> bytes:
    raw = _gbk(text)
    if len(raw) > size:
        raise ValueError(f"{what} {text!r} is longer than {size} bytes")
    return raw.ljust(size, _PADDING)


# -- general replies and heartbeat ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _GeneralReply:
    """A general reply: which message (serial and id) it answers, and the result."""

    message_id: ClassVar[int]
    reply_serial: int
    reply_id: int
    result: int

    @classmethod
    def parse(cls, body: bytes, edition: Edition) -> Self:  # noqa: ARG003  # same in both editions
        """Read the body."""
        reader = _Reader(cls.message_id, body)
        message = cls(reader.uint(2, "reply serial"), reader.uint(2, "reply id"),
                      reader.uint(1, "result"))  # fmt: skip
        reader.end()
        return message

    def encode(self, edition: Edition) -> bytes:  # noqa: ARG002  # same in both editions
        """The body bytes."""
        return _reply(self.reply_serial, self.reply_id, self.result)


@dataclass(frozen=True, slots=True)
class TerminalReply(_GeneralReply):
    """0x0001: the terminal answers a platform message."""

    message_id: ClassVar[int] = MessageId.TERMINAL_REPLY


@dataclass(frozen=True, slots=True)
class PlatformReply(_GeneralReply):
    """0x8001: the platform answers a terminal message."""

    message_id: ClassVar[int] = MessageId.PLATFORM_REPLY


def _reply(serial: int, message_id: int, result: int) -> bytes:
    return serial.to_bytes(2, "big") + message_id.to_bytes(2, "big") + result.to_bytes(1, "big")


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """0x0002: the terminal is alive. The body is empty; anything in it is ignored."""

    message_id: ClassVar[int] = MessageId.HEARTBEAT

    @classmethod
    def parse(cls, body: bytes, edition: Edition) -> Self:  # noqa: ARG003  # nothing to read
        """Read the body."""
        return cls()

    def encode(self, edition: Edition) -> bytes:  # noqa: ARG002  # nothing to write
        """The body bytes."""
        return b""


# -- registration and authentication --------------------------------------------------------

# (manufacturer, model, terminal id) widths per edition
_REGISTRATION_WIDTHS: Final = {Edition.V2013: (5, 20, 7), Edition.V2019: (11, 30, 30)}


@dataclass(frozen=True, slots=True)
class Registration:
    """0x0100: a terminal asks to be registered.

    ``plate`` is the plate text as sent, or the VIN when ``plate_colour`` is 0 (no plate).
    """

    message_id: ClassVar[int] = MessageId.REGISTRATION
    province: int
    city: int
    manufacturer: str
    model: str
    terminal_id: str
    plate_colour: int
    plate: str

    @classmethod
    def parse(cls, body: bytes, edition: Edition) -> Self:
        """Read the body."""
        maker, model, ident = _REGISTRATION_WIDTHS[edition]
        reader = _Reader(cls.message_id, body)
        return cls(
            province=reader.uint(2, "province"),
            city=reader.uint(2, "city"),
            manufacturer=reader.text(maker, "manufacturer"),
            model=reader.text(model, "terminal model"),
            terminal_id=reader.text(ident, "terminal id"),
            plate_colour=reader.uint(1, "plate colour"),
            plate=_text(cls.message_id, reader.rest(), "plate"),
        )

    def encode(self, edition: Edition) -> bytes:
        """The body bytes."""
        maker, model, ident = _REGISTRATION_WIDTHS[edition]
        return b"".join((
            self.province.to_bytes(2, "big"),
            self.city.to_bytes(2, "big"),
            _fixed(self.manufacturer, maker, "manufacturer"),
            _fixed(self.model, model, "terminal model"),
            _fixed(self.terminal_id, ident, "terminal id"),
            self.plate_colour.to_bytes(1, "big"),
            _gbk(self.plate),
        ))  # fmt: skip


@dataclass(frozen=True, slots=True)
class RegistrationReply:
    """0x8100: the platform answers a registration; the auth code comes only with success."""

    message_id: ClassVar[int] = MessageId.REGISTRATION_REPLY
    reply_serial: int
    result: int
    auth_code: str = ""

    @classmethod
    def parse(cls, body: bytes, edition: Edition) -> Self:  # noqa: ARG003  # same in both editions
        """Read the body."""
        reader = _Reader(cls.message_id, body)
        serial, result = reader.uint(2, "reply serial"), reader.uint(1, "result")
        code = _text(cls.message_id, reader.rest(), "auth code")
        return cls(serial, result, code if result == RegistrationResult.OK else "")

    def encode(self, edition: Edition) -> bytes:  # noqa: ARG002  # same in both editions
        """The body bytes."""
        head = self.reply_serial.to_bytes(2, "big") + self.result.to_bytes(1, "big")
        return head + _gbk(self.auth_code) if self.result == RegistrationResult.OK else head


_IMEI: Final = 15
_SOFTWARE_VERSION: Final = 20


@dataclass(frozen=True, slots=True)
class Authentication:
    """0x0102: a terminal proves it registered. The 2019 edition adds IMEI and software version."""

    message_id: ClassVar[int] = MessageId.AUTHENTICATION
    auth_code: str
    imei: str = ""
    software_version: str = ""

    @classmethod
    def parse(cls, body: bytes, edition: Edition) -> Self:
        """Read the body."""
        if edition is Edition.V2013:
            return cls(_text(cls.message_id, body, "auth code"))
        reader = _Reader(cls.message_id, body)
        size = reader.uint(1, "auth code length")
        message = cls(
            reader.text(size, "auth code"),
            reader.text(_IMEI, "IMEI"),
            reader.text(_SOFTWARE_VERSION, "software version"),
        )
        reader.end()
        return message

    def encode(self, edition: Edition) -> bytes:
        """The body bytes."""
        code = _gbk(self.auth_code)
        if edition is Edition.V2013:
            return code
        return b"".join((
            len(code).to_bytes(1, "big"),
            code,
            _fixed(self.imei, _IMEI, "IMEI"),
            _fixed(self.software_version, _SOFTWARE_VERSION, "software version"),
        ))  # fmt: skip


# -- locations ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LocationReport:
    """0x0200: where the vehicle is.

    Latitude and longitude are in millionths of a degree, negative south and west (the wire
    carries magnitudes and says south and west in status bits 2 and 3). ``time`` is the
    terminal's GMT+8 time as an aware UTC datetime. ``extras`` are the additional information
    items ``(id, value)`` as sent, not interpreted.
    """

    message_id: ClassVar[int] = MessageId.LOCATION
    alarm: int
    status: int
    latitude_e6: int
    longitude_e6: int
    altitude_m: int
    speed_tenth_kmh: int
    heading: int
    time: datetime
    extras: tuple[tuple[int, bytes], ...] = ()

    @property
    def latitude(self) -> float:
        """Latitude in degrees, negative south."""
        return self.latitude_e6 / 1_000_000

    @property
    def longitude(self) -> float:
        """Longitude in degrees, negative west."""
        return self.longitude_e6 / 1_000_000

    @property
    def speed_kmh(self) -> float:
        """Speed in km/h."""
        return self.speed_tenth_kmh / 10

    @classmethod
    def parse(cls, body: bytes, edition: Edition) -> Self:  # noqa: ARG003  # same in both editions
        """Read the body."""
        return cls._read(_Reader(cls.message_id, body), cls.message_id)

    @classmethod
    def _read(cls, reader: _Reader, message_id: int) -> Self:
        alarm = reader.uint(4, "alarm flags")
        status = reader.uint(4, "status")
        lat = reader.uint(4, "latitude")
        lon = reader.uint(4, "longitude")
        altitude = int.from_bytes(reader.take(2, "altitude"), "big", signed=True)
        speed = reader.uint(2, "speed")
        heading = reader.uint(2, "heading")
        time = _bcd_time(message_id, reader.take(6, "time"))
        extras: list[tuple[int, bytes]] = []
        while reader.left():
            item, length = reader.uint(1, "additional item id"), reader.uint(1, "item length")
            extras.append((item, reader.take(length, f"additional item 0x{item:02x}")))
        return cls(
            alarm=alarm,
            status=status,
            latitude_e6=-lat if status & SOUTH else lat,
            longitude_e6=-lon if status & WEST else lon,
            altitude_m=altitude,
            speed_tenth_kmh=speed,
            heading=heading,
            time=time,
            extras=tuple(extras),
        )

    def encode(self, edition: Edition) -> bytes:  # noqa: ARG002  # same in both editions
        """The body bytes. The sign of latitude and longitude sets status bits 2 and 3."""
        status = _sign_bit(self.status, SOUTH, self.latitude_e6)
        status = _sign_bit(status, WEST, self.longitude_e6)
        parts = [
            self.alarm.to_bytes(4, "big"),
            status.to_bytes(4, "big"),
            abs(self.latitude_e6).to_bytes(4, "big"),
            abs(self.longitude_e6).to_bytes(4, "big"),
            self.altitude_m.to_bytes(2, "big", signed=True),
            self.speed_tenth_kmh.to_bytes(2, "big"),
            self.heading.to_bytes(2, "big"),
            _time_bcd(self.time),
        ]
        for item, value in self.extras:
            parts += [item.to_bytes(1, "big"), len(value).to_bytes(1, "big"), value]
        return b"".join(parts)


def _sign_bit(status: int, bit: int, value: int) -> int:
    # Zero has no sign: the bit stays as it was sent, so encoding gives back the same bytes.
    if value < 0:
        return status | bit
    if value > 0:
        return status & ~bit
    return status


def _bcd_time(message_id: int, raw: bytes) -> datetime:
    digits = raw.hex()
    bad = MessageMalformed(
        message_id, f"time {digits} is not a BCD YYMMDDhhmmss date", zh=f"时间 {digits} 无效"
    )
    if not digits.isdigit():
        raise bad
    year, month, day, hour, minute, second = (int(digits[i : i + 2]) for i in range(0, 12, 2))
    try:
        local = datetime(2000 + year, month, day, hour, minute, second, tzinfo=CHINA_STANDARD_TIME)
    except ValueError:
        raise bad from None
    return local.astimezone(UTC)


def _time_bcd(time: datetime) -> bytes:
    if time.utcoffset() is None:
        raise ValueError("a location time must be timezone-aware")
    local = time.astimezone(CHINA_STANDARD_TIME)
    if not 2000 <= local.year <= 2099:
        raise ValueError(f"{local.year} cannot be written as a two-digit year")
    return bytes.fromhex(local.strftime("%y%m%d%H%M%S"))


@dataclass(frozen=True, slots=True)
class LocationBatch:
    """0x0704: several location reports at once; ``kind`` 1 re-sends ones from a blind area."""

    message_id: ClassVar[int] = MessageId.LOCATION_BATCH
    NORMAL: ClassVar[int] = 0
    BLIND_AREA: ClassVar[int] = 1
    kind: int
    locations: tuple[LocationReport, ...]

    @classmethod
    def parse(cls, body: bytes, edition: Edition) -> Self:  # noqa: ARG003  # same in both editions
        """Read the body."""
        reader = _Reader(cls.message_id, body)
        count, kind = reader.uint(2, "count"), reader.uint(1, "type")
        locations = []
        for number in range(1, count + 1):
            size = reader.uint(2, f"length of item {number}")
            if size < _LOCATION_FIXED:
                raise MessageMalformed(
                    cls.message_id,
                    f"item {number} is {size} bytes, a location needs {_LOCATION_FIXED}",
                    zh=f"第 {number} 条位置数据只有 {size} 字节",
                )
            item = _Reader(cls.message_id, reader.take(size, f"item {number}"))
            locations.append(LocationReport._read(item, cls.message_id))  # noqa: SLF001  # one reader for both
        reader.end()
        return cls(kind, tuple(locations))

    def encode(self, edition: Edition) -> bytes:
        """The body bytes."""
        parts = [len(self.locations).to_bytes(2, "big"), self.kind.to_bytes(1, "big")]
        for location in self.locations:
            item = location.encode(edition)
            parts += [len(item).to_bytes(2, "big"), item]
        return b"".join(parts)


# -- anything else --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RawMessage:
    """A message this module does not read (or cannot: encrypted, or one piece of several)."""

    message_id: int
    body: bytes

    def encode(self, edition: Edition) -> bytes:  # noqa: ARG002  # the body is already bytes
        """The body bytes."""
        return self.body


Message = (
    TerminalReply
    | PlatformReply
    | Heartbeat
    | Registration
    | RegistrationReply
    | Authentication
    | LocationReport
    | LocationBatch
    | RawMessage
)

_PARSERS: Final[dict[int, Callable[[bytes, Edition], Message]]] = {
    cls.message_id: cls.parse
    for cls in (
        TerminalReply,
        PlatformReply,
        Heartbeat,
        Registration,
        RegistrationReply,
        Authentication,
        LocationReport,
        LocationBatch,
    )
}


def parse_message(frame: Frame) -> Message:
    """The message a frame carries.

    Encrypted bodies and pieces of a subpackaged message come back as :class:`RawMessage`:
    they cannot be read on their own.

    Raises:
        MessageMalformed: the body does not hold the message its id announces.
    """
    header = frame.header
    parse = _PARSERS.get(header.message_id)
    if parse is None or header.encryption or header.subpackage is not None:
        return RawMessage(header.message_id, frame.body)
    return parse(frame.body, header.edition)


def encode_message(
    message: Message, *, phone: str, serial: int, protocol_version: int | None = None
) -> bytes:
    """The frame carrying ``message``: 2013 edition, or 2019 when ``protocol_version`` is given."""
    header = Header(message.message_id, phone, serial, protocol_version)
    return encode_frame(header, message.encode(header.edition))

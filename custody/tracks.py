"""Vehicle tracks: the terminals that report positions, the positions, and where they are kept.

A :class:`GpsFix` is one position as a vehicle terminal reported it: WGS-84 (JT/T 808
terminals report in WGS-84; every fix says which system it came in), the terminal's own time
in UTC, speed, heading, and the alarm and status words unchanged, so the server can recompute
what the terminal claims (route deviation, overtime parking) rather than trust it. A fix is
identified by its terminal and its time: a terminal that sends the same fix again (after a
blind area, or because our reply was lost) does not make a second one.

A :class:`Terminal` is a registered vehicle terminal, known by its phone number.
:class:`TrackStore` is the port the storage adapters implement.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Final, Protocol

from custody.errors import CoordinateInvalid, PlateInvalid, RecordInvalid
from custody.plates import Plate, parse_plate

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = [
    "ALTITUDE_RANGE_M",
    "CRS",
    "MAX_SPEED_KMH",
    "GpsFix",
    "Terminal",
    "TrackStore",
    "terminal_plate",
]

CRS: Final = frozenset({"WGS84", "GCJ02", "BD09"})
"""The coordinate systems a fix can be given in (see ``custody.parties.GivenPoint``)."""

ALTITUDE_RANGE_M: Final = (-500, 9000)
"""Altitudes a vehicle can be at: below the Dead Sea or above Everest is a broken reading."""

MAX_SPEED_KMH: Final = 6553.5
"""The highest speed the 0x0200 speed field can carry (0.1 km/h in a WORD)."""

_STATUS_POSITIONED: Final = 1 << 1
_UINT32: Final = 0xFFFF_FFFF
_PHONE_DIGITS: Final = 20
_AUTH_CODE_MAX: Final = 64
_TEXT_MAX: Final = {"manufacturer": 11, "model": 30, "terminal_id": 30}
_NO_PLATE_COLOUR: Final = 0  # JT/T 808: colour 0 means not yet plated, the field holds the VIN


def _now() -> datetime:
    return datetime.now(UTC)


def _utc(value: datetime, what: str) -> datetime:
    if value.utcoffset() is None:
        raise RecordInvalid(
            f"{what} {value.isoformat()} has no time zone",
            zh=f"{what} {value.isoformat()} 缺少时区",
            field=what,
        )
    return value.astimezone(UTC)


def _phone(phone: str) -> None:
    if not (phone.isascii() and phone.isdigit() and len(phone) <= _PHONE_DIGITS):
        raise RecordInvalid(
            f"terminal phone {phone!r} must be 1-{_PHONE_DIGITS} digits",
            zh=f"终端手机号“{phone}”须为 1-{_PHONE_DIGITS} 位数字",
            field="terminal",
        )


def _plate(plate: str | None) -> None:
    # Only canonical text (as parse_plate returns it) is stored, so queries by plate match.
    if plate is not None:
        Plate(plate)


def _coordinate(value: float, limit: float, what: str, zh: str) -> None:
    if not (math.isfinite(value) and -limit <= value <= limit):
        raise CoordinateInvalid(
            f"{what} {value} is outside -{limit:g}..{limit:g}",
            zh=f"{zh} {value} 超出 -{limit:g} 至 {limit:g} 的范围",
            field=what,
        )


@dataclass(frozen=True, slots=True)
class GpsFix:
    """One position a vehicle terminal reported, exactly as it reported it.

    ``fix_time`` and ``received_at`` are aware and kept in UTC. ``plate`` is the canonical
    plate of the terminal's vehicle, or ``None`` when the terminal has none on record.

    Raises:
        CoordinateInvalid: latitude, longitude, altitude, speed or heading is impossible, or
            the coordinate system is not one of :data:`CRS`.
        RecordInvalid: a time without zone, a phone that is not digits, alarm or status words
            that do not fit 32 bits.
        PlateInvalid: ``plate`` is not canonical plate text.
    """

    terminal: str
    plate: str | None
    fix_time: datetime
    lat: float
    lon: float
    crs: str = "WGS84"
    altitude_m: int = 0
    speed_kmh: float = 0.0
    heading: int = 0
    alarm: int = 0
    status: int = 0
    received_at: datetime = field(default_factory=_now)

    def __post_init__(self) -> None:
        _phone(self.terminal)
        _plate(self.plate)
        object.__setattr__(self, "fix_time", _utc(self.fix_time, "fix_time"))
        object.__setattr__(self, "received_at", _utc(self.received_at, "received_at"))
        if self.crs not in CRS:
            raise CoordinateInvalid(
                f"unknown coordinate system {self.crs!r} (known: {', '.join(sorted(CRS))})",
                zh=f"未知坐标系“{self.crs}”",
                field="crs",
            )
        _coordinate(self.lat, 90.0, "lat", "纬度")
        _coordinate(self.lon, 180.0, "lon", "经度")
        low, high = ALTITUDE_RANGE_M
        if not low <= self.altitude_m <= high:
            raise CoordinateInvalid(
                f"altitude {self.altitude_m} m is outside {low}..{high} m",
                zh=f"海拔 {self.altitude_m} 米超出 {low} 至 {high} 米的范围",
                field="altitude_m",
            )
        if not (math.isfinite(self.speed_kmh) and 0.0 <= self.speed_kmh <= MAX_SPEED_KMH):
            raise CoordinateInvalid(
                f"speed {self.speed_kmh} km/h is outside 0..{MAX_SPEED_KMH}",
                zh=f"速度 {self.speed_kmh} 公里/小时无效",
                field="speed_kmh",
            )
        if not 0 <= self.heading <= 359:
            raise CoordinateInvalid(
                f"heading {self.heading} is outside 0..359",
                zh=f"方向 {self.heading} 超出 0 至 359 的范围",
                field="heading",
            )
        for name in ("alarm", "status"):
            if not 0 <= getattr(self, name) <= _UINT32:
                raise RecordInvalid(
                    f"{name} must fit 32 bits", zh=f"{name} 须为 32 位无符号整数", field=name
                )

    @property
    def positioned(self) -> bool:
        """Whether the terminal had a satellite fix (status bit 1); if not, the point is stale."""
        return bool(self.status & _STATUS_POSITIONED)


@dataclass(frozen=True, slots=True)
class Terminal:
    """A registered JT/T 808 vehicle terminal.

    ``plate`` is canonical plate text, or ``None`` when the terminal registered without a plate
    we could read. ``auth_code`` is what the terminal must present to report positions.
    """

    phone: str
    plate: str | None
    plate_colour: int
    manufacturer: str
    model: str
    terminal_id: str
    auth_code: str
    registered_at: datetime = field(default_factory=_now)

    def __post_init__(self) -> None:
        _phone(self.phone)
        _plate(self.plate)
        if not 0 <= self.plate_colour <= 0xFF:
            raise RecordInvalid(
                f"plate colour {self.plate_colour} is not a byte",
                zh=f"车牌颜色 {self.plate_colour} 无效",
                field="plate_colour",
            )
        for name, limit in _TEXT_MAX.items():
            if len(getattr(self, name)) > limit:
                raise RecordInvalid(
                    f"{name} is longer than {limit} characters",
                    zh=f"{name} 超过 {limit} 个字符",
                    field=name,
                )
        if not 0 < len(self.auth_code) <= _AUTH_CODE_MAX:
            raise RecordInvalid(
                f"auth code must be 1-{_AUTH_CODE_MAX} characters",
                zh=f"鉴权码须为 1-{_AUTH_CODE_MAX} 个字符",
                field="auth_code",
            )
        object.__setattr__(self, "registered_at", _utc(self.registered_at, "registered_at"))


def terminal_plate(text: str, colour: int) -> str | None:
    """The canonical plate a registering terminal names, or ``None``.

    ``None`` when the vehicle has no plate yet (colour 0: the text is its VIN) or the text is
    not a plate we can read; the caller decides whether to log the text.
    """
    if colour == _NO_PLATE_COLOUR:
        return None
    try:
        return parse_plate(text).text
    except PlateInvalid:
        return None


class TrackStore(Protocol):
    """Storage of terminals and their fixes.

    Time windows are half-open, ``start <= fix_time < end``; results are ordered by fix time
    (then terminal). Failures of the store raise :class:`custody.errors.StorageError`.
    """

    def register_terminal(self, terminal: Terminal) -> tuple[Terminal, bool]:
        """Store ``terminal`` unless its phone is registered already.

        Returns the terminal on record (the earlier one if there was one, unchanged) and
        whether it was new.
        """
        ...

    def get_terminal(self, phone: str) -> Terminal | None:
        """The terminal with this phone number, if registered."""
        ...

    def add_fixes(self, fixes: Sequence[GpsFix]) -> int:
        """Store the fixes not stored yet (same terminal and fix time); return how many were new.

        The first fix stored for a terminal and time stays; a later one for the same key is
        not stored, even if its values differ.
        """
        ...

    def fixes_for_terminal(self, phone: str, start: datetime, end: datetime) -> list[GpsFix]:
        """The terminal's fixes in the window."""
        ...

    def fixes_for_plate(self, plate: str, start: datetime, end: datetime) -> list[GpsFix]:
        """The fixes of every terminal of the vehicle with this canonical plate, in the window."""
        ...

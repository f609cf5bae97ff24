"""The registry's records: parties, their permits and licences, vehicles and checkpoints.

Each record is a frozen dataclass that is valid by construction: identifiers are parsed on the
way in, so nothing downstream checks them again. A party may be recorded before it has an
account with us (``registered=False``): chains must not stall because one party is not on the
system, but the checker flags them.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from custody.credit_code import parse_credit_code
from custody.errors import CoordinateInvalid, RecordInvalid
from custody.plates import parse_plate
from custody.wastes import parse_category, parse_waste_code

if TYPE_CHECKING:
    from collections.abc import Iterable
    from datetime import date

__all__ = [
    "Checkpoint",
    "CheckpointKind",
    "DisposalMethod",
    "GivenPoint",
    "OperatingLicence",
    "Party",
    "PartyRole",
    "TransportPermit",
    "Vehicle",
    "WGS84Point",
]

_MAX_TEXT = 200
E = TypeVar("E", bound=enum.StrEnum)


class PartyRole(enum.StrEnum):
    """What a party does in the chain; one company may hold several roles."""

    GENERATOR = "generator"  # 产废单位
    TRANSPORTER = "transporter"  # 运输单位
    DISPOSER = "disposer"  # 利用处置单位


class DisposalMethod(enum.StrEnum):
    """Methods a hazardous waste operating licence may authorise."""

    INCINERATION = "incineration"  # 焚烧
    LANDFILL = "landfill"  # 填埋
    PHYSICOCHEMICAL = "physicochemical"  # 物化处理
    RECOVERY = "recovery"  # 综合利用
    COLLECTION = "collection"  # 收集（收集经营许可证）


_DIVISION_DIGITS = 6


class CheckpointKind(enum.StrEnum):
    """What stands at a checkpoint."""

    ANPR_GATE = "anpr_gate"  # 车牌识别卡口
    SCAN_STATION = "scan_station"  # 扫码检查站
    WEIGHBRIDGE = "weighbridge"  # 地磅
    TOLL = "toll"  # 收费站


def _text(value: str, what: str, *, required: bool = True) -> str:
    cleaned = " ".join(value.split())
    if required and not cleaned:
        raise RecordInvalid(f"{what} must not be empty", zh=f"{what}不能为空", field=what)
    if len(cleaned) > _MAX_TEXT:
        raise RecordInvalid(
            f"{what} is longer than {_MAX_TEXT} characters",
            zh=f"{what}超过 {_MAX_TEXT} 个字符",
            field=what,
        )
    return cleaned


def _members(kind: type[E], values: Iterable[str], what: str) -> frozenset[E]:
    try:
        return frozenset(kind(v) for v in values)
    except ValueError:
        allowed = ", ".join(m.value for m in kind)
        raise RecordInvalid(
            f"{what} must be among: {allowed}",
            zh=f"{what}取值须为：{allowed}",
            field=what,
        ) from None


def _window(valid_from: date, valid_to: date, what: str) -> None:
    if valid_to < valid_from:
        raise RecordInvalid(
            f"{what} ends ({valid_to}) before it starts ({valid_from})",
            zh=f"{what}的有效期截止日（{valid_to}）早于起始日（{valid_from}）",
            field="valid_to",
        )


@dataclass(frozen=True, slots=True)
class WGS84Point:
    """A point in WGS-84, the system we store; where it came from is kept beside it."""

    lat: float
    lon: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.lat) and -90.0 <= self.lat <= 90.0):
            raise CoordinateInvalid(
                f"latitude {self.lat} is outside -90..90",
                zh=f"纬度 {self.lat} 超出 -90 至 90 的范围",
                field="lat",
            )
        if not (math.isfinite(self.lon) and -180.0 <= self.lon <= 180.0):
            raise CoordinateInvalid(
                f"longitude {self.lon} is outside -180..180",
                zh=f"经度 {self.lon} 超出 -180 至 180 的范围",
                field="lon",
            )


@dataclass(frozen=True, slots=True)
class Party:
    """A company in the chain, identified by its unified social credit code."""

    credit_code: str
    name: str
    roles: frozenset[PartyRole]
    address: str = ""
    contact: str = ""
    registered: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "credit_code", parse_credit_code(self.credit_code).text)
        object.__setattr__(self, "name", _text(self.name, "name"))
        object.__setattr__(self, "address", _text(self.address, "address", required=False))
        object.__setattr__(self, "contact", _text(self.contact, "contact", required=False))
        if not self.roles:
            raise RecordInvalid(
                "a party needs at least one role (generator, transporter, disposer)",
                zh="单位至少需要一个角色（产废、运输、利用处置）",
                field="roles",
            )
        object.__setattr__(self, "roles", _members(PartyRole, self.roles, "roles"))

    @property
    def division(self) -> str:
        """The administrative division code (GB/T 2260) embedded in the credit code."""
        return self.credit_code[2:8]


@dataclass(frozen=True, slots=True)
class TransportPermit:
    """A road transport operating permit for dangerous goods (道路危险货物运输经营许可)."""

    number: str
    holder: str
    valid_from: date
    valid_to: date

    def __post_init__(self) -> None:
        object.__setattr__(self, "number", _text(self.number, "permit number"))
        object.__setattr__(self, "holder", parse_credit_code(self.holder).text)
        _window(self.valid_from, self.valid_to, "permit")

    def valid_on(self, day: date) -> bool:
        """Whether the permit is in force on ``day``."""
        return self.valid_from <= day <= self.valid_to


@dataclass(frozen=True, slots=True)
class OperatingLicence:
    """A hazardous waste operating licence (危险废物经营许可证) of a disposer.

    ``scope`` holds waste codes (``900-041-49``) and whole categories (``HW08``) the licence
    covers.
    """

    number: str
    holder: str
    scope: frozenset[str]
    methods: frozenset[DisposalMethod]
    capacity_t_per_year: float
    valid_from: date
    valid_to: date

    def __post_init__(self) -> None:
        object.__setattr__(self, "number", _text(self.number, "licence number"))
        object.__setattr__(self, "holder", parse_credit_code(self.holder).text)
        if not self.scope:
            raise RecordInvalid(
                "a licence must name the waste codes or categories it covers",
                zh="经营许可证须载明核准经营的危险废物类别或代码",
                field="scope",
            )
        object.__setattr__(self, "scope", frozenset(_scope_item(s) for s in self.scope))
        if not self.methods:
            raise RecordInvalid(
                "a licence must name at least one method",
                zh="经营许可证须载明经营方式",
                field="methods",
            )
        object.__setattr__(self, "methods", _members(DisposalMethod, self.methods, "methods"))
        if not (math.isfinite(self.capacity_t_per_year) and self.capacity_t_per_year > 0):
            raise RecordInvalid(
                f"yearly capacity must be positive tonnes, not {self.capacity_t_per_year}",
                zh=f"年经营规模须为正数（吨），而不是 {self.capacity_t_per_year}",
                field="capacity_t_per_year",
            )
        _window(self.valid_from, self.valid_to, "licence")

    def covers(self, waste_code: str) -> bool:
        """Whether the licence covers a waste code, by the code itself or by its category."""
        code = parse_waste_code(waste_code)
        return code in self.scope or f"HW{code[-2:]}" in self.scope

    def valid_on(self, day: date) -> bool:
        """Whether the licence is in force on ``day``."""
        return self.valid_from <= day <= self.valid_to


def _scope_item(item: str) -> str:
    stripped = item.strip().upper()
    if stripped.startswith("HW"):
        return parse_category(stripped)
    return parse_waste_code(stripped)


@dataclass(frozen=True, slots=True)
class Vehicle:
    """A dangerous-goods vehicle of a transporter, known by its plate."""

    plate: str
    operator: str
    transport_certificate: str = ""  # 道路运输证号
    capacity_kg: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "plate", parse_plate(self.plate).text)
        object.__setattr__(self, "operator", parse_credit_code(self.operator).text)
        object.__setattr__(
            self,
            "transport_certificate",
            _text(self.transport_certificate, "transport certificate", required=False),
        )
        if self.capacity_kg is not None and self.capacity_kg <= 0:
            raise RecordInvalid(
                f"capacity must be positive, not {self.capacity_kg} kg",
                zh=f"核定载质量须为正数，而不是 {self.capacity_kg} 千克",
                field="capacity_kg",
            )


@dataclass(frozen=True, slots=True)
class GivenPoint:
    """A coordinate exactly as it was given, in the system it was given in (kept as evidence)."""

    crs: str  # "WGS84", "GCJ02" or "BD09"
    lat: float
    lon: float


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A fixed place where trucks or containers are seen: a gate, a scan station, a weighbridge.

    ``location`` is WGS-84; ``given`` keeps the value as it was given (a GCJ-02 point from a
    Chinese map app stays on record as evidence). Without ``given``, the WGS-84 value is it.
    """

    checkpoint_id: str
    name: str
    kind: CheckpointKind
    location: WGS84Point
    road: str = ""
    given: GivenPoint | None = None
    #: The GB/T 2260 code (six digits) of the county or district it stands in: whose officers
    #: read its plate reads. Empty when not given: then every officer reads them.
    division: str = ""

    def __post_init__(self) -> None:
        division = self.division.strip()
        if division and not (len(division) == _DIVISION_DIGITS and division.isascii()
                             and division.isdigit()):  # fmt: skip
            raise RecordInvalid(
                f"division {self.division!r} must be a six-digit GB/T 2260 code",
                zh=f"行政区划代码“{self.division}”须为六位数字（GB/T 2260）",
                field="division",
            )
        object.__setattr__(self, "division", division)
        ident = self.checkpoint_id.strip()
        if not ident or len(ident) > 64 or not all(c.isalnum() or c in "-_." for c in ident):
            raise RecordInvalid(
                f"checkpoint id {self.checkpoint_id!r} must be 1-64 of letters, digits, - _ .",
                zh=f"检查点编号“{self.checkpoint_id}”须为 1-64 位字母、数字或 - _ .",
                field="checkpoint_id",
            )
        object.__setattr__(self, "checkpoint_id", ident)
        object.__setattr__(self, "name", _text(self.name, "name"))
        (kind,) = _members(CheckpointKind, [self.kind], "kind")
        object.__setattr__(self, "kind", kind)
        object.__setattr__(self, "road", _text(self.road, "road", required=False))
        if self.given is None:
            object.__setattr__(
                self, "given", GivenPoint("WGS84", self.location.lat, self.location.lon)
            )

    @property
    def source(self) -> GivenPoint:
        """The coordinate as it was given."""
        return self.given or GivenPoint("WGS84", self.location.lat, self.location.lon)

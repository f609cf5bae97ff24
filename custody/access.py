"""Who may do what: roles, jurisdictions and the scope of what each principal may see.

Pure rules, no web and no SQL: the service resolves a token to a :class:`Principal` and asks
here whether it may act, and which parties and districts bound what it reads. A party (a
generator, transporter or disposer) sees what names it; an officer sees their jurisdiction, a
list of administrative divisions (GB/T 2260 codes or their prefixes: ``51`` a province, ``5101``
a city, ``510104`` a district) matched against the division embedded in every party's unified
social credit code (characters 3-8, GB 32100); an administrator sees everything.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from custody.credit_code import parse_credit_code
from custody.errors import RecordInvalid

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = [
    "OFFICER_ROLES",
    "PARTY_ROLES",
    "Principal",
    "Reach",
    "Role",
    "parse_districts",
]

_DIVISION = re.compile(r"^\d{2}(\d{2}){0,2}$")


class Role(enum.StrEnum):
    """What an account does. Party roles act for one company; officers read their area."""

    GENERATOR = "generator"  # 产废单位
    TRANSPORTER = "transporter"  # 运输单位
    DISPOSER = "disposer"  # 利用处置单位
    CHECKPOINT = "checkpoint"  # 检查站（卡口、扫码站、地磅）
    POLICE = "police"  # 公安机关
    TRANSPORT = "transport"  # 交通运输主管部门
    ENVIRONMENT = "environment"  # 生态环境主管部门
    ADMINISTRATOR = "administrator"  # 系统管理员

    @property
    def zh(self) -> str:
        """The role's name in Chinese."""
        return _ZH[self]

    @property
    def is_party(self) -> bool:
        """Whether the role acts for one company and sees only what names it."""
        return self in PARTY_ROLES

    @property
    def is_officer(self) -> bool:
        """Whether the role reads a jurisdiction (and every read is logged)."""
        return self in OFFICER_ROLES


_ZH = {
    Role.GENERATOR: "产废单位",
    Role.TRANSPORTER: "运输单位",
    Role.DISPOSER: "利用处置单位",
    Role.CHECKPOINT: "检查站",
    Role.POLICE: "公安民警",
    Role.TRANSPORT: "交通运输执法人员",
    Role.ENVIRONMENT: "生态环境执法人员",
    Role.ADMINISTRATOR: "系统管理员",
}
PARTY_ROLES = frozenset({Role.GENERATOR, Role.TRANSPORTER, Role.DISPOSER})
OFFICER_ROLES = frozenset({Role.POLICE, Role.TRANSPORT, Role.ENVIRONMENT})


def parse_districts(codes: Iterable[str]) -> tuple[str, ...]:
    """Administrative division codes or prefixes (2, 4 or 6 digits), sorted, duplicates out."""
    found: set[str] = set()
    for raw in codes:
        code = raw.strip()
        if not _DIVISION.fullmatch(code):
            raise RecordInvalid(
                f"district {raw!r} is not a GB/T 2260 code or prefix of 2, 4 or 6 digits",
                zh=f"辖区“{raw}”无效：应为 2、4 或 6 位行政区划代码",
                field="districts",
            )
        found.add(code)
    return tuple(sorted(found))


@dataclass(frozen=True, slots=True)
class Reach:
    """What names a party in reach: these credit codes, or a code whose division has a prefix.

    Stores turn it into a filter (``custody.alerts.AlertFilter.reach``); None means no bound.
    """

    parties: tuple[str, ...] = ()
    divisions: tuple[str, ...] = ()

    def covers(self, credit_code: str) -> bool:
        """Whether a party lies within."""
        division = credit_code[2:8]
        return credit_code in self.parties or any(division.startswith(d) for d in self.divisions)


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated account: a person or a device, with its role and reach."""

    name: str
    role: Role
    party: str | None = None  # the company a party-role or checkpoint account acts for
    districts: tuple[str, ...] = ()  # an officer's jurisdiction
    device: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "role", Role(self.role))
        if self.party is not None:
            object.__setattr__(self, "party", parse_credit_code(self.party).text)
        object.__setattr__(self, "districts", parse_districts(self.districts))
        if self.role.is_party and self.party is None:
            raise RecordInvalid(
                f"a {self.role} account must act for a party (its credit code)",
                zh=f"{self.role.zh}账户须绑定单位（统一社会信用代码）",
                field="party",
            )
        if self.role.is_officer and not self.districts:
            raise RecordInvalid(
                "an officer's account needs a jurisdiction (districts)",
                zh="执法人员账户须设定辖区（行政区划代码）",
                field="districts",
            )

    @property
    def sees_all(self) -> bool:
        """Whether nothing bounds what the account reads (an administrator)."""
        return self.role is Role.ADMINISTRATOR

    @property
    def reach(self) -> Reach | None:
        """The parties whose records the account may read; None for all of them.

        A party account reaches itself; an officer, the parties registered in their districts;
        a checkpoint station reads no party's records.
        """
        if self.sees_all:
            return None
        if self.role.is_officer:
            return Reach(divisions=self.districts)
        if self.role.is_party and self.party is not None:
            return Reach(parties=(self.party,))
        return Reach()

    def covers_party(self, credit_code: str) -> bool:
        """Whether a party lies in what the account may see: itself, or its jurisdiction."""
        reach = self.reach
        return reach is None or reach.covers(credit_code)

    def covers_division(self, division: str) -> bool:
        """Whether a place in this GB/T 2260 division is in the account's jurisdiction.

        An administrator's always; an officer's when one of their districts is a prefix of it
        (an unknown division, empty, is every officer's); no one else's.
        """
        if self.sees_all:
            return True
        if not self.role.is_officer:
            return False
        return not division or any(division.startswith(d) for d in self.districts)

    def covers_any(self, parties: Iterable[str]) -> bool:
        """Whether any of these parties is in reach (what names them may be shown)."""
        return self.sees_all or any(self.covers_party(p) for p in parties)

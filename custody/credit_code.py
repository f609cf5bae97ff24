"""Unified social credit codes (统一社会信用代码, GB 32100-2015).

A code has 18 characters from :data:`CHARSET` (digits and capital letters without I, O, Z, S
and V), in five parts::

    9 1 350100 M000100Y4 3
    │ │ │      │         └─ position 18     check character (GB 32100, mod 31)
    │ │ │      └─────────── positions 9-17  organisation code (GB 11714), its own check at 17
    │ │ └────────────────── positions 3-8   administrative division code (GB/T 2260)
    │ └──────────────────── position 2      organisation type, per registration authority
    └────────────────────── position 1      registration authority

What is checked, in this order (the first failure is reported, with its 1-based position):

1. length: exactly 18 characters, after surrounding whitespace is removed;
2. charset: every character is in :data:`CHARSET` (ASCII lowercase is accepted and upper-cased;
   nothing else is rewritten, so inner spaces and full-width characters are rejected);
3. authority: position 1 is in :data:`AUTHORITIES`;
4. org-type: position 2 is a type that authority assigns (:data:`ORG_TYPES`);
5. division: positions 3-8 are digits whose first two are a province-level GB/T 2260 code
   (:data:`PROVINCE_PREFIXES`), or exactly ``100000`` (national-level registration);
6. org-check: position 17 is the GB 11714 check character of positions 9-16;
7. check: position 18 is the GB 32100 check character of positions 1-17.

Sources:

- Check characters: GB 32100-2015 (weights ``3**(i-1) mod 31`` for positions 1-17, check =
  ``31 - sum mod 31``, 31 written as ``0``) and GB 11714-1997 (weights 3, 7, 9, 10, 5, 8, 4, 2;
  letters valued A=10 .. Z=35; check = ``11 - sum mod 11``, 10 written ``X``, 11 written ``0``).
  Both were checked against codes printed on public records (see the tests).
- Authorities and types: GB 32100-2015 table 1 (1 机构编制, 5 民政, 9 工商, Y 其他) with the
  codes added since for the other registration authorities (2 外交, 3 司法行政, 4 文化, 6 旅游,
  7 宗教, 8 工会, A 中央军委改革和编制办公室, N 农业), as listed identically by several
  independent public implementations; the amendment text itself was not at hand.
- Division: only the province prefix is checked, so that a renamed or merged county does not
  break old codes. ``100000`` is what national-level registrations carry (for example
  ``91100000100003962T`` and ``12100000400000624D``), although GB/T 2260 lists no such code.
"""

from __future__ import annotations

import functools
import string
import unicodedata
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Final, NamedTuple

from custody.errors import CreditCodeInvalid

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = [
    "AUTHORITIES",
    "CHARSET",
    "CHECK_WEIGHTS",
    "EXCLUDED_LETTERS",
    "NATIONAL_DIVISION",
    "ORG_CODE_WEIGHTS",
    "ORG_TYPES",
    "PROVINCE_PREFIXES",
    "CreditCode",
    "Name",
    "credit_check_char",
    "org_code_check_char",
    "parse_credit_code",
]

CHARSET: Final = "0123456789ABCDEFGHJKLMNPQRTUWXY"
"""The 31 characters of a code; a character's value is its index."""

EXCLUDED_LETTERS: Final = "IOSVZ"
"""Capital letters GB 32100-2015 leaves out of :data:`CHARSET`."""

CHECK_WEIGHTS: Final = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
"""GB 32100 weights of positions 1-17."""

ORG_CODE_WEIGHTS: Final = (3, 7, 9, 10, 5, 8, 4, 2)
"""GB 11714 weights of the eight body characters of an organisation code."""

NATIONAL_DIVISION: Final = "100000"
"""Division code carried by codes of national-level registration authorities."""

PROVINCE_PREFIXES: Final = frozenset(
    [f"{n}" for n in range(11, 16)]
    + [f"{n}" for n in range(21, 24)]
    + [f"{n}" for n in range(31, 38)]
    + [f"{n}" for n in range(41, 47)]
    + [f"{n}" for n in range(50, 55)]
    + [f"{n}" for n in range(61, 66)]
    + ["71", "81", "82"]
)
"""First two digits of the province-level GB/T 2260 codes."""

_LENGTH: Final = 18
_VALUES: Final = MappingProxyType({char: value for value, char in enumerate(CHARSET)})
_ORG_CODE_BODY: Final = frozenset(string.digits + string.ascii_uppercase)
_ASCII_UPPER: Final = str.maketrans(string.ascii_lowercase, string.ascii_uppercase)
_LETTERS: Final = "A-H, J-N, P, Q, R, T, U, W, X and Y"


class Name(NamedTuple):
    """A registration authority or organisation type, named in English and Chinese."""

    en: str
    zh: str


AUTHORITIES: Final[Mapping[str, Name]] = MappingProxyType(
    {
        "1": Name("staffing authority", "机构编制"),
        "2": Name("foreign affairs", "外交"),
        "3": Name("judicial administration", "司法行政"),
        "4": Name("culture", "文化"),
        "5": Name("civil affairs", "民政"),
        "6": Name("tourism", "旅游"),
        "7": Name("religious affairs", "宗教"),
        "8": Name("trade unions", "工会"),
        "9": Name("market regulation (industry and commerce)", "工商"),
        "A": Name(
            "Central Military Commission reform and staffing office", "中央军委改革和编制办公室"
        ),
        "N": Name("agriculture", "农业"),
        "Y": Name("other", "其他"),
    }
)
"""Registration authority codes (position 1)."""

_OTHER: Final = Name("other", "其他")

ORG_TYPES: Final[Mapping[str, Mapping[str, Name]]] = MappingProxyType(
    {
        "1": MappingProxyType(
            {
                "1": Name("government body", "机关"),
                "2": Name("public institution", "事业单位"),
                "3": Name(
                    "mass organisation staffed directly by the central staffing office",
                    "中央编办直接管理机构编制的群众团体",
                ),
                "9": _OTHER,
            }
        ),
        "2": MappingProxyType(
            {"1": Name("resident foreign news agency", "外国常驻新闻机构"), "9": _OTHER}
        ),
        "3": MappingProxyType(
            {
                "1": Name("law firm", "律师执业机构"),
                "2": Name("notary office", "公证处"),
                "3": Name("basic-level legal service office", "基层法律服务所"),
                "4": Name("forensic appraisal institution", "司法鉴定机构"),
                "5": Name("arbitration commission", "仲裁委员会"),
                "9": _OTHER,
            }
        ),
        "4": MappingProxyType(
            {"1": Name("foreign cultural centre in China", "外国在华文化中心"), "9": _OTHER}
        ),
        "5": MappingProxyType(
            {
                "1": Name("social organisation", "社会团体"),
                "2": Name("private non-enterprise unit", "民办非企业单位"),
                "3": Name("foundation", "基金会"),
                "9": _OTHER,
            }
        ),
        "6": MappingProxyType(
            {
                "1": Name(
                    "resident office of a foreign tourism authority", "外国旅游部门常驻代表机构"
                ),
                "2": Name(
                    "resident mainland office of a Hong Kong, Macao or Taiwan tourism authority",
                    "港澳台地区旅游部门常驻内地（大陆）代表机构",
                ),
                "9": _OTHER,
            }
        ),
        "7": MappingProxyType(
            {
                "1": Name("place of religious activity", "宗教活动场所"),
                "2": Name("religious college", "宗教院校"),
                "9": _OTHER,
            }
        ),
        "8": MappingProxyType({"1": Name("grassroots trade union", "基层工会"), "9": _OTHER}),
        "9": MappingProxyType(
            {
                "1": Name("enterprise", "企业"),
                "2": Name("individual business", "个体工商户"),
                "3": Name("farmers' specialised cooperative", "农民专业合作社"),
            }
        ),
        "A": MappingProxyType(
            {"1": Name("military public institution", "军队事业单位"), "9": _OTHER}
        ),
        "N": MappingProxyType(
            {
                "1": Name("group-level collective economic organisation", "组级集体经济组织"),
                "2": Name("village-level collective economic organisation", "村级集体经济组织"),
                "3": Name("township-level collective economic organisation", "乡镇级集体经济组织"),
                "9": _OTHER,
            }
        ),
        "Y": MappingProxyType({"1": _OTHER}),
    }
)
"""Organisation type codes (position 2) each registration authority assigns."""


@dataclass(frozen=True)
class CreditCode:
    """A unified social credit code that passed every check.

    Construct it with :func:`parse_credit_code`, which tidies its input first. The constructor
    takes the canonical text only (18 characters, upper case) and raises
    :class:`~custody.errors.CreditCodeInvalid` for anything else; the parts are derived from it.
    """

    text: str
    authority: str = field(init=False, repr=False)
    """Position 1, a key of :data:`AUTHORITIES`."""
    org_type: str = field(init=False, repr=False)
    """Position 2, a key of ``ORG_TYPES[authority]``."""
    division: str = field(init=False, repr=False)
    """Positions 3-8, the GB/T 2260 division of the registering authority."""
    org_code: str = field(init=False, repr=False)
    """Positions 9-17, the GB 11714 organisation code including its check character."""
    check: str = field(init=False, repr=False)
    """Position 18, the GB 32100 check character."""

    def __post_init__(self) -> None:
        _validate(self.text)
        object.__setattr__(self, "authority", self.text[0])
        object.__setattr__(self, "org_type", self.text[1])
        object.__setattr__(self, "division", self.text[2:8])
        object.__setattr__(self, "org_code", self.text[8:17])
        object.__setattr__(self, "check", self.text[17])

    def __str__(self) -> str:
        return self.text

    @property
    def authority_name(self) -> Name:
        """The registration authority, in English and Chinese."""
        return AUTHORITIES[self.authority]

    @property
    def org_type_name(self) -> Name:
        """The organisation type, in English and Chinese."""
        return ORG_TYPES[self.authority][self.org_type]


@functools.lru_cache(maxsize=8192)  # immutable results; the same codes arrive all day
def parse_credit_code(text: str) -> CreditCode:
    """Parse a unified social credit code.

    Surrounding whitespace is removed and ASCII lower-case letters are upper-cased; nothing else
    is rewritten, so a code with an inner space or a full-width character is rejected.

    Raises:
        CreditCodeInvalid: the code breaks a rule; ``context`` holds ``rule`` (one of
            ``length``, ``charset``, ``authority``, ``org-type``, ``division``, ``org-check``,
            ``check``), the 1-based ``position`` and the offending ``character`` (for a bad
            province prefix, the two digits), and ``expected`` for the length and both checks.
    """
    return CreditCode(text.strip().translate(_ASCII_UPPER))


def credit_check_char(first17: str) -> str:
    """Return the GB 32100 check character (position 18) for the first 17 characters.

    Raises:
        CreditCodeInvalid: ``first17`` is not 17 characters of :data:`CHARSET`.
    """
    _check_length(first17, 17)
    _check_charset(first17)
    total = sum(_VALUES[char] * weight for char, weight in zip(first17, CHECK_WEIGHTS, strict=True))
    return CHARSET[(31 - total % 31) % 31]


def org_code_check_char(first8: str) -> str:
    """Return the GB 11714 check character for the eight body characters of an organisation code.

    The body may hold any digit or capital letter; letters count A=10 .. Z=35, as GB 11714
    defines, even those the credit code charset leaves out.

    Raises:
        CreditCodeInvalid: ``first8`` is not eight digits or capital letters.
    """
    _check_length(first8, 8)
    for position, char in enumerate(first8, start=1):
        if char not in _ORG_CODE_BODY:
            raise CreditCodeInvalid(
                f"An organisation code body holds digits and capital letters only; "
                f"position {position} is {_describe(char)}.",
                zh=f"组织机构代码本体只由数字和大写字母组成，第{position}位是{_describe_zh(char)}。",
                rule="charset",
                position=position,
                character=char,
            )
    total = sum(
        _org_value(char) * weight for char, weight in zip(first8, ORG_CODE_WEIGHTS, strict=True)
    )
    check = 11 - total % 11
    return {10: "X", 11: "0"}.get(check, str(check))


def _org_value(char: str) -> int:
    if char.isdigit():
        return int(char)
    return ord(char) - ord("A") + 10


def _validate(code: str) -> None:
    _check_length(code, _LENGTH)
    _check_charset(code)
    authority, org_type = code[0], code[1]
    _check_authority(authority)
    _check_org_type(authority, org_type)
    _check_division(code[2:8])
    expected = org_code_check_char(code[8:16])
    if code[16] != expected:
        raise CreditCodeInvalid(
            f"The organisation code (positions 9-17, GB 11714) fails its check: position 17 "
            f"should be '{expected}' but is '{code[16]}'.",
            zh=f"组织机构代码（第9至17位，GB 11714）校验失败：第17位应为“{expected}”，"
            f"实为“{code[16]}”。",
            rule="org-check",
            position=17,
            character=code[16],
            expected=expected,
        )
    expected = credit_check_char(code[:17])
    if code[17] != expected:
        raise CreditCodeInvalid(
            f"The check character (position 18) should be '{expected}' but is '{code[17]}': "
            f"the code was mistyped or altered.",
            zh=f"校验码（第18位）应为“{expected}”，实为“{code[17]}”：代码录入有误或被改动。",
            rule="check",
            position=18,
            character=code[17],
            expected=expected,
        )


def _check_length(code: str, length: int) -> None:
    if len(code) == length:
        return
    found = f"has {len(code)}" if code else "is empty"
    found_zh = f"实为{len(code)}位" if code else "输入为空"
    message = f"A unified social credit code has {length} characters; this one {found}."
    zh = f"统一社会信用代码应为{length}位，{found_zh}。"
    if length != _LENGTH:
        message = f"Expected {length} characters; got {len(code)}."
        zh = f"应为{length}位，{found_zh}。"
    inner = next((i for i, char in enumerate(code, start=1) if char.isspace()), None)
    if inner is not None:
        message += (
            f" Position {inner} is {_describe(code[inner - 1])}: spaces are not part of the code."
        )
        zh += f"第{inner}位是{_describe_zh(code[inner - 1])}，代码中不能有空格。"
    raise CreditCodeInvalid(message, zh=zh, rule="length", expected=length, length=len(code))


def _check_charset(code: str) -> None:
    for position, char in enumerate(code, start=1):
        if char in _VALUES:
            continue
        if char in EXCLUDED_LETTERS:
            message = (
                f"The letter '{char}' at position {position} is not allowed: GB 32100-2015 "
                f"excludes I, O, Z, S and V from the code."
            )
            zh = f"第{position}位的字母“{char}”不能使用：GB 32100-2015 不使用字母 I、O、Z、S、V。"
        else:
            message = (
                f"Position {position} is {_describe(char)}, which a unified social credit code "
                f"cannot hold: it uses digits and the capital letters {_LETTERS}."
            )
            zh = (
                f"第{position}位是{_describe_zh(char)}，统一社会信用代码只由数字和大写字母"
                f"（不含 I、O、Z、S、V）组成。"
            )
            narrow = unicodedata.normalize("NFKC", char).upper()
            if narrow in _VALUES:
                message += f" It is a full-width character: type '{narrow}' instead."
                zh += f"这是全角字符，请输入半角“{narrow}”。"
        raise CreditCodeInvalid(message, zh=zh, rule="charset", position=position, character=char)


def _check_authority(authority: str) -> None:
    if authority in AUTHORITIES:
        return
    codes = ", ".join(AUTHORITIES)
    raise CreditCodeInvalid(
        f"Position 1 is the registration authority code, and '{authority}' is not one; "
        f"the codes are {codes}.",
        zh=f"第1位是登记管理部门代码，“{authority}”不是有效代码；有效代码为 {codes}。",
        rule="authority",
        position=1,
        character=authority,
    )


def _check_org_type(authority: str, org_type: str) -> None:
    types = ORG_TYPES[authority]
    if org_type in types:
        return
    name = AUTHORITIES[authority]
    valid = "; ".join(f"{code} {type_name.en}" for code, type_name in types.items())
    valid_zh = "、".join(f"{code} {type_name.zh}" for code, type_name in types.items())
    raise CreditCodeInvalid(
        f"Position 2 is the organisation type, and '{org_type}' is not a type that authority "
        f"'{authority}' ({name.en}) registers; its types are: {valid}.",
        zh=f"第2位是机构类别代码，登记管理部门“{authority}”（{name.zh}）没有类别“{org_type}”；"
        f"其类别为：{valid_zh}。",
        rule="org-type",
        position=2,
        character=org_type,
    )


def _check_division(division: str) -> None:
    for offset, char in enumerate(division):
        if char not in string.digits:
            position = 3 + offset
            raise CreditCodeInvalid(
                f"Positions 3-8 are the administrative division code (GB/T 2260), all digits; "
                f"position {position} is '{char}'.",
                zh=f"第3至8位是登记管理机关行政区划码（GB/T 2260），应全为数字；"
                f"第{position}位是“{char}”。",
                rule="division",
                position=position,
                character=char,
            )
    prefix = division[:2]
    if prefix in PROVINCE_PREFIXES or division == NATIONAL_DIVISION:
        return
    if prefix == NATIONAL_DIVISION[:2]:
        detail = (
            f"a division starting with 10 can only be {NATIONAL_DIVISION}, national registration"
        )
        detail_zh = f"以10开头的只能是{NATIONAL_DIVISION}（国家级登记管理机关）"
    else:
        detail = f"'{prefix}' is not a province-level code"
        detail_zh = f"“{prefix}”不是省级行政区划代码"
    raise CreditCodeInvalid(
        f"Positions 3-8 are the administrative division code (GB/T 2260) '{division}': {detail}.",
        zh=f"第3至8位是登记管理机关行政区划码（GB/T 2260）“{division}”：{detail_zh}。",
        rule="division",
        position=3,
        character=prefix,
    )


def _describe(char: str) -> str:
    if char.isspace():
        return f"a space (U+{ord(char):04X})"
    if char.isprintable():
        return f"'{char}'"
    return f"the invisible character U+{ord(char):04X}"


def _describe_zh(char: str) -> str:
    if char.isspace():
        return f"空格（U+{ord(char):04X}）"
    if char.isprintable():
        return f"“{char}”"
    return f"不可见字符（U+{ord(char):04X}）"

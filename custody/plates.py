"""Chinese motor vehicle plates (机动车号牌, GA 36-2018), read from their text.

A plate is a province abbreviation, the issuing authority's letter (发牌机关代号) and a serial::

    川 A · 12345      ordinary plate (blue or yellow): 5-character serial
    川 A · 1234挂     trailer; likewise 学 (coach), 警 (police), 领 (consulate),
                      港 and 澳 (cross-boundary vehicles, issued as 粤Z only)
    川 A · D12345     small new-energy plate: 6-character serial, letter first
    川 A · 12345D     large new-energy plate: 6-character serial, letter last

The rules applied, with their source (GA 36-2018 as quoted by public references; the standard's
own text was not at hand, so every rule below is one that several references agree on):

- the first character is one of the 31 mainland abbreviations in :data:`PROVINCES`;
- the authority letter is a capital letter other than I and O;
- serial characters are digits and capital letters other than I and O, since those read as 1
  and 0;
- an ordinary 5-character serial holds at most two letters (the serial is all digits, has one
  letter in any place, or has two letters);
- a 4-character serial precedes 挂, 学, 警, 领, 港 or 澳; no letter count is enforced there;
- a small new-energy serial is a letter from :data:`NEW_ENERGY_SMALL_LETTERS` (D, A, B, C, E for
  battery-electric vehicles, F, G, H, J, K for the others: D and F first, the rest opened as
  number ranges ran out), then a digit or letter, then four digits;
- a large new-energy serial is five digits and then D or F (:data:`NEW_ENERGY_LARGE_LETTERS`);
- 港 and 澳 plates are 粤Z plates.

Not covered: embassy (使), armed police (WJ), military and emergency (应急) plates, and plate
colour, which the text does not carry.

Input may separate the authority letter from the serial with ``·``, ``.``, ``-``, ``•``, ``・``
or a space, may use full-width letters and digits (each character is NFKC-normalised on its
own) and lower-case letters. Error positions are 1-based and count the characters of the input
after surrounding whitespace is removed, separator included.
"""

from __future__ import annotations

import enum
import functools
import string
import unicodedata
from dataclasses import dataclass, field
from typing import Final

from custody.errors import PlateInvalid

__all__ = [
    "NEW_ENERGY_LARGE_LETTERS",
    "NEW_ENERGY_SMALL_LETTERS",
    "PROVINCES",
    "SEPARATORS",
    "Plate",
    "PlateKind",
    "parse_plate",
]

PROVINCES: Final = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
"""The 31 mainland province-level abbreviations a plate starts with."""

SEPARATORS: Final = frozenset("·.-•・ ")
"""Characters accepted between the authority letter and the serial (after NFKC)."""

NEW_ENERGY_SMALL_LETTERS: Final = "DABCEFGHJK"
"""First serial letter of a small new-energy plate: D A B C E battery-electric, F G H J K other."""

NEW_ENERGY_LARGE_LETTERS: Final = "DF"
"""Last serial letter of a large new-energy plate: D battery-electric, F other."""

_FORBIDDEN_LETTERS: Final = "IO"
_LETTERS: Final = "".join(c for c in string.ascii_uppercase if c not in _FORBIDDEN_LETTERS)
_SERIAL_CHARS: Final = frozenset(string.digits + _LETTERS)
_ASCII_UPPER: Final = str.maketrans(string.ascii_lowercase, string.ascii_uppercase)
_LENGTHS: Final = (7, 8)
_STANDARD_MAX_LETTERS: Final = 2


class PlateKind(enum.StrEnum):
    """What the text of a plate says about the plate."""

    STANDARD = "standard"
    """Ordinary plate of a small (blue) or large (yellow) vehicle: 5-character serial."""
    NEW_ENERGY_SMALL = "new-energy-small"
    """Small new-energy vehicle (green): 6-character serial starting with a letter."""
    NEW_ENERGY_LARGE = "new-energy-large"
    """Large new-energy vehicle (yellow and green): 6-character serial ending with D or F."""
    TRAILER = "trailer"
    """Trailer: 4-character serial and 挂."""
    COACH = "coach"
    """Driving-school vehicle: 4-character serial and 学."""
    POLICE = "police"
    """Police vehicle: 4-character serial and 警."""
    CONSULATE = "consulate"
    """Consulate vehicle: 4-character serial and 领."""
    HONG_KONG = "hong-kong"
    """Cross-boundary vehicle from Hong Kong: 粤Z, 4-character serial and 港."""
    MACAO = "macao"
    """Cross-boundary vehicle from Macao: 粤Z, 4-character serial and 澳."""

    @property
    def suffix(self) -> str:
        """The character that closes plates of this kind, or ``""``."""
        return _SUFFIXES.get(self, "")


_SUFFIX_KINDS: Final = {
    "挂": PlateKind.TRAILER,
    "学": PlateKind.COACH,
    "警": PlateKind.POLICE,
    "领": PlateKind.CONSULATE,
    "港": PlateKind.HONG_KONG,
    "澳": PlateKind.MACAO,
}
_SUFFIXES: Final = {kind: suffix for suffix, kind in _SUFFIX_KINDS.items()}
_CROSS_BOUNDARY: Final = (PlateKind.HONG_KONG, PlateKind.MACAO)


@dataclass(frozen=True)
class Plate:
    """A vehicle plate whose text passed every rule.

    Build it with :func:`parse_plate`, which tidies its input first. The constructor takes the
    canonical text only (no separator, upper case, half-width) and raises
    :class:`~custody.errors.PlateInvalid` for anything else; the parts are derived from it.
    """

    text: str
    """The plate without separator, e.g. ``川A12345``."""
    province: str = field(init=False, repr=False)
    """The province abbreviation, e.g. ``川``."""
    authority: str = field(init=False, repr=False)
    """The issuing authority's letter, e.g. ``A``."""
    serial: str = field(init=False, repr=False)
    """The serial without the closing character of its kind, e.g. ``12345`` or ``1234``."""
    kind: PlateKind = field(init=False, repr=False)
    """What kind of plate the text shows."""

    def __post_init__(self) -> None:
        for position, char in enumerate(self.text, start=1):
            if char in SEPARATORS:
                raise _misplaced_separator(position, char)
        province, authority, serial, kind = _analyse(list(enumerate(self.text, start=1)))
        object.__setattr__(self, "province", province)
        object.__setattr__(self, "authority", authority)
        object.__setattr__(self, "serial", serial)
        object.__setattr__(self, "kind", kind)

    def __str__(self) -> str:
        return self.text

    @property
    def display(self) -> str:
        """The plate as printed, with a middle dot after the authority letter: ``川A·12345``."""
        return f"{self.province}{self.authority}·{self.serial}{self.kind.suffix}"


@functools.lru_cache(maxsize=8192)  # immutable results; the same codes arrive all day
def parse_plate(text: str) -> Plate:
    """Parse a plate as people type it.

    Surrounding whitespace is removed; each character is NFKC-normalised (full-width to
    half-width) and ASCII letters are upper-cased; one separator (see :data:`SEPARATORS`) is
    allowed right after the authority letter.

    Raises:
        PlateInvalid: the text breaks a rule; ``context`` holds ``rule`` (one of ``empty``,
            ``separator``, ``province``, ``authority``, ``length``, ``forbidden-letter``,
            ``charset``, ``serial-letters``, ``new-energy``, ``cross-boundary``), and, where
            one character is at fault, its 1-based ``position`` and the ``character``.
    """
    chars: list[tuple[int, str]] = []
    separated = False
    for position, raw in enumerate(text.strip(), start=1):
        char = _narrow(raw)
        if char in SEPARATORS:
            if len(chars) != 2 or separated:
                raise _misplaced_separator(position, char)
            separated = True
            continue
        chars.append((position, char))
    _analyse(chars)
    return Plate("".join(char for _, char in chars))


def _narrow(raw: str) -> str:
    normal = unicodedata.normalize("NFKC", raw)
    if len(normal) != 1:
        return raw
    return normal.translate(_ASCII_UPPER)


def _analyse(chars: list[tuple[int, str]]) -> tuple[str, str, str, PlateKind]:
    if not chars:
        raise PlateInvalid("The plate is empty.", zh="车牌号为空。", rule="empty")
    position, province = chars[0]
    if province not in PROVINCES:
        raise _bad_province(position, province)
    if len(chars) == 1:
        raise _bad_length(1)
    position, authority = chars[1]
    _check_authority(position, authority)
    if len(chars) not in _LENGTHS:
        raise _bad_length(len(chars))
    if len(chars) == 8:
        serial = chars[2:]
        for position, char in serial:
            _check_serial_char(position, char)
        kind = _new_energy_kind(serial)
    else:
        serial, kind = _short_serial(chars)
    return province, authority, "".join(char for _, char in serial), kind


def _check_authority(position: int, authority: str) -> None:
    if authority in _FORBIDDEN_LETTERS:
        raise _forbidden_letter(position, authority)
    if authority not in _LETTERS:
        raise PlateInvalid(
            f"Position {position} holds the issuing authority's letter, a capital letter other "
            f"than I and O; it is {_describe(authority)}.",
            zh=f"第{position}位是发牌机关代号，应为除 I、O 以外的大写字母，"
            f"实为{_describe_zh(authority)}。",
            rule="authority",
            position=position,
            character=authority,
        )


def _short_serial(chars: list[tuple[int, str]]) -> tuple[list[tuple[int, str]], PlateKind]:
    """Read the serial of a 7-character plate: five characters, or four and a closing one."""
    kind = _SUFFIX_KINDS.get(chars[-1][1], PlateKind.STANDARD)
    serial = chars[2:] if kind is PlateKind.STANDARD else chars[2:-1]
    for position, char in serial:
        _check_serial_char(position, char)
    if kind is PlateKind.STANDARD:
        _check_letter_count(serial)
    if kind in _CROSS_BOUNDARY:
        _check_cross_boundary(chars, kind)
    return serial, kind


def _check_serial_char(position: int, char: str) -> None:
    if char in _SERIAL_CHARS:
        return
    if char in _FORBIDDEN_LETTERS:
        raise _forbidden_letter(position, char)
    if char in _SUFFIX_KINDS:
        message = f"'{char}' at position {position} can only close a 7-character plate."
        zh = f"第{position}位的“{char}”只能作为7位号牌的最后一个字符。"
    elif char in PROVINCES:
        message = (
            f"'{char}' at position {position} is a province abbreviation, "
            f"which only starts a plate."
        )
        zh = f"第{position}位的“{char}”是省份简称，只能作为号牌的第一个字符。"
    else:
        message = (
            f"Position {position} is {_describe(char)}, which a plate serial cannot hold: "
            f"serials use digits and capital letters other than I and O."
        )
        zh = f"第{position}位是{_describe_zh(char)}，号牌序号只由数字和除 I、O 以外的大写字母组成。"
    raise PlateInvalid(message, zh=zh, rule="charset", position=position, character=char)


def _check_letter_count(serial: list[tuple[int, str]]) -> None:
    letters = [(position, char) for position, char in serial if char in _LETTERS]
    if len(letters) <= _STANDARD_MAX_LETTERS:
        return
    position, char = letters[_STANDARD_MAX_LETTERS]
    raise PlateInvalid(
        f"The 5-character serial of an ordinary plate holds at most two letters (GA 36-2018); "
        f"'{char}' at position {position} is a third.",
        zh=f"普通号牌的5位序号中最多有2个字母（GA 36-2018），第{position}位的“{char}”是第3个字母。",
        rule="serial-letters",
        position=position,
        character=char,
    )


def _new_energy_kind(serial: list[tuple[int, str]]) -> PlateKind:
    (first_position, first), (last_position, last) = serial[0], serial[-1]
    if first in _LETTERS:
        if first not in NEW_ENERGY_SMALL_LETTERS:
            raise _bad_new_energy(
                first_position,
                first,
                f"A small new-energy plate's serial starts with D, A, B, C or E (battery-electric) "
                f"or F, G, H, J or K (other new energy); position {first_position} is '{first}'.",
                f"小型新能源汽车号牌序号第一位应为 D、A、B、C、E（纯电动）或 F、G、H、J、K"
                f"（非纯电动），第{first_position}位是“{first}”。",
            )
        for position, char in serial[2:]:
            if char not in string.digits:
                raise _bad_new_energy(
                    position,
                    char,
                    f"The last four characters of a small new-energy plate are digits; "
                    f"position {position} is '{char}'.",
                    f"小型新能源汽车号牌序号后四位应为数字，第{position}位是“{char}”。",
                )
        return PlateKind.NEW_ENERGY_SMALL
    if last in _LETTERS:
        for position, char in serial[:-1]:
            if char not in string.digits:
                raise _bad_new_energy(
                    position,
                    char,
                    f"A large new-energy plate's serial is five digits and a letter; "
                    f"position {position} is '{char}'.",
                    f"大型新能源汽车号牌序号前五位应为数字，第{position}位是“{char}”。",
                )
        if last not in NEW_ENERGY_LARGE_LETTERS:
            raise _bad_new_energy(
                last_position,
                last,
                f"A large new-energy plate's serial ends with D (battery-electric) or F (other "
                f"new energy); position {last_position} is '{last}'.",
                f"大型新能源汽车号牌序号最后一位应为 D（纯电动）或 F（非纯电动），"
                f"第{last_position}位是“{last}”。",
            )
        return PlateKind.NEW_ENERGY_LARGE
    text = "".join(char for _, char in serial)
    raise _bad_new_energy(
        first_position,
        first,
        f"An 8-character plate is a new-energy plate, whose 6-character serial starts with a "
        f"letter (small vehicles) or ends with one (large vehicles); '{text}' does neither.",
        f"8位号牌是新能源汽车号牌，其6位序号以字母开头（小型车）或以字母结尾（大型车），"
        f"“{text}”两者都不是。",
    )


def _check_cross_boundary(chars: list[tuple[int, str]], kind: PlateKind) -> None:
    for (position, char), expected in zip(chars[:2], "粤Z", strict=True):
        if char != expected:
            raise PlateInvalid(
                f"Plates ending in {kind.suffix} are issued as 粤Z plates only; position "
                f"{position} is '{char}', not '{expected}'.",
                zh=f"以“{kind.suffix}”结尾的号牌只有粤Z号牌，第{position}位应为“{expected}”，实为“{char}”。",
                rule="cross-boundary",
                position=position,
                character=char,
            )


def _bad_new_energy(position: int, char: str, message: str, zh: str) -> PlateInvalid:
    return PlateInvalid(message, zh=zh, rule="new-energy", position=position, character=char)


def _bad_province(position: int, char: str) -> PlateInvalid:
    message = (
        f"Position {position} is {_describe(char)}, which is not a province abbreviation: "
        f"a plate starts with one of {', '.join(PROVINCES)}."
    )
    zh = (
        f"第{position}位是{_describe_zh(char)}，不是省份简称；"
        f"号牌以下列简称之一开头：{'、'.join(PROVINCES)}。"
    )
    if char in string.ascii_uppercase + string.digits:
        message += " The province abbreviation seems to be missing."
        zh += "号牌似乎缺少省份简称。"
    elif char == "使":
        message += " Embassy plates (使) are not supported."
        zh += "暂不支持使馆号牌（使）。"
    return PlateInvalid(message, zh=zh, rule="province", position=position, character=char)


def _bad_length(length: int) -> PlateInvalid:
    return PlateInvalid(
        f"A plate has 7 characters (an ordinary plate, or one ending in 挂, 学, 警, 领, 港 or 澳) "
        f"or 8 (a new-energy plate), not counting a separator; this one has {length}.",
        zh=f"号牌应为7位（普通号牌，或以挂、学、警、领、港、澳结尾的号牌）或8位（新能源汽车号牌），"
        f"不计分隔符；此号牌为{length}位。",
        rule="length",
        length=length,
        expected=_LENGTHS,
    )


def _forbidden_letter(position: int, char: str) -> PlateInvalid:
    return PlateInvalid(
        f"The letter '{char}' at position {position} is not used on plates: GA 36-2018 leaves "
        f"out I and O, which read as 1 and 0.",
        zh=f"第{position}位的字母“{char}”不能使用："
        f"GA 36-2018 规定号牌不使用字母 I 和 O（易与 1、0 混淆）。",
        rule="forbidden-letter",
        position=position,
        character=char,
    )


def _misplaced_separator(position: int, char: str) -> PlateInvalid:
    shown = "a space" if char == " " else f"'{char}'"
    shown_zh = "空格" if char == " " else f"“{char}”"
    return PlateInvalid(
        f"A separator may only follow the authority letter, as in 川A·12345; position "
        f"{position} is {shown}.",
        zh=f"分隔符只能位于发牌机关代号之后（如 川A·12345），第{position}位是{shown_zh}。",
        rule="separator",
        position=position,
        character=char,
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

"""The digital identification code (数字识别码) of one container, after HJ 1276-2022.

37 characters in four parts, no separators::

    91510100MA61R8XQ02 90004149 20230701 001
    └ unit code, 18 ┘  └ waste ┘ └ date ┘ └seq┘

the generating (or collecting) unit's unified social credit code, the waste code as 8 digits,
the date of generation or collection (YYYYMMDD) and a 3-digit sequence number. The order of
the parts and the total of 37 come from the standard's published explanation; the 18 + 8 + 8
+ 3 split and the date format are the only reading consistent with that total (see
docs/standards.md, section 1.3). Each part is checked with its own rules, so an error names
the part that is wrong.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date

from custody.credit_code import parse_credit_code
from custody.errors import CreditCodeInvalid, DigitalIdInvalid, WasteCodeInvalid
from custody.wastes import parse_waste_code

__all__ = ["DIGITAL_ID_LENGTH", "DigitalId", "parse_digital_id"]

DIGITAL_ID_LENGTH = 37
_PARTS = ((0, 18, "unit code", "单位编码"), (18, 26, "waste code", "废物代码"),
          (26, 34, "date", "日期码"), (34, 37, "sequence", "顺序码"))  # fmt: skip
_DIGITS = re.compile(r"\d+")


@dataclass(frozen=True, slots=True)
class DigitalId:
    """A container's digital identification code, valid by construction.

    Build one from its parts with :meth:`compose`, or read one with :func:`parse_digital_id`.
    """

    unit_code: str
    waste_code: str  # hyphenated, e.g. 900-041-49
    day: date
    sequence: int
    _text: str = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "unit_code", parse_credit_code(self.unit_code).text)
        object.__setattr__(self, "waste_code", parse_waste_code(self.waste_code))
        if not 1 <= self.sequence <= 999:
            raise DigitalIdInvalid(
                f"sequence number {self.sequence} is outside 001-999",
                zh=f"顺序码 {self.sequence} 超出 001-999 的范围",
                part="sequence",
            )
        # Made once: every event names its containers by this text, a million times a check.
        waste = self.waste_code.replace("-", "")
        text = f"{self.unit_code}{waste}{self.day:%Y%m%d}{self.sequence:03d}"
        object.__setattr__(self, "_text", text)

    @classmethod
    def compose(cls, unit_code: str, waste_code: str, day: date, sequence: int) -> DigitalId:
        """Build the code of the ``sequence``-th container of a waste on a day."""
        return cls(unit_code, waste_code, day, sequence)

    @property
    def text(self) -> str:
        """The 37 characters, as printed and encoded."""
        return self._text

    @property
    def display(self) -> str:
        """The code grouped by part for people to read (not for machines)."""
        t = self.text
        return " ".join(t[start:end] for start, end, _, _ in _PARTS)

    def __str__(self) -> str:
        return self.text


@functools.lru_cache(maxsize=8192)  # immutable results; the same codes arrive all day
def parse_digital_id(text: str) -> DigitalId:
    """Read a digital identification code; spaces between parts and lower case are forgiven."""
    raw = unicodedata.normalize("NFKC", text).strip().upper().replace(" ", "")
    if len(raw) != DIGITAL_ID_LENGTH:
        raise DigitalIdInvalid(
            f"a digital identification code has {DIGITAL_ID_LENGTH} characters, not {len(raw)}",
            zh=f"数字识别码应为 {DIGITAL_ID_LENGTH} 位，实际为 {len(raw)} 位",
            rule="length",
            length=len(raw),
        )
    unit, waste, day, sequence = (raw[start:end] for start, end, _, _ in _PARTS)
    try:
        parse_credit_code(unit)
    except CreditCodeInvalid as exc:
        raise _part_error(0, exc.message, exc.zh) from exc
    if not _DIGITS.fullmatch(waste):
        raise _part_error(1, f"{waste!r} is not 8 digits", f"“{waste}”不是 8 位数字")
    try:
        parse_waste_code(waste)
    except WasteCodeInvalid as exc:
        raise _part_error(1, exc.message, exc.zh) from exc
    if not _DIGITS.fullmatch(day):
        raise _part_error(2, f"{day!r} is not a date YYYYMMDD", f"“{day}”不是 YYYYMMDD 格式的日期")
    try:
        parsed_day = date(int(day[:4]), int(day[4:6]), int(day[6:]))
    except ValueError:
        raise _part_error(2, f"{day} is no calendar date", f"{day} 不是有效日期") from None
    if not _DIGITS.fullmatch(sequence) or sequence == "000":
        raise _part_error(3, f"{sequence!r} is not 001-999", f"“{sequence}”不在 001-999 之间")
    return DigitalId(unit, waste, parsed_day, int(sequence))


def _part_error(index: int, message: str, zh: str) -> DigitalIdInvalid:
    start, end, name, name_zh = _PARTS[index]
    return DigitalIdInvalid(
        f"{name} (characters {start + 1}-{end}): {message}",
        zh=f"{name_zh}（第 {start + 1}-{end} 位）：{zh}",
        rule=name.replace(" ", "-"),
        position=start + 1,
    )

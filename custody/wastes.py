"""The National Hazardous Waste List (国家危险废物名录), every edition we ship.

A container keeps the edition its code was assigned under, so a drum labelled in 2024 under the
2021 list still resolves after the 2025 list took over. The lists live in ``custody/data`` as CSV
files whose provenance is recorded in ``custody/data/SOURCES.md``.
"""

from __future__ import annotations

import csv
import enum
import functools
import io
import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from importlib import resources
from typing import TYPE_CHECKING

from custody.errors import WasteCodeInvalid, WasteCodeUnknown

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = [
    "CATEGORY_NUMBERS",
    "CURRENT_EDITION",
    "EDITIONS",
    "EDITION_FACTS",
    "EditionFacts",
    "Hazard",
    "WasteEntry",
    "WasteList",
    "category_name",
    "parse_category",
    "parse_waste_code",
    "resolve_waste_code",
]

#: Editions we ship, newest first. The first one is what new containers are coded under.
#: The 2025 edition (in force 2025-01-01, 470 entries) is not shipped yet: see SOURCES.md.
EDITIONS: tuple[str, ...] = ("2021",)
CURRENT_EDITION = EDITIONS[0]


@dataclass(frozen=True, slots=True)
class EditionFacts:
    """What the official text of an edition says about itself."""

    title: str
    order: str
    in_force: date
    official_entries: int


EDITION_FACTS: dict[str, EditionFacts] = {
    "2021": EditionFacts(
        title="国家危险废物名录（2021年版）",
        order="生态环境部、国家发展和改革委员会、公安部、交通运输部、国家卫生健康委员会令第15号",
        in_force=date(2021, 1, 1),
        official_entries=467,
    ),
}

#: HW01..HW50 without HW41-HW44, which the list never defined.
CATEGORY_NUMBERS: frozenset[int] = frozenset(n for n in range(1, 51) if not 41 <= n <= 44)

_CODE_SHAPE = re.compile(r"(\d{3})-?(\d{3})-?(\d{2})")
_CATEGORY_SHAPE = re.compile(r"HW(\d{2})")


class Hazard(enum.Enum):
    """Hazard characteristics (危险特性) as the list abbreviates them."""

    TOXICITY = "T"
    CORROSIVITY = "C"
    IGNITABILITY = "I"
    REACTIVITY = "R"
    INFECTIVITY = "In"

    @property
    def zh(self) -> str:
        """The Chinese name printed on labels."""
        return _HAZARD_ZH[self]


_HAZARD_ZH = {
    Hazard.TOXICITY: "毒性",
    Hazard.CORROSIVITY: "腐蚀性",
    Hazard.IGNITABILITY: "易燃性",
    Hazard.REACTIVITY: "反应性",
    Hazard.INFECTIVITY: "感染性",
}


@dataclass(frozen=True, slots=True)
class WasteEntry:
    """One row of the list: a waste code and what the list says about it."""

    code: str
    category: str
    industry: str
    description: str
    hazards: tuple[Hazard, ...]
    edition: str

    @property
    def category_name(self) -> str:
        """The category's Chinese name, e.g. ``其他废物`` for HW49."""
        return category_name(self.category)

    @property
    def digits(self) -> str:
        """The code as 8 digits without hyphens, as the digital identification code embeds it."""
        return self.code.replace("-", "")


def parse_waste_code(text: str) -> str:
    """Normalise a waste code to ``NNN-NNN-NN`` or say exactly what is wrong with it.

    Accepts the hyphenated form and the bare 8 digits (full-width digits are normalised).
    The last two digits must name a category that exists (01-50, without 41-44).
    """
    raw = unicodedata.normalize("NFKC", text).strip()
    match = _CODE_SHAPE.fullmatch(raw)
    if match is None:
        raise WasteCodeInvalid(
            f"waste code {text!r} is not of the form NNN-NNN-NN (8 digits, e.g. 900-041-49)",
            zh=f"危险废物代码“{text}”格式错误，应为 NNN-NNN-NN（8 位数字，如 900-041-49）",
            rule="format",
            value=text,
        )
    industry, serial, category = match.groups()
    if int(category) not in CATEGORY_NUMBERS:
        raise WasteCodeInvalid(
            f"waste code {text!r} ends in {category}, which is no waste category "
            "(categories are 01-50 without 41-44)",
            zh=f"危险废物代码“{text}”末两位 {category} 不是有效的废物类别（01-50，无 41-44）",
            rule="category",
            value=text,
        )
    return f"{industry}-{serial}-{category}"


def parse_category(text: str) -> str:
    """Normalise a category such as ``hw08`` or ``8`` to ``HW08``."""
    raw = unicodedata.normalize("NFKC", text).strip().upper()
    if raw.isdigit() and len(raw) <= 2:
        raw = f"HW{int(raw):02d}"
    match = _CATEGORY_SHAPE.fullmatch(raw)
    if match is None or int(match.group(1)) not in CATEGORY_NUMBERS:
        raise WasteCodeInvalid(
            f"{text!r} is not a waste category (HW01-HW50 without HW41-HW44)",
            zh=f"“{text}”不是有效的废物类别（HW01-HW50，无 HW41-HW44）",
            rule="category",
            value=text,
        )
    return raw


def category_name(category: str) -> str:
    """Return the Chinese name of a category, e.g. ``HW08`` -> ``废矿物油与含矿物油废物``."""
    return _category_names()[parse_category(category)]


@functools.cache
def _category_names() -> dict[str, str]:
    rows = csv.DictReader(io.StringIO(_read_data("waste_categories.csv")))
    return {row["category"]: row["name_zh"] for row in rows}


def _read_data(name: str) -> str:
    return resources.files("custody").joinpath("data", name).read_text(encoding="utf-8")


class WasteList:
    """One edition of the list, loaded from the shipped data file.

    Use :meth:`edition` to get the shared, cached instance.
    """

    def __init__(self, edition: str, entries: list[WasteEntry]) -> None:
        self.name = edition
        self._entries = {entry.code: entry for entry in entries}

    @classmethod
    @functools.cache
    def edition(cls, edition: str = CURRENT_EDITION) -> WasteList:
        """Load (once) and return the list of the given edition."""
        if edition not in EDITIONS:
            raise WasteCodeUnknown(
                f"no waste list edition {edition!r}; we ship {', '.join(EDITIONS)}",
                zh=f"没有 {edition} 年版名录；现有版本：{'、'.join(EDITIONS)}",
                edition=edition,
            )
        text = _read_data(f"waste_list_{edition}.csv")
        entries = [
            WasteEntry(
                code=row["code"],
                category=row["category"],
                industry=row["industry"],
                description=row["description"],
                hazards=tuple(Hazard(h) for h in row["hazards"].split("|")),
                edition=edition,
            )
            for row in csv.DictReader(io.StringIO(text))
        ]
        return cls(edition, entries)

    @property
    def facts(self) -> EditionFacts:
        """The edition's title, order, date and official number of entries."""
        return EDITION_FACTS[self.name]

    @property
    def complete(self) -> bool:
        """Whether every entry of the official list is in the shipped file."""
        return len(self) == self.facts.official_entries

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[WasteEntry]:
        return iter(self._entries.values())

    def __contains__(self, code: object) -> bool:
        return isinstance(code, str) and code in self._entries

    def lookup(self, code: str) -> WasteEntry:
        """Return the entry for ``code`` (any accepted spelling) or raise ``WasteCodeUnknown``."""
        normal = parse_waste_code(code)
        try:
            return self._entries[normal]
        except KeyError:
            raise WasteCodeUnknown(
                f"waste code {normal} is not in the {self.name} edition of the list",
                zh=f"《国家危险废物名录（{self.name}年版）》中没有代码 {normal}",
                code=normal,
                edition=self.name,
            ) from None

    def in_category(self, category: str) -> list[WasteEntry]:
        """Every entry of one category, in the list's order."""
        wanted = parse_category(category)
        return [entry for entry in self if entry.category == wanted]


def resolve_waste_code(code: str, edition: str | None = None) -> WasteEntry:
    """Find a code in the given edition, or in the newest edition that has it.

    Old containers keep the code they were labelled with; searching newest-first finds the
    current wording where the code still exists and the old one where it was dropped.
    """
    if edition is not None:
        return WasteList.edition(edition).lookup(code)
    normal = parse_waste_code(code)
    for name in EDITIONS:
        waste_list = WasteList.edition(name)
        if normal in waste_list:
            return waste_list.lookup(normal)
    raise WasteCodeUnknown(
        f"waste code {normal} is in no edition of the list we ship ({', '.join(EDITIONS)})",
        zh=f"现有各版《国家危险废物名录》中均无代码 {normal}",
        code=normal,
    )

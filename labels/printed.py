"""What a printed label shows: the signed QR text plus the facts HJ 1276-2022 asks to print.

Only the QR carries a signature. The printed words are for people; they come from the
container record and are never trusted by a verifier. With a public URL the QR holds a link
to the check page that carries the signed text (``labels.payload.link``).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING

from labels.payload import link

if TYPE_CHECKING:
    from datetime import date

__all__ = ["FORMS", "HAZARD_NAMES", "LabelFormat", "PrintedLabel", "label_size_mm"]


class LabelFormat(enum.StrEnum):
    """The formats a label can be had in."""

    PNG = "png"
    SVG = "svg"
    PDF = "pdf"
    ZPL = "zpl"  # thermal label printers
    TXT = "txt"  # the signed text alone (the QR may hold it inside a link)


#: Physical forms (形态) as codes and as printed.
FORMS: dict[str, str] = {"S": "固态", "SS": "半固态", "L": "液态", "G": "气态"}

#: Hazard characteristics (危险特性) as printed beside their pictograms.
HAZARD_NAMES: dict[str, str] = {
    "T": "毒性",
    "C": "腐蚀性",
    "I": "易燃性",
    "R": "反应性",
    "In": "感染性",
}


def label_size_mm(capacity_l: float) -> tuple[int, float]:
    """Minimum label side (mm) and minimum text height (mm) for a container's volume.

    HJ 1276-2022: up to 50 L 100x100 mm (text >= 3 mm), 50-450 L 150x150 mm (5 mm),
    450 L and more 200x200 mm (6 mm), on two opposite sides above 450 L.
    """
    if capacity_l <= 50:
        return 100, 3.0
    if capacity_l < 450:
        return 150, 5.0
    return 200, 6.0


@dataclass(frozen=True, slots=True)
class PrintedLabel:
    """Everything one label shows. ``qr_text`` is the signed payload (``WL1:`` + Base45).

    ``public_url`` is the base of the public check page the QR links to, e.g.
    ``https://hjj.sc.gov.cn``; empty, the QR holds the bare signed text as labels did before.
    """

    qr_text: str
    digital_id: str  # 37 characters; also printed as a Code 128 barcode
    waste_name: str  # 废物名称, as the generator names it (e.g. 废矿物油)
    category: str  # HW08
    category_name: str  # 废矿物油与含矿物油废物
    waste_code: str  # 900-249-08
    form: str  # a key of FORMS
    hazards: tuple[str, ...]  # keys of HAZARD_NAMES, in the list's order
    main_components: str
    harmful_components: str
    precautions: str
    generator_name: str
    generator_contact: str
    generated_on: date
    net_mass_kg: float
    capacity_l: float  # decides the label size
    remarks: str = ""
    public_url: str = ""

    @property
    def qr_content(self) -> str:
        """What the QR symbol holds: the check page's link, or the bare signed text."""
        return link(self.qr_text, self.public_url) if self.public_url else self.qr_text

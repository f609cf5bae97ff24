"""Reference data: the National Hazardous Waste List and identifier checks."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel

from api.schemas.registry import WasteEntryPublic
from custody.credit_code import parse_credit_code
from custody.digital_id import parse_digital_id
from custody.plates import parse_plate
from custody.wastes import WasteList, category_name, parse_category, resolve_waste_code

router = APIRouter(tags=["reference"])

Edition = Literal["2021"]  # keep in step with custody.wastes.EDITIONS
DEFAULT_EDITION: Edition = "2021"


class CreditCodePublic(BaseModel):
    """A valid unified social credit code and its parts."""

    text: str
    authority: str
    org_type: str
    division: str
    org_code: str
    check: str


class PlatePublic(BaseModel):
    """A valid vehicle plate, normalised."""

    text: str
    display: str
    province: str
    authority: str
    kind: str


class DigitalIdPublic(BaseModel):
    """A valid digital identification code and its four parts."""

    text: str
    unit_code: str
    waste_code: str
    day: date
    sequence: int


class WasteCategoryPublic(BaseModel):
    """A waste category (废物类别) and how many codes it holds in an edition."""

    category: str
    name: str
    codes: int


@router.get("/credit-codes/{code}", responses={422: {"description": "Invalid (problem details)"}})
def check_credit_code(code: str) -> CreditCodePublic:
    """Check a unified social credit code (GB 32100-2015) and split it into its parts."""
    c = parse_credit_code(code)
    return CreditCodePublic(
        text=c.text,
        authority=c.authority,
        org_type=c.org_type,
        division=c.division,
        org_code=c.org_code,
        check=c.check,
    )


@router.get("/plates/{plate}", responses={422: {"description": "Invalid (problem details)"}})
def check_plate(plate: str) -> PlatePublic:
    """Check a Chinese motor vehicle plate and normalise it."""
    p = parse_plate(plate)
    return PlatePublic(
        text=p.text, display=p.display, province=p.province, authority=p.authority, kind=p.kind
    )


@router.get("/digital-ids/{code}", responses={422: {"description": "Invalid (problem details)"}})
def check_digital_id(code: str) -> DigitalIdPublic:
    """Check a container's HJ 1276-2022 digital identification code and split it."""
    d = parse_digital_id(code)
    return DigitalIdPublic(
        text=d.text, unit_code=d.unit_code, waste_code=d.waste_code, day=d.day, sequence=d.sequence
    )


@router.get("/waste-codes")
def list_waste_codes(
    edition: Edition = DEFAULT_EDITION,
    category: Annotated[str | None, Query(examples=["HW08"])] = None,
) -> list[WasteEntryPublic]:
    """Every code of one edition of the list, or of one category."""
    waste_list = WasteList.edition(edition)
    entries = waste_list.in_category(category) if category else list(waste_list)
    return [WasteEntryPublic.of(entry) for entry in entries]


@router.get("/waste-codes/{code}")
def get_waste_code(code: str, edition: Edition | None = None) -> WasteEntryPublic:
    """One waste code; without ``edition``, the newest edition that lists it."""
    return WasteEntryPublic.of(resolve_waste_code(code, edition))


@router.get("/waste-categories")
def list_waste_categories(edition: Edition = DEFAULT_EDITION) -> list[WasteCategoryPublic]:
    """The categories HW01-HW50 with their names and code counts."""
    counts: dict[str, int] = {}
    for entry in WasteList.edition(edition):
        counts[entry.category] = counts.get(entry.category, 0) + 1
    return [
        WasteCategoryPublic(category=cat, name=category_name(cat), codes=n)
        for cat, n in sorted(counts.items())
    ]


@router.get("/waste-categories/{category}")
def get_waste_category(category: str, edition: Edition = DEFAULT_EDITION) -> WasteCategoryPublic:
    """One category with its name and code count."""
    normal = parse_category(category)
    codes = WasteList.edition(edition).in_category(normal)
    return WasteCategoryPublic(category=normal, name=category_name(normal), codes=len(codes))

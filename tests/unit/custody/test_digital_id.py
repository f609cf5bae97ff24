"""HJ 1276-2022 digital identification codes: compose, print, read back, and name the bad part."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from custody.digital_id import DIGITAL_ID_LENGTH, DigitalId, parse_digital_id
from custody.errors import DigitalIdInvalid

UNIT = "91510100MA61R8XQ02"
VALID = f"{UNIT}90004149202307010 01".replace(" ", "")


def test_composed_code_is_37_characters_in_four_parts() -> None:
    ident = DigitalId.compose(UNIT, "900-041-49", date(2023, 7, 1), 1)
    assert ident.text == f"{UNIT}9000414920230701001"
    assert len(ident.text) == DIGITAL_ID_LENGTH
    assert ident.display == f"{UNIT} 90004149 20230701 001"


def test_parse_reads_every_part() -> None:
    ident = parse_digital_id(VALID)
    assert ident.unit_code == UNIT
    assert ident.waste_code == "900-041-49"
    assert ident.day == date(2023, 7, 1)
    assert ident.sequence == 1


def test_grouped_and_lower_case_spellings_are_forgiven() -> None:
    assert parse_digital_id(f"{UNIT.lower()} 90004149 20230701 001").text == VALID


@settings(max_examples=60, database=None, derandomize=True)
@given(
    day=st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31)),
    sequence=st.integers(min_value=1, max_value=999),
    code=st.sampled_from(["900-041-49", "841-001-01", "900-249-08", "772-007-50"]),
)
def test_round_trip(day: date, sequence: int, code: str) -> None:
    ident = DigitalId.compose(UNIT, code, day, sequence)
    assert parse_digital_id(ident.text) == ident


@pytest.mark.parametrize(
    ("text", "rule", "position"),
    [
        (VALID[:-1], "length", None),
        (VALID + "1", "length", None),
        (UNIT[:-1] + "1" + VALID[18:], "unit-code", 1),  # credit code check character off
        (VALID[:18] + "9000414A" + VALID[26:], "waste-code", 19),
        (VALID[:18] + "90004143" + VALID[26:], "waste-code", 19),  # HW43 does not exist
        (VALID[:26] + "20230230" + VALID[34:], "date", 27),  # 30 February
        (VALID[:26] + "2023O701" + VALID[34:], "date", 27),
        (VALID[:34] + "000", "sequence", 35),
        (VALID[:34] + "0A1", "sequence", 35),
    ],
)
def test_bad_part_is_named_with_its_position(text: str, rule: str, position: int | None) -> None:
    with pytest.raises(DigitalIdInvalid) as caught:
        parse_digital_id(text)
    assert caught.value.context["rule"] == rule
    if position is not None:
        assert caught.value.context["position"] == position
        assert f"第 {position}-" in caught.value.zh


def test_sequence_outside_range_cannot_be_composed() -> None:
    with pytest.raises(DigitalIdInvalid):
        DigitalId.compose(UNIT, "900-041-49", date(2023, 7, 1), 1000)

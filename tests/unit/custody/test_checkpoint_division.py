"""A checkpoint's division says whose officers read its plate reads."""

from __future__ import annotations

import pytest

from custody.access import Principal, Role
from custody.errors import RecordInvalid
from custody.parties import Checkpoint, CheckpointKind, WGS84Point

GATE = {"checkpoint_id": "CD-1", "name": "卡口", "kind": CheckpointKind.ANPR_GATE,
        "location": WGS84Point(30.6, 104.0)}  # fmt: skip


@pytest.mark.parametrize("division", ["51011", "5101120", "51011x", "５１０１１２"])
def test_a_division_is_six_ascii_digits(division: str) -> None:
    with pytest.raises(RecordInvalid) as caught:
        Checkpoint(**GATE, division=division)
    assert caught.value.context["field"] == "division"


def test_a_division_is_kept_trimmed_and_may_be_left_out() -> None:
    assert Checkpoint(**GATE, division=" 510112 ").division == "510112"
    assert Checkpoint(**GATE).division == ""


@pytest.mark.parametrize(
    ("who", "division", "covered"),
    [
        (Principal("p", Role.POLICE, districts=("5101",)), "510112", True),
        (Principal("p", Role.POLICE, districts=("5101",)), "510703", False),
        (Principal("p", Role.TRANSPORT, districts=("510703", "5101")), "510703", True),
        (Principal("p", Role.POLICE, districts=("5101",)), "", True),
        (Principal("a", Role.ADMINISTRATOR), "510703", True),
        (Principal("g", Role.GENERATOR, party="91510100MA61R8XQ02"), "510100", False),
        (Principal("g", Role.GENERATOR, party="91510100MA61R8XQ02"), "", False),
    ],
)
def test_whose_jurisdiction_a_division_is_in(
    who: Principal,
    division: str,
    covered: bool,  # noqa: FBT001  # parametrised flag
) -> None:
    assert who.covers_division(division) is covered

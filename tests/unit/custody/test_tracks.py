"""GPS fixes and terminals are valid by construction; plates a terminal names are normalised."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone

import pytest

from custody.errors import CoordinateInvalid, PlateInvalid, RecordInvalid
from custody.tracks import GpsFix, Terminal, terminal_plate

T0 = datetime(2026, 3, 5, 1, 0, tzinfo=UTC)
BEIJING = timezone(timedelta(hours=8))


def fix(**changes: object) -> GpsFix:
    values: dict[str, object] = {
        "terminal": "13912344329",
        "plate": "川A12345",
        "fix_time": T0,
        "lat": 30.657432,
        "lon": 104.065735,
        "received_at": T0,
    }
    values.update(changes)
    return GpsFix(**values)  # type: ignore[arg-type]


def terminal(**changes: object) -> Terminal:
    values: dict[str, object] = {
        "phone": "13912344329",
        "plate": "川A12345",
        "plate_colour": 2,
        "manufacturer": "HBZL1",
        "model": "ZL-808",
        "terminal_id": "A1B2C3D",
        "auth_code": "7f3c9a01d2e4b856",
        "registered_at": T0,
    }
    values.update(changes)
    return Terminal(**values)  # type: ignore[arg-type]


def test_fix_says_it_is_wgs84_unless_told_otherwise():
    assert fix().crs == "WGS84"
    assert fix(crs="GCJ02").crs == "GCJ02"


def test_fix_times_are_kept_in_utc():
    beijing = fix(fix_time=datetime(2026, 3, 5, 9, 0, tzinfo=BEIJING))
    assert beijing.fix_time == T0
    assert beijing.fix_time.tzinfo is UTC


@pytest.mark.parametrize("field", ["fix_time", "received_at"])
def test_fix_time_without_zone_is_refused(field):
    with pytest.raises(RecordInvalid) as caught:
        fix(**{field: datetime(2026, 3, 5, 9, 0)})  # noqa: DTZ001  # the naive time is the point
    assert caught.value.context["field"] == field


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("lat", 90.000001),
        ("lat", -91.0),
        ("lat", math.nan),
        ("lon", 180.5),
        ("lon", -math.inf),
        ("altitude_m", 9001),
        ("altitude_m", -501),
        ("speed_kmh", -0.1),
        ("speed_kmh", math.nan),
        ("speed_kmh", 6553.6),
        ("heading", 360),
        ("heading", -1),
        ("crs", "BJ54"),
    ],
)
def test_impossible_fix_values_are_refused(field, value):
    with pytest.raises(CoordinateInvalid) as caught:
        fix(**{field: value})
    assert caught.value.context["field"] == field


@pytest.mark.parametrize(
    ("field", "value"),
    [("lat", 90.0), ("lat", -90.0), ("lon", 180.0), ("lon", -180.0), ("altitude_m", -154),
     ("heading", 359), ("speed_kmh", 0.0)],
)  # fmt: skip
def test_edge_values_are_accepted(field, value):
    assert getattr(fix(**{field: value}), field) == value


@pytest.mark.parametrize(("field", "value"), [("alarm", 1 << 32), ("status", -1)])
def test_alarm_and_status_must_fit_a_dword(field, value):
    with pytest.raises(RecordInvalid):
        fix(**{field: value})


@pytest.mark.parametrize("phone", ["", "1391234432x", "1" * 21, "１３９"])
def test_fix_of_a_terminal_phone_that_is_not_digits_is_refused(phone):
    with pytest.raises(RecordInvalid):
        fix(terminal=phone)


def test_fix_plate_must_be_canonical_text():
    with pytest.raises(PlateInvalid):
        fix(plate="川A·12345")
    assert fix(plate=None).plate is None


def test_positioned_is_status_bit_1():
    assert fix(status=0b10).positioned
    assert not fix(status=0b01).positioned


def test_terminal_times_are_kept_in_utc():
    assert terminal(registered_at=datetime(2026, 3, 5, 9, tzinfo=BEIJING)).registered_at == T0


@pytest.mark.parametrize(
    ("field", "value"),
    [("auth_code", ""), ("auth_code", "x" * 65), ("manufacturer", "M" * 12),
     ("model", "M" * 31), ("terminal_id", "T" * 31), ("plate_colour", 256), ("phone", "abc")],
)  # fmt: skip
def test_terminal_field_out_of_bounds_is_refused(field, value):
    with pytest.raises(RecordInvalid):
        terminal(**{field: value})


@pytest.mark.parametrize(
    ("text", "colour", "plate"),
    [
        ("川A12345", 2, "川A12345"),
        ("川a·12345", 1, "川A12345"),
        ("粤Z1234港", 2, "粤Z1234港"),
        ("LFV3A23C7K3012345", 0, None),  # colour 0: no plate yet, the field holds the VIN
        ("川A12345", 0, None),
        ("unknown", 2, None),
        ("", 2, None),
    ],
)
def test_terminal_plate_is_the_canonical_plate_or_none(text, colour, plate):
    assert terminal_plate(text, colour) == plate

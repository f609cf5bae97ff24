"""Event and receive times as epoch milliseconds: exact both ways, wherever the float is not."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from custody._millis import from_millis, to_millis


def test_a_time_the_float_route_lost_a_millisecond_on() -> None:
    when = datetime(2038, 2, 1, 0, 0, 0, 2000, tzinfo=UTC)
    assert int(when.timestamp() * 1000) == to_millis(when) - 1  # the old way, one short
    assert to_millis(when) == 2_148_595_200_002
    assert from_millis(to_millis(when)) == when


def test_other_zones_and_sub_millisecond_parts() -> None:
    beijing = datetime(2026, 3, 2, 9, 30, 0, 999_999, tzinfo=timezone(timedelta(hours=8)))
    assert from_millis(to_millis(beijing)) == datetime(2026, 3, 2, 1, 30, 0, 999_000, tzinfo=UTC)
    assert to_millis(datetime(1969, 12, 31, 23, 59, 59, 999_500, tzinfo=UTC)) == -1


@given(st.integers(-(10**13), 10**14))
def test_every_millisecond_comes_back(millis: int) -> None:
    assert to_millis(from_millis(millis)) == millis

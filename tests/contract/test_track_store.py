"""Terminals and GPS fixes: the in-memory fake and the SQL store on one script."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta, timezone
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import text

from custody.tracks import GpsFix, Terminal, TrackStore
from storage.engine import make_engine
from storage.migrate import upgrade
from storage.track_store import SqlTrackStore
from tests.fakes.track_store import InMemoryTrackStore

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

T0 = datetime(2026, 3, 5, 1, 0, tzinfo=UTC)
PHONE = "13912344329"
OTHER_PHONE = "13800138000"
PLATE = "川A12345"


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TrackStore]:
    """Every track store, empty."""
    if request.param == "memory":
        yield InMemoryTrackStore()
        return
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'tracks.sqlite3'}"
        upgrade(url)
    else:
        url = request.getfixturevalue("postgres_url")
    engine = make_engine(url)
    with engine.begin() as conn:  # the PostgreSQL database lives for the session
        conn.execute(text("DELETE FROM gps_fix"))
        conn.execute(text("DELETE FROM terminal"))
    yield SqlTrackStore(engine)
    engine.dispose()


def terminal(**changes: object) -> Terminal:
    values: dict[str, object] = {
        "phone": PHONE,
        "plate": PLATE,
        "plate_colour": 2,
        "manufacturer": "HBZL1",
        "model": "ZL-808-2019",
        "terminal_id": "A1B2C3D",
        "auth_code": "7f3c9a01d2e4b856",
        "registered_at": T0,
    }
    values.update(changes)
    return Terminal(**values)  # type: ignore[arg-type]


def fix(minute: float, **changes: object) -> GpsFix:
    values: dict[str, object] = {
        "terminal": PHONE,
        "plate": PLATE,
        "fix_time": T0 + timedelta(minutes=minute),
        "lat": 30.657432,
        "lon": 104.065735,
        "altitude_m": 505,
        "speed_kmh": 62.3,
        "heading": 87,
        "alarm": 0,
        "status": 0b11,
        "received_at": T0 + timedelta(minutes=minute, seconds=2),
    }
    values.update(changes)
    return GpsFix(**values)  # type: ignore[arg-type]


# --- terminals ------------------------------------------------------------------------------


def test_new_terminal_is_registered_and_can_be_read_back(store):
    assert store.register_terminal(terminal()) == (terminal(), True)
    assert store.get_terminal(PHONE) == terminal()


def test_unknown_terminal_is_none(store):
    assert store.get_terminal("13000000000") is None


def test_registering_again_keeps_the_first_registration_and_its_auth_code(store):
    store.register_terminal(terminal())
    again = terminal(auth_code="another-code", plate="川A54321", registered_at=T0 + timedelta(1))
    assert store.register_terminal(again) == (terminal(), False)
    assert store.get_terminal(PHONE) == terminal()


def test_terminal_without_a_plate_is_registered(store):
    plain = terminal(plate=None, plate_colour=0)
    assert store.register_terminal(plain) == (plain, True)
    assert store.get_terminal(PHONE) == plain


# --- fixes ----------------------------------------------------------------------------------


def test_fixes_are_stored_and_read_back_unchanged(store):
    fixes = [fix(0), fix(0.5, alarm=0xFFFF_FFFF, status=0xFFFF_FFFF, lat=-33.86882, lon=-70.65,
                     altitude_m=-154, speed_kmh=6553.5, heading=359)]  # fmt: skip
    assert store.add_fixes(fixes) == 2
    assert store.fixes_for_terminal(PHONE, T0, T0 + timedelta(hours=1)) == fixes


def test_resent_fix_is_not_stored_twice(store):
    assert store.add_fixes([fix(0), fix(1)]) == 2
    assert store.add_fixes([fix(1), fix(2)]) == 1
    assert len(store.fixes_for_terminal(PHONE, T0, T0 + timedelta(hours=1))) == 3


def test_same_fix_twice_in_one_batch_counts_once(store):
    assert store.add_fixes([fix(0), fix(0), fix(1)]) == 2


def test_first_fix_for_a_terminal_and_time_stays(store):
    store.add_fixes([fix(0)])
    store.add_fixes([fix(0, lat=31.0, received_at=T0 + timedelta(hours=2))])
    (stored,) = store.fixes_for_terminal(PHONE, T0, T0 + timedelta(hours=1))
    assert stored == fix(0)


def test_same_time_on_two_terminals_is_two_fixes(store):
    assert store.add_fixes([fix(0), fix(0, terminal=OTHER_PHONE)]) == 2


def test_no_fixes_add_nothing(store):
    assert store.add_fixes([]) == 0


def test_window_includes_its_start_and_excludes_its_end(store):
    store.add_fixes([fix(m) for m in range(10)])
    window = store.fixes_for_terminal(PHONE, T0 + timedelta(minutes=2), T0 + timedelta(minutes=5))
    assert [f.fix_time for f in window] == [T0 + timedelta(minutes=m) for m in (2, 3, 4)]


def test_fixes_come_back_in_time_order_whatever_the_insert_order(store):
    store.add_fixes([fix(m) for m in (5, 1, 3)])
    store.add_fixes([fix(2), fix(4)])
    window = store.fixes_for_terminal(PHONE, T0, T0 + timedelta(hours=1))
    assert [f.fix_time for f in window] == [T0 + timedelta(minutes=m) for m in (1, 2, 3, 4, 5)]


def test_window_given_in_beijing_time_finds_the_same_fixes(store):
    store.add_fixes([fix(m) for m in range(3)])
    beijing = timezone(timedelta(hours=8))
    start = datetime(2026, 3, 5, 9, 1, tzinfo=beijing)  # 01:01 UTC
    window = store.fixes_for_terminal(PHONE, start, start + timedelta(minutes=5))
    assert [f.fix_time for f in window] == [T0 + timedelta(minutes=m) for m in (1, 2)]
    assert all(f.fix_time.tzinfo is UTC for f in window)


def test_fixes_for_a_plate_gather_its_terminals_in_time_order(store):
    store.add_fixes([
        fix(0), fix(2),
        fix(1, terminal=OTHER_PHONE), fix(2, terminal=OTHER_PHONE),
        fix(1.5, terminal="13700137000", plate="川A54321"),
        fix(3, terminal="13600136000", plate=None),
    ])  # fmt: skip
    window = store.fixes_for_plate(PLATE, T0, T0 + timedelta(hours=1))
    assert [(f.fix_time, f.terminal) for f in window] == [
        (T0, PHONE),
        (T0 + timedelta(minutes=1), OTHER_PHONE),
        (T0 + timedelta(minutes=2), OTHER_PHONE),
        (T0 + timedelta(minutes=2), PHONE),
    ]


def test_terminal_window_holds_only_that_terminal(store):
    store.add_fixes([fix(0), fix(1, terminal=OTHER_PHONE)])
    assert store.fixes_for_terminal(OTHER_PHONE, T0, T0 + timedelta(hours=1)) == [
        fix(1, terminal=OTHER_PHONE)
    ]


def test_a_day_of_fixes_goes_in_as_one_batch(store):
    day = [fix(m / 2) for m in range(2880)]  # every 30 s
    assert store.add_fixes(day) == 2880
    assert store.add_fixes(day) == 0
    assert len(store.fixes_for_plate(PLATE, T0, T0 + timedelta(days=1))) == 2880


def test_two_threads_sending_the_same_fixes_store_them_once(store):
    batch = [fix(m) for m in range(50)]
    counts: list[int] = []
    threads = [threading.Thread(target=lambda: counts.append(store.add_fixes(batch)))
               for _ in range(4)]  # fmt: skip
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(counts) == 50
    assert len(store.fixes_for_terminal(PHONE, T0, T0 + timedelta(hours=2))) == 50


# --- the lean read of a plate's track (the SQL store's, not the port's) ---------------------


def test_track_points_are_the_plates_fixes_in_the_same_order(store):
    if not isinstance(store, SqlTrackStore):
        pytest.skip("track_points is the SQL store's lean read; the port does not ask for it")
    store.add_fixes([
        fix(0), fix(2, crs="GCJ02", lon=104.068, speed_kmh=0.0),
        fix(1, terminal=OTHER_PHONE), fix(2, terminal=OTHER_PHONE),
        fix(1.5, terminal="13700137000", plate="川A54321"),
        fix(3, terminal="13600136000", plate=None), fix(60),
    ])  # fmt: skip
    end = T0 + timedelta(hours=1)
    points = store.track_points(PLATE, T0, end)
    assert points == [(f.fix_time, f.lon, f.lat, f.crs, f.speed_kmh)
                      for f in store.fixes_for_plate(PLATE, T0, end)]  # fmt: skip
    assert len(points) == 4
    assert all(p.fix_time.tzinfo is UTC for p in points)
    # What a map draws: the same fixes, in the same order, only where they are.
    assert store.track_positions(PLATE, T0, end) == [(p.lon, p.lat, p.crs) for p in points]

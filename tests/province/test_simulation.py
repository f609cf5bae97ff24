"""The demo province's month: deterministic, realistic, and honest about what it injected."""

from __future__ import annotations

import hashlib
from collections import Counter
from datetime import timedelta
from typing import TYPE_CHECKING

import pytest

from custody.events import Step, read_event
from custody.parties import PartyRole
from province.simulate import INJECTED_RULES, Month, Shares, demo_month

if TYPE_CHECKING:
    from routes.network import RoadNetwork


@pytest.fixture(scope="module")
def month(monaco: RoadNetwork) -> Month:
    return demo_month(monaco, 7)


def _digest(month: Month) -> str:
    h = hashlib.sha256()
    for received, message in month.events:
        h.update(received.isoformat().encode() + message)
    for read in month.reads:
        h.update(repr(read).encode())
    return h.hexdigest()


def test_the_same_seed_gives_the_same_month_byte_for_byte(
    monaco: RoadNetwork, month: Month
) -> None:
    assert _digest(demo_month(monaco, 7)) == _digest(month)


def test_another_seed_gives_another_month(monaco: RoadNetwork, month: Month) -> None:
    assert _digest(demo_month(monaco, 8)) != _digest(month)


def test_every_rule_gets_injected_violations(month: Month) -> None:
    counts = Counter(t.rule for t in month.truth)
    assert set(counts) == set(INJECTED_RULES)
    least = Shares().least
    drum_rules = ("missing-handoff", "vanished", "conflicting-custody", "cloned-label",
                  "scan-after-end", "mass-discrepancy")  # fmt: skip
    assert all(counts[rule] >= least for rule in drum_rules)
    assert counts["unlicensed"] == 3  # a lapsed permit, a licence scope and a capacity
    assert counts["mass-balance"] == 1


def test_no_subject_carries_two_injected_violations(month: Month) -> None:
    keys = [t.key for t in month.truth if t.rule != "unlicensed"]
    assert len(keys) == len(set(keys))


def test_a_devices_events_are_submitted_in_counter_order(month: Month) -> None:
    last: dict[str, int] = {}
    for _, message in month.events:
        _, signed = read_event(message)
        event = signed.event
        assert event.counter > last.get(event.device, 0)
        last[event.device] = event.counter


def test_the_month_looks_like_traffic(month: Month) -> None:
    steps = Counter(read_event(m)[1].event.step for _, m in month.events)
    assert steps[Step.COMMISSIONING] == len(month.containers)
    assert steps[Step.LOADING] > 300
    assert steps[Step.RECEIVING] > 300
    assert steps[Step.DESTROYING] > 200
    assert month.trips > 40
    assert len(month.fixes) > 20 * month.trips  # a fix every 30 s on every trip
    roles = {r for p in month.world.parties for r in p.roles}
    assert roles == set(PartyRole)
    # Events never claim a time after they were received, nor after the month.
    assert all(read_event(m)[1].event.event_time <= received for received, m in month.events)
    assert max(received for received, _ in month.events) < month.as_of + timedelta(hours=1)

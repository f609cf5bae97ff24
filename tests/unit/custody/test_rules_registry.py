"""Permits and licences (rule ``unlicensed``): who may carry and accept waste, on the day.

Every reason fires once per party, with a near miss that stays quiet: a permit valid on the day
against one that expired the day before, a licence covering the waste against one that does
not, a yearly capacity crossed by the receipt that crosses it and not one before.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest

from custody.alerts import Alert, Severity
from custody.events import Step
from custody.parties import DisposalMethod, OperatingLicence, TransportPermit
from custody.rules.licences import MAX_LISTED, UNLICENSED
from tests.checker_fixtures import D2, PLATE, PLATE2, START, T2, D, G, Story, T

if TYPE_CHECKING:
    from custody.history import Record

#: A valid credit code that is not registered here.
OUTSIDER = "91510100MA6AB12371"
#: A waste oil code (HW08): D2's licence covers it, not HW49.
OIL = "900-249-08"
#: A plate registered to nobody.
STRANGE_PLATE = "川C11111"
START_DAY = date(2026, 3, 2)  # START is 16:00 in Chengdu on this day


def alerts(story: Story, **facts: Any) -> dict[str, Alert]:
    return {a.subject: a for a in UNLICENSED.run(story.facts(**facts))}


def permit_until(last_day: date) -> dict[str, list[TransportPermit]]:
    return {T: [TransportPermit("川交运管许可危字510100009号", T, date(2024, 1, 1), last_day)]}


def licence(
    scope: set[str],
    *,
    until: date = date(2029, 12, 31),
    tonnes: float = 5.0,
    number: str = "SC5101000009",
) -> OperatingLicence:
    return OperatingLicence(
        number,
        D,
        frozenset(scope),
        frozenset({DisposalMethod.INCINERATION}),
        tonnes,
        date(2025, 1, 1),
        until,
    )


def trip(
    story: Story, drum: str, *, by: str = T, vehicle: str = PLATE, to: str = D, hours: float = 0
) -> Story:
    """G hands the drum to a carrier, which drives it to a receiver."""
    story.at(hours).commission(drum).at(hours + 1).load(drum, by=by, vehicle=vehicle)
    story.depart(drum, by=by, vehicle=vehicle).at(hours + 3)
    story.event(Step.ARRIVING, drum, by=by, vehicle=vehicle)
    return story.receive(drum, by=to, giver=by)


def test_a_licensed_chain_raises_nothing():
    story = Story()
    drum = story.drum()
    trip(story, drum).at(4).store(drum).at(5).destroy(drum)
    assert alerts(story) == {}


# --- transport permits ---------------------------------------------------------------------


def test_carrier_whose_permit_expired_is_flagged_with_the_expiry_date():
    story = Story()
    trip(story, story.drum(), by=T2, vehicle=PLATE2)
    found = alerts(story)
    assert set(found) == {f"{T2}/no-permit"}
    alert = found[f"{T2}/no-permit"]
    assert alert.severity is Severity.HIGH
    assert alert.summary_zh.startswith("锦程物流")
    assert "2025-12-31 到期" in alert.summary_zh
    assert alert.facts["steps"] == ["loading", "departing", "arriving"]
    assert alert.facts["events"] == 3
    assert alert.parties == (T2,)


@pytest.mark.parametrize(
    ("last_day", "flagged"),
    [(START_DAY, False), (START_DAY - timedelta(days=1), True)],
    ids=["valid-on-the-day", "expired-the-day-before"],
)
def test_permit_must_be_valid_on_the_day_of_the_load(last_day, flagged):
    story = Story()
    story.at(0).load(story.drum())
    found = alerts(story, permits=permit_until(last_day))
    assert (f"{T}/no-permit" in found) is flagged


@pytest.mark.parametrize(
    ("hours", "flagged"),
    [(7.9, False), (8.1, True)],
    ids=["23:54-in-Chengdu", "00:06-next-day-in-Chengdu"],
)
def test_the_legal_day_is_china_time_not_utc(hours, flagged):
    story = Story()  # START + 8 h is midnight in Chengdu, still 16:00 of the same UTC day
    story.at(hours).load(story.drum())
    assert story.records[-1].event.event_time.date() == START_DAY  # the same UTC day both times
    found = alerts(story, permits=permit_until(START_DAY))
    assert (f"{T}/no-permit" in found) is flagged


def test_a_permit_not_yet_in_force_is_no_permit():
    story = Story()
    story.at(0).load(story.drum())
    early = {
        T: [TransportPermit("川交运管许可危字510100010号", T, date(2026, 4, 1), date(2030, 1, 1))]
    }
    found = alerts(story, permits=early)
    assert "2026-04-01 起才生效" in found[f"{T}/no-permit"].summary_zh


def test_many_loads_without_permit_make_one_alert_listing_the_first_and_counting_all():
    story = Story()
    drums = [story.drum() for _ in range(MAX_LISTED + 5)]
    for hour, drum in enumerate(drums):
        story.at(hour).load(drum, by=T2, vehicle=PLATE2)
    (alert,) = UNLICENSED.run(story.facts())
    assert alert.subject == f"{T2}/no-permit"
    assert alert.facts["events"] == MAX_LISTED + 5
    assert alert.facts["containers"] == MAX_LISTED + 5
    assert len(alert.entries) == MAX_LISTED
    assert alert.containers == tuple(drums[:MAX_LISTED])
    assert alert.start == START
    assert alert.end == START + timedelta(hours=MAX_LISTED + 4)


# --- vehicles ------------------------------------------------------------------------------


def test_loading_on_a_vehicle_registered_to_another_carrier_is_flagged():
    story = Story()
    story.at(0).load(story.drum(), vehicle=PLATE2)
    found = alerts(story)
    alert = found[f"{T}/vehicle:{PLATE2}"]
    assert alert.parties == (T, T2)
    assert alert.vehicle == PLATE2
    assert "锦程物流" in alert.summary_zh
    assert set(found) == {f"{T}/vehicle:{PLATE2}"}


@pytest.mark.parametrize("plate", [PLATE, STRANGE_PLATE], ids=["own-vehicle", "unknown-plate"])
def test_loading_on_own_or_unregistered_vehicle_is_not_a_vehicle_alert(plate):
    story = Story()
    story.at(0).load(story.drum(), vehicle=plate)
    assert alerts(story) == {}


def test_only_the_loading_checks_the_vehicle():
    story = Story()
    drum = story.drum()
    story.at(0).load(drum).depart(drum, vehicle=PLATE2)
    assert alerts(story) == {}


# --- receivers -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("last_day", "flagged"),
    [(START_DAY, False), (START_DAY - timedelta(days=1), True)],
    ids=["valid-on-the-day", "expired-the-day-before"],
)
def test_receiver_needs_a_licence_valid_on_the_day(last_day, flagged):
    story = Story()
    story.at(0).receive(story.drum())
    found = alerts(story, licences={D: [licence({"HW49"}, until=last_day)]})
    assert (f"{D}/no-licence" in found) is flagged
    assert not any(s.startswith(f"{D}/scope") for s in found)  # no licence: no scope to judge


def test_storing_or_destroying_without_licence_is_flagged_once():
    story = Story()
    drum = story.drum()
    story.at(0).receive(drum).at(1).store(drum).at(2).destroy(drum)
    found = alerts(story, licences={})
    alert = found[f"{D}/no-licence"]
    assert alert.facts["events"] == 3
    assert alert.facts["steps"] == ["receiving", "storing", "destroying"]
    assert "接收、贮存、处置" in alert.summary_zh


def test_generator_storing_its_own_waste_needs_no_operating_licence():
    story = Story()
    drum = story.drum()
    story.at(0).commission(drum).at(1).store(drum, by=G)
    assert alerts(story) == {}


def test_receiver_whose_licence_does_not_cover_the_waste_is_flagged_per_code():
    story = Story()
    hw49, oil = story.drum(), story.drum(waste=OIL)
    story.at(0).receive(hw49, oil, by=D2)
    found = alerts(story)
    assert set(found) == {f"{D2}/scope:900-041-49"}
    alert = found[f"{D2}/scope:900-041-49"]
    assert alert.containers == (hw49,)
    assert "900-041-49" in alert.summary_zh
    assert "HW49" in alert.summary_zh


@pytest.mark.parametrize("scope", [{"900-041-49"}, {"HW49"}], ids=["by-code", "by-category"])
def test_licence_covers_a_waste_by_its_code_or_its_category(scope):
    story = Story()
    story.at(0).receive(story.drum())
    assert alerts(story, licences={D: [licence(scope)]}) == {}


def test_licence_for_another_code_of_the_same_category_does_not_cover():
    story = Story()
    story.at(0).receive(story.drum())
    found = alerts(story, licences={D: [licence({"900-039-49"})]})
    assert set(found) == {f"{D}/scope:900-041-49"}


# --- yearly capacity -----------------------------------------------------------------------


def receive_one_by_one(
    story: Story, kgs: list[float | None], *, start_hours: float = 0
) -> list[Record]:
    """One drum received per hour, weighed at the given kg (None: not weighed)."""
    found = []
    for hour, kg in enumerate(kgs):
        drum = story.drum(declared_kg=200)
        story.at(start_hours + hour)
        fields = {} if kg is None else {"mass_kg": kg}
        found.append(story.event(Step.RECEIVING, drum, by=D, counterparty=T, **fields))
    return found


def test_receiving_exactly_the_yearly_capacity_is_allowed():
    story = Story()
    receive_one_by_one(story, [200] * 24 + [None])  # 24 weighed, one at its declared 200 kg
    assert alerts(story) == {}  # 5.000 t: the licence's 5 t, not more


def test_capacity_is_flagged_at_the_receipt_that_crosses_it_not_before():
    story = Story()
    received = receive_one_by_one(story, [200] * 25 + [0.5, 200])
    found = alerts(story)
    alert = found[f"{D}/capacity:2026"]
    crossing = received[25]
    assert alert.entries == (crossing.index,)
    assert alert.start == alert.end == crossing.event.event_time
    assert alert.facts["before_kg"] == 5000
    assert alert.facts["after_kg"] == 5000.5
    assert alert.facts["capacity_kg"] == 5000
    assert "5.000 吨" in alert.summary_zh
    assert set(found) == {f"{D}/capacity:2026"}  # the later receipt adds no second alert


def test_unweighed_receipts_count_at_their_declared_mass():
    story = Story()
    receive_one_by_one(story, [None] * 26)
    assert set(alerts(story)) == {f"{D}/capacity:2026"}


def test_capacity_is_counted_per_calendar_year_in_china_time():
    story = Story(start=datetime(2026, 12, 31, 8, 0, tzinfo=UTC))  # 16:00 in Chengdu
    licences = {D: [licence({"HW49"}, tonnes=0.3)]}
    receive_one_by_one(story, [200])  # 2026
    receive_one_by_one(story, [200], start_hours=8.5)  # 00:30 on 1 January 2027 in Chengdu
    assert alerts(story, licences=licences) == {}
    receive_one_by_one(story, [200], start_hours=9)
    assert set(alerts(story, licences=licences)) == {f"{D}/capacity:2027"}


def test_parallel_licences_add_their_capacities():
    story = Story()
    receive_one_by_one(story, [200] * 30)  # 6 t
    two = {D: [licence({"HW49"}), licence({"HW08"}, number="SC5101000010", tonnes=1.0)]}
    assert alerts(story, licences=two) == {}


# --- parties not registered here ---------------------------------------------------------


def test_unregistered_carrier_is_flagged_as_unregistered_not_as_without_permit():
    story = Story()
    trip(story, story.drum(), by=OUTSIDER, vehicle=STRANGE_PLATE)
    found = alerts(story)
    assert set(found) == {f"{OUTSIDER}/unregistered"}
    alert = found[f"{OUTSIDER}/unregistered"]
    assert alert.facts["roles"] == ["transporter"]
    assert alert.summary_zh.startswith(f"单位 {OUTSIDER} 未在本系统登记")


def test_unregistered_receiver_is_flagged_once_as_receiver():
    story = Story()
    drum = story.drum()
    story.at(0).receive(drum, by=OUTSIDER).at(1).store(drum, by=OUTSIDER)
    found = alerts(story)
    assert set(found) == {f"{OUTSIDER}/unregistered"}
    assert found[f"{OUTSIDER}/unregistered"].facts["roles"] == ["receiver"]
    assert found[f"{OUTSIDER}/unregistered"].facts["events"] == 2

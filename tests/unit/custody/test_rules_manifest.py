"""Manifests and storage: scans that depart from the transfer manifest, and waste kept too long.

``manifest-mismatch`` raises one alert per manifest listing every field the scans contradict
(the carrier, its vehicle, the receiver, the waste code, the containers, the generator), and one
per load that names no manifest or one unknown here. ``overdue-storage`` flags a container still
at rest after a year, counted at the generator from the day the waste was generated.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from custody.alerts import Alert, Severity
from custody.events import Step
from custody.rules.manifest import MANIFEST_MISMATCH
from custody.rules.storage import OVERDUE_STORAGE
from tests.checker_fixtures import D2, PLATE, PLATE2, START, T2, WASTE, D, G, Story, T

NUMBER = "20265101000001"
OIL = "900-249-08"
OTHER_GENERATOR = "91510100MA6QQ7774C"
DAY = 24.0  # hours


def mismatches(story: Story, **facts: Any) -> dict[str, Alert]:
    return {a.subject: a for a in MANIFEST_MISMATCH.run(story.facts(**facts))}


def trip(
    story: Story,
    *drums: str,
    carrier: str = T,
    vehicle: str = PLATE,
    receiver: str = D,
    manifest: str | None = NUMBER,
) -> Story:
    """The drums loaded, driven and received, every step naming the manifest."""
    named = {"manifest": manifest} if manifest else {}
    story.at(1).load(*drums, by=carrier, vehicle=vehicle, **named)
    story.depart(*drums, by=carrier, vehicle=vehicle, **named).at(3)
    story.event(Step.ARRIVING, *drums, by=carrier, vehicle=vehicle, **named)
    return story.receive(*drums, by=receiver, giver=carrier, **named)


# --- the manifest --------------------------------------------------------------------------


def test_a_trip_that_matches_its_manifest_raises_nothing():
    story = Story()
    drums = [story.drum(), story.drum()]
    story.at(0).manifest(NUMBER, drums)
    trip(story, *drums)
    assert mismatches(story) == {}


def test_another_vehicle_is_one_entry_however_many_steps_saw_it():
    story = Story()
    drum = story.drum()
    story.at(0).manifest(NUMBER, [drum])
    trip(story, drum, vehicle=PLATE2)
    alert = mismatches(story)[NUMBER]
    assert alert.severity is Severity.MEDIUM
    assert alert.facts["fields"] == ["vehicle"]
    (entry,) = alert.facts["mismatches"]
    assert entry["declared"] == PLATE
    assert entry["seen"] == PLATE2
    assert entry["events"] == 3  # loading, departing, arriving
    assert entry["entry"] == story.records[0].index
    assert alert.summary_zh.startswith(f"转移联单 {NUMBER}")
    assert f"车辆应为{PLATE}，实为{PLATE2}" in alert.summary_zh


def test_another_carrier_is_a_mismatch():
    story = Story()
    drum = story.drum()
    story.at(0).manifest(NUMBER, [drum])
    trip(story, drum, carrier=T2)
    alert = mismatches(story)[NUMBER]
    assert alert.facts["fields"] == ["transporter"]
    assert "承运单位应为蓉运危货运输公司" in alert.summary_zh
    assert "实为锦程物流" in alert.summary_zh


def test_delivery_to_another_receiver_is_urgent():
    story = Story()
    drum = story.drum()
    story.at(0).manifest(NUMBER, [drum])
    trip(story, drum, receiver=D2)
    alert = mismatches(story)[NUMBER]
    assert alert.severity is Severity.HIGH
    assert alert.facts["fields"] == ["receiver"]
    assert alert.parties == (D2,)
    assert "接收单位应为川西环保处置中心" in alert.summary_zh


def test_waste_not_on_the_manifest_is_urgent_and_an_unlisted_drum_is_named():
    story = Story()
    listed, oil = story.drum(), story.drum(waste=OIL)
    story.at(0).manifest(NUMBER, [listed])
    trip(story, listed, oil)
    alert = mismatches(story)[NUMBER]
    assert alert.severity is Severity.HIGH
    assert set(alert.facts["fields"]) == {"waste_code", "container"}
    seen = {(m["field"], m["seen"]) for m in alert.facts["mismatches"]}
    assert seen == {("waste_code", OIL), ("container", oil)}
    assert f"废物代码 {OIL} 不在联单所列（{WASTE}）之中" in alert.summary_zh


def test_an_unlisted_drum_of_the_declared_waste_is_a_medium_mismatch():
    story = Story()
    listed, extra = story.drum(), story.drum()
    story.at(0).manifest(NUMBER, [listed])
    trip(story, listed, extra)
    alert = mismatches(story)[NUMBER]
    assert alert.severity is Severity.MEDIUM
    assert alert.facts["fields"] == ["container"]
    assert "1 个容器未列入联单" in alert.summary_zh


def test_a_manifest_that_lists_no_containers_accepts_any_of_its_waste():
    story = Story()
    drums = [story.drum(), story.drum()]
    story.at(0).manifest(NUMBER, drums, containers=())
    trip(story, *drums)
    assert mismatches(story) == {}


def test_a_drum_of_another_generator_is_a_mismatch():
    story = Story()
    own, foreign = story.drum(), story.drum(generator=OTHER_GENERATOR)
    story.at(0).manifest(NUMBER, [own, foreign])
    trip(story, own, foreign)
    alert = mismatches(story)[NUMBER]
    assert alert.facts["fields"] == ["generator"]
    (entry,) = alert.facts["mismatches"]
    assert (entry["declared"], entry["seen"], entry["events"]) == (G, OTHER_GENERATOR, 4)


def test_every_mismatch_of_a_manifest_is_listed_in_one_alert():
    story = Story()
    drum = story.drum()
    story.at(0).manifest(NUMBER, [drum])
    trip(story, drum, carrier=T2, vehicle=PLATE2, receiver=D2)
    found = mismatches(story)
    assert list(found) == [NUMBER]
    alert = found[NUMBER]
    assert alert.facts["fields"] == ["transporter", "vehicle", "receiver"]
    assert alert.facts["events"] == 4
    assert alert.severity is Severity.HIGH
    assert alert.summary_zh.count("；") == 2


def test_a_load_without_a_manifest_is_flagged_by_its_first_drum():
    story = Story()
    drums = [story.drum(), story.drum()]
    trip(story, *drums, manifest=None)
    found = mismatches(story)
    assert list(found) == [f"no-manifest/{drums[0]}"]  # the later steps follow the load
    alert = found[f"no-manifest/{drums[0]}"]
    assert alert.facts["known"] is False
    assert alert.facts["events"] == 1
    assert "没有填报转移联单" in alert.summary_zh
    assert alert.start == START + timedelta(hours=1)


def test_a_manifest_number_unknown_here_is_flagged_at_every_step_that_names_it():
    story = Story()
    drum = story.drum()
    trip(story, drum, manifest="20265101999999")
    alert = mismatches(story)[f"no-manifest/{drum}"]
    assert alert.facts["manifest"] == "20265101999999"
    assert alert.facts["events"] == 4
    assert "20265101999999 在本系统中不存在" in alert.summary_zh


def test_steps_after_a_proper_load_may_omit_the_manifest():
    story = Story()
    drum = story.drum()
    story.at(0).manifest(NUMBER, [drum])
    story.at(1).load(drum, manifest=NUMBER).depart(drum).at(3).receive(drum)
    assert mismatches(story) == {}


# --- storage -------------------------------------------------------------------------------


def overdue(story: Story, as_of_hours: float) -> list[Alert]:
    return list(OVERDUE_STORAGE.run(story.facts(as_of_hours=as_of_hours)))


@pytest.mark.parametrize(("days", "flagged"), [(364, False), (366, True)])
def test_generator_may_store_waste_for_a_year(days, flagged):
    story = Story()
    drum = story.drum()
    story.at(0).commission(drum)
    assert bool(overdue(story, days * DAY)) is flagged


def test_generator_storage_counts_from_midnight_of_the_day_of_generation():
    story = Story()  # START is 16:00 in Chengdu: storage began 16 hours before the first scan
    drum = story.drum()
    story.at(0).commission(drum)
    year = 365 * DAY
    assert overdue(story, year - 17) == []  # 364 days 23 hours
    (alert,) = overdue(story, year - 15)  # 365 days 1 hour
    assert alert.subject == drum
    assert alert.facts["storage_start"] == "2026-03-01T16:00:00+00:00"
    assert alert.facts["at_generator"] is True
    assert alert.summary_zh.startswith(f"容器 {drum} 由成都某电子厂")


def test_a_drum_labelled_long_before_its_first_scan_counts_from_its_label_date():
    story = Story()
    drum = story.drum(day=date(2025, 4, 1))
    story.at(0).commission(drum)
    (alert,) = overdue(story, 70 * DAY)
    assert alert.facts["storage_start"] == "2025-03-31T16:00:00+00:00"
    assert alert.facts["days_held"] == 405
    assert alert.facts["days_over"] == 40
    assert alert.severity is Severity.MEDIUM


@pytest.mark.parametrize(("days", "flagged"), [(364, False), (366, True)])
def test_a_storage_site_counts_from_the_day_it_took_the_drum(days, flagged):
    story = Story()
    drum = story.drum(day=date(2025, 4, 1))  # generated 11 months before D took it
    story.at(0).commission(drum).load(drum).at(3).receive(drum).store(drum)
    found = overdue(story, 3 + days * DAY)
    assert bool(found) is flagged
    if flagged:
        assert found[0].parties == (D,)
        assert found[0].facts["at_generator"] is False


def test_drums_on_the_road_or_destroyed_are_not_in_storage():
    story = Story()
    moving, destroyed = story.drum(), story.drum()
    story.at(0).commission(moving, destroyed).load(moving, destroyed)
    story.at(3).receive(destroyed).at(4).destroy(destroyed)
    assert overdue(story, 400 * DAY) == []


def test_storage_is_judged_at_the_checks_time_not_at_the_last_scan():
    story = Story()
    drum = story.drum()
    story.at(0).commission(drum).at(380 * DAY).load(drum)  # shipped after 380 days
    assert [a.subject for a in overdue(story, 370 * DAY)] == [drum]  # still stored then
    assert overdue(story, 381 * DAY) == []

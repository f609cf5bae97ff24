"""The custody-chain rules: missing hand-offs, conflicting custody, loads that vanished in transit,
cloned labels and scans after a container's end. Each alarm has a near miss that must stay quiet.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from custody.events import Step
from custody.parties import Checkpoint, CheckpointKind, WGS84Point
from custody.rules._chain_words import STEP_ZH
from custody.rules.clones import CLONED_LABEL, great_circle_km
from custody.rules.ending import AFTER_END
from custody.rules.handoff import CONFLICTING_CUSTODY, MISSING_HANDOFF
from custody.rules.transit import VANISHED
from scanners.scanning import STEP_ZH as SCANNER_STEP_ZH
from tests.checker_fixtures import PLANT, PLATE, PLATE2, START, T2, YARD, D, G, Story, T

CHAIN_RULES = (MISSING_HANDOFF, CONFLICTING_CUSTODY, VANISHED, CLONED_LABEL, AFTER_END)
MANIFEST = "20260351010000001"
#: Kilometres per degree of latitude on the mean Earth sphere.
KM_PER_DEGREE = 111.195
MINUTE = 1 / 60
SECOND = 1 / 3600


def north_of_yard(km: float) -> tuple[float, float]:
    return (YARD[0] + km / KM_PER_DEGREE, YARD[1])


def scan(story: Story, drum: str, hours: float, *, by: str = T, **fields: object) -> None:
    """A checkpoint scan (an observation: it moves no custody)."""
    story.at(hours).event(Step.PASSING, drum, by=by, **fields)


def alerts(rule, story: Story, **facts: object) -> list:
    return list(rule.run(story.facts(**facts)))


def clean_life(story: Story, drum: str) -> Story:
    """G fills it, T carries it 3 h on a manifest, D receives, stores and destroys it."""
    story.at(0).manifest(MANIFEST, [drum])
    story.commission(drum).at(1).load(drum, manifest=MANIFEST).depart(drum)
    scan(story, drum, 2, location=north_of_yard(10))
    story.at(3).receive(drum, mass_kg=200).at(4).store(drum).at(10).destroy(drum)
    return story


# --- a clean life ------------------------------------------------------------------------------


def test_a_clean_life_from_generator_to_destruction_raises_no_alert_from_any_chain_rule():
    story = Story()
    clean_life(story, story.drum())
    facts = story.facts(as_of_hours=500)
    assert [a for rule in CHAIN_RULES for a in rule.run(facts)] == []


def test_a_carrier_to_carrier_handover_raises_no_alert_from_any_chain_rule():
    story = Story()
    drum = story.drum()
    story.at(0).commission(drum).at(1).load(drum, by=T, giver=G)
    story.at(2).load(drum, by=T2, giver=T, vehicle=PLATE2, location=north_of_yard(40))
    story.at(4).receive(drum, by=D, giver=T2).at(5).destroy(drum)
    facts = story.facts(as_of_hours=500)
    assert [a for rule in CHAIN_RULES for a in rule.run(facts)] == []


def test_rules_keep_the_names_alert_ids_and_filters_are_built_on():
    assert [(r.name, r.severity.value) for r in CHAIN_RULES] == [
        ("missing-handoff", "high"),
        ("conflicting-custody", "high"),
        ("vanished", "high"),
        ("cloned-label", "high"),
        ("scan-after-end", "high"),
    ]


def test_alerts_name_steps_in_the_words_the_scanner_showed():
    assert dict(STEP_ZH) == SCANNER_STEP_ZH


# --- missing hand-off --------------------------------------------------------------------------


def test_a_disposer_receiving_a_drum_no_transporter_loaded_is_a_missing_handoff():
    story = Story()
    drum = story.drum()
    story.at(0).commission(drum).at(3).receive(drum, by=D, giver=T)

    (alert,) = alerts(MISSING_HANDOFF, story)

    assert alert.subject == drum
    assert alert.containers == (drum,)
    assert alert.entries == (0, 1)  # the generator's commissioning and the disposer's receipt
    assert alert.parties == (G, D)
    assert alert.facts["holder"] == G
    assert alert.facts["claimant"] == D
    assert alert.facts["step"] == "receiving"
    assert alert.facts["holder_since"] == START.isoformat()
    assert alert.facts["at"] == (START + timedelta(hours=3)).isoformat()
    assert "川西环保处置中心于 2026-03-02 19:00:00 接收容器" in alert.summary_zh
    assert "此前由成都某电子厂存放" in alert.summary_zh
    assert "no hand-over from 成都某电子厂" in alert.summary


def test_a_disposer_receiving_from_the_transporter_that_loaded_the_drum_is_no_missing_handoff():
    story = Story()
    drum = story.drum()
    story.at(0).commission(drum).at(1).load(drum, by=T, giver=G).at(3).receive(drum, giver=T)
    assert alerts(MISSING_HANDOFF, story) == []


def test_every_gap_in_one_history_is_counted_in_one_alert_about_the_container():
    story = Story()
    drum = story.drum()
    story.at(0).commission(drum).at(3).receive(drum, by=D, giver=T)
    story.at(5).depart(drum, by=T2, vehicle=PLATE2)  # nobody handed it to T2 either

    (alert,) = alerts(MISSING_HANDOFF, story)

    assert alert.subject == drum
    assert alert.facts["count"] == 2
    assert [j["claimant"] for j in alert.facts["jumps"]] == [D, T2]
    assert alert.entries == (0, 1, 2)


# --- conflicting custody -----------------------------------------------------------------------


def test_a_second_transporter_loading_from_a_generator_that_already_handed_over_conflicts():
    story = Story()
    drum = story.drum()
    story.at(0).commission(drum).at(1).load(drum, by=T, giver=G)
    story.at(2).load(drum, by=T2, giver=G, vehicle=PLATE2)

    (alert,) = alerts(CONFLICTING_CUSTODY, story)

    assert alert.subject == drum
    assert alert.facts["kinds"] == ["jump"]
    assert alert.facts["conflicts"][0]["holder"] == T
    assert alert.facts["conflicts"][0]["claimant"] == T2
    assert alert.entries == (1, 2)
    assert "锦程物流" in alert.summary_zh
    assert "仍由蓉运危货运输公司运输" in alert.summary_zh
    assert alerts(MISSING_HANDOFF, story) == []


def test_two_events_continuing_the_same_record_are_a_fork():
    story = Story()
    drum = story.drum()
    story.at(0).commission(drum)
    filled = story.records[-1]
    story.at(1).event(Step.PACKING, drum, by=G)
    story.heads[drum] = filled.event_hash  # a second device still knows only the filling
    story.at(2).store(drum, by=G)

    (alert,) = alerts(CONFLICTING_CUSTODY, story)

    assert alert.subject == drum
    assert alert.facts["kinds"] == ["fork"]
    (fork,) = alert.facts["forks"]
    assert fork["predecessor"] == filled.event_hash.hex()
    assert [c["step"] for c in fork["claimants"]] == ["packing", "storing"]
    assert alert.entries == (0, 1, 2)
    assert "分叉" in alert.summary_zh


def test_the_same_events_linked_one_after_another_are_no_fork():
    story = Story()
    drum = story.drum()
    story.at(0).commission(drum).at(1).event(Step.PACKING, drum, by=G)
    story.at(2).store(drum, by=G)
    assert alerts(CONFLICTING_CUSTODY, story) == []


def test_events_from_an_offline_device_without_a_back_link_are_not_a_fork():
    story = Story()
    drum = story.drum()
    story.at(0).commission(drum).at(1).load(drum)  # the commissioning has no predecessor either
    for hours in (2, 3):
        story.heads.pop(drum)  # offline: the device never learned the chain's head
        story.at(hours).depart(drum)

    assert story.facts().histories[drum].forks == {}
    assert alerts(CONFLICTING_CUSTODY, story) == []


def test_a_container_listed_as_its_own_parent_is_walked_once_and_is_no_fork():
    story = Story()
    small, big = story.drum(), story.drum()
    story.at(0).commission(small, big, by=D)
    story.at(1).event(Step.REPACKING, small, big, by=D, parent=big)

    facts = story.facts()

    assert len(facts.histories[big].records) == 2
    assert alerts(CONFLICTING_CUSTODY, story) == []
    assert facts.histories[small].ended_by is not None


# --- vanished in transit -----------------------------------------------------------------------


def loaded_on_manifest(story: Story) -> str:
    """A drum loaded at hour 0 on a manifest due at hour 6: with 12 h grace, overdue after 18."""
    drum = story.drum()
    story.at(0).manifest(MANIFEST, [drum], arrive_before=START + timedelta(hours=6))
    story.commission(drum).load(drum, manifest=MANIFEST).depart(drum)
    return drum


def test_a_load_nobody_received_by_the_manifest_deadline_plus_grace_has_vanished():
    story = Story()
    drum = loaded_on_manifest(story)
    scan(story, drum, 2, location=north_of_yard(50), vehicle=PLATE)

    (alert,) = alerts(VANISHED, story, as_of_hours=18 + MINUTE)

    assert alert.subject == drum
    assert alert.vehicle == PLATE
    assert alert.facts["deadline"] == (START + timedelta(hours=18)).isoformat()
    assert alert.facts["deadline_from"] == "manifest"
    assert alert.facts["loaded_at"] == START.isoformat()
    assert alert.facts["hours_overdue"] == pytest.approx(MINUTE, abs=0.01)
    assert alert.facts["manifest"] == MANIFEST
    assert alert.facts["last_seen_step"] == "passing"
    assert alert.entries == (1, 3)  # the loading and the last scan
    assert "蓉运危货运输公司装车" in alert.summary_zh
    assert "仍未被接收或退回" in alert.summary_zh


@pytest.mark.parametrize(
    ("as_of_hours", "expected"),
    [(17.5, 0), (18, 0), (18 + SECOND, 1)],
    ids=["before-deadline", "at-deadline", "a-second-past"],
)
def test_vanished_is_judged_at_the_checks_clock(as_of_hours: float, expected: int):
    story = Story()
    loaded_on_manifest(story)
    assert len(alerts(VANISHED, story, as_of_hours=as_of_hours)) == expected


def test_a_load_received_a_minute_before_deadline_plus_grace_has_not_vanished():
    story = Story()
    drum = loaded_on_manifest(story)
    story.at(18 - MINUTE).receive(drum)
    assert alerts(VANISHED, story, as_of_hours=40) == []


def test_a_load_received_late_arrived_and_has_not_vanished():
    story = Story()
    drum = loaded_on_manifest(story)
    story.at(20).receive(drum)
    assert alerts(VANISHED, story, as_of_hours=40) == []


def test_a_rejected_load_returned_to_the_generator_has_not_vanished():
    story = Story()
    drum = loaded_on_manifest(story)
    story.at(3).event(Step.REJECTING, drum, by=D, location=PLANT)
    story.at(6).event(Step.RETURNING, drum, by=G, counterparty=T, location=YARD)
    assert alerts(VANISHED, story, as_of_hours=40) == []


@pytest.mark.parametrize("manifest", [None, "20269999990000001"], ids=["none", "unknown"])
def test_without_a_manifest_deadline_a_load_has_the_default_transit_time(manifest: str | None):
    story = Story()
    drum = story.drum()
    story.at(0).commission(drum).load(drum, manifest=manifest)

    assert alerts(VANISHED, story, as_of_hours=24) == []
    (alert,) = alerts(VANISHED, story, as_of_hours=24 + MINUTE)
    assert alert.facts["deadline_from"] == "default"
    assert alert.facts["deadline"] == (START + timedelta(hours=24)).isoformat()
    assert alert.facts["manifest"] == manifest


def test_a_carrier_handover_does_not_restart_the_transit_clock():
    story = Story()
    drum = story.drum()
    story.at(0).commission(drum).load(drum, by=T, giver=G)
    story.at(20).load(drum, by=T2, giver=T, vehicle=PLATE2)

    (alert,) = alerts(VANISHED, story, as_of_hours=24 + MINUTE)

    assert alert.facts["loaded_at"] == START.isoformat()
    assert alert.facts["carrier"] == T2
    assert alert.vehicle == PLATE2
    assert "现由锦程物流承运" in alert.summary_zh


def test_a_container_still_at_the_generator_has_not_vanished():
    story = Story()
    story.at(0).commission(story.drum())
    assert alerts(VANISHED, story, as_of_hours=1000) == []


# --- cloned labels -----------------------------------------------------------------------------


def test_great_circle_distance_is_about_111_km_per_degree_of_latitude():
    assert great_circle_km((30.0, 104.0), (31.0, 104.0)) == pytest.approx(KM_PER_DEGREE, abs=0.01)
    assert great_circle_km(YARD, YARD) == 0


@pytest.mark.parametrize(
    ("minutes", "expected"),
    [(40, 0), (20, 0), (19, 1), (10, 1)],
    ids=["45-kmh", "90-kmh-within-tolerance", "95-kmh", "180-kmh"],
)
def test_two_scans_30_km_apart_are_a_clone_only_faster_than_a_dangerous_goods_truck_may_go(
    minutes: int, expected: int
):
    story = Story()
    drum = story.drum()
    story.at(0).commission(drum).load(drum)
    scan(story, drum, minutes * MINUTE, location=north_of_yard(30))

    found = alerts(CLONED_LABEL, story)

    assert len(found) == expected
    if expected:
        (alert,) = found
        assert alert.subject == drum
        assert alert.facts["distance_km"] == pytest.approx(30, abs=0.01)
        assert alert.facts["minutes"] == minutes
        assert alert.facts["speed_kmh"] == pytest.approx(30 / (minutes / 60), abs=0.5)
        assert alert.facts["limit_kmh"] == 92
        assert alert.entries == (1, 2)


@pytest.mark.parametrize(
    ("km", "expected"), [(0.9, 0), (1.1, 1)], ids=["just-inside-site", "outside-site"]
)
def test_two_scans_at_the_same_instant_are_a_clone_unless_within_one_site(km: float, expected: int):
    story = Story()
    drum = story.drum()
    story.at(0).commission(drum)
    scan(story, drum, 0, location=north_of_yard(km))

    found = alerts(CLONED_LABEL, story)

    assert len(found) == expected
    if expected:
        assert found[0].facts["speed_kmh"] is None
        assert "同一时刻" in found[0].summary_zh


def test_scans_within_one_site_are_never_compared_however_quick():
    story = Story()
    drum = story.drum()
    story.at(0).commission(drum)
    scan(story, drum, 10 * SECOND, location=north_of_yard(0.9))  # 324 km/h, but one plant
    assert alerts(CLONED_LABEL, story) == []


def test_a_scan_at_a_checkpoint_is_placed_by_the_checkpoints_location():
    far = north_of_yard(300)
    gate = Checkpoint("SX-G5-K900", "G5京昆高速广元收费站", CheckpointKind.TOLL,
                      WGS84Point(*far))  # fmt: skip
    story = Story()
    drum = story.drum()
    story.at(0).commission(drum).load(drum)
    scan(story, drum, 1, read_point=gate.checkpoint_id)  # 300 km in one hour

    (alert,) = alerts(CLONED_LABEL, story, checkpoints={gate.checkpoint_id: gate})

    assert alert.facts["to"]["checkpoint"] == gate.checkpoint_id
    assert "G5京昆高速广元收费站" in alert.summary_zh
    # Without the checkpoint on record the scan has no place, so nothing to compare.
    assert alerts(CLONED_LABEL, story) == []


def test_an_event_with_a_location_is_placed_there_not_at_its_read_point():
    gate = Checkpoint("SX-G5-K900", "G5京昆高速广元收费站", CheckpointKind.TOLL,
                      WGS84Point(*north_of_yard(300)))  # fmt: skip
    story = Story()
    drum = story.drum()
    story.at(0).commission(drum).load(drum)
    scan(story, drum, 1, read_point=gate.checkpoint_id, location=north_of_yard(30))
    assert alerts(CLONED_LABEL, story, checkpoints={gate.checkpoint_id: gate}) == []


def test_a_far_scan_after_destruction_is_compared_too():
    story = Story()
    drum = story.drum()
    clean_life(story, drum)
    scan(story, drum, 3 + 20 * MINUTE, location=north_of_yard(300))  # after the receipt at PLANT

    (alert,) = alerts(CLONED_LABEL, story)

    assert alert.facts["from"]["step"] == "receiving"
    assert alert.facts["to"]["step"] == "passing"


# --- scans after the end -----------------------------------------------------------------------


def destroyed_at_10(story: Story) -> str:
    drum = story.drum()
    clean_life(story, drum)
    return drum


def test_a_scan_after_destruction_is_flagged():
    story = Story()
    drum = destroyed_at_10(story)
    scan(story, drum, 30, by=T2)

    (alert,) = alerts(AFTER_END, story)

    assert alert.subject == drum
    assert alert.entries == (6, 7)  # the destruction and the later scan
    assert alert.facts["how"] == "destroyed"
    assert alert.facts["count"] == 1
    assert alert.facts["later"][0]["party"] == T2
    assert "已于 2026-03-03 02:00:00 由川西环保处置中心处置（销毁）" in alert.summary_zh
    assert "锦程物流扫描" in alert.summary_zh


@pytest.mark.parametrize(
    ("after_seconds", "expected"), [(0, 0), (1, 1)], ids=["same-instant", "a-second-later"]
)
def test_only_an_event_claiming_a_later_time_than_the_destruction_is_after_it(
    after_seconds: int, expected: int
):
    story = Story()
    drum = destroyed_at_10(story)
    story.at(10 + after_seconds * SECOND).store(drum)  # logged after the destruction either way
    assert len(alerts(AFTER_END, story)) == expected


def test_a_scan_of_a_drum_emptied_into_another_container_is_flagged():
    story = Story()
    small, big = story.drum(), story.drum()
    story.at(0).commission(small, big, by=D)
    story.at(1).event(Step.CONSOLIDATING, small, by=D, parent=big)
    story.at(2).store(big)  # the container it went into lives on
    story.at(3).store(small)

    (alert,) = alerts(AFTER_END, story)

    assert alert.subject == small
    assert alert.facts["how"] == "emptied"
    assert alert.facts["into"] == big
    assert f"合并至容器 {big}" in alert.summary_zh


def test_a_container_that_has_not_ended_is_never_after_its_end():
    story = Story()
    drum = story.drum()
    story.at(0).commission(drum).at(1).load(drum).at(3).receive(drum).at(50).store(drum)
    assert alerts(AFTER_END, story) == []

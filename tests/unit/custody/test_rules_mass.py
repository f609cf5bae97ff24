"""Mass: a receipt weighed off its declared mass, and a generator whose waste goes missing in sum.

The per-drum tolerance is 2 % or 20 kg, whichever is larger; the balance flags a gap of at least
300 kg and 1.5 % of what was declared within 90 days. Each alarm has a near miss that stays
quiet, and the skimming the balance exists for (15 kg off each of 60 drums, every drum within
tolerance) is caught while honest scale noise is not.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from custody.alerts import Alert, Severity
from custody.digital_id import DigitalId
from custody.events import Mass, MassSource, Step
from custody.facts import CheckSettings
from custody.rules.mass import MASS_BALANCE, MASS_DISCREPANCY, BalanceRow, monthly_balance
from tests.checker_fixtures import D2, START, WASTE, D, G, Story, T

DAY = 24.0  # hours
FIFTH_OF_MARCH = datetime(2026, 3, 5, 2, 0, tzinfo=UTC)


def discrepancies(story: Story, **facts: Any) -> list[Alert]:
    return list(MASS_DISCREPANCY.run(story.facts(**facts)))


def balance(story: Story, **facts: Any) -> list[Alert]:
    return list(MASS_BALANCE.run(story.facts(**facts)))


# --- one receipt ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("declared", "received", "flagged"),
    [
        (200, 200, False),
        (200, 180.1, False),  # 19.9 kg light: inside the 20 kg floor
        (200, 219.9, False),
        (200, 180, False),  # exactly the tolerance is still inside it
        (200, 179, True),  # 21 kg light
        (200, 221, True),  # 21 kg heavy: an unexplained gain is a discrepancy too
        (2000, 1961, False),  # a 2 t tote: 2 % is 40 kg; 39 kg off is fine
        (2000, 1959, True),  # 41 kg off is not
    ],
)
def test_receipt_is_flagged_only_beyond_two_percent_or_twenty_kg(declared, received, flagged):
    story = Story()
    drum = story.drum(declared_kg=declared)
    story.at(3).receive(drum, mass_kg=received)
    assert bool(discrepancies(story)) is flagged


def test_light_receipt_alert_names_the_drum_the_parties_and_the_gap_in_kg():
    story = Story()
    drum = story.drum(declared_kg=200)
    story.at(3).receive(drum, mass_kg=170)
    (alert,) = discrepancies(story)
    assert alert.subject == drum
    assert alert.severity is Severity.HIGH  # 15 % light
    assert alert.summary_zh.startswith("川西环保处置中心")
    assert "少 30.0 千克" in alert.summary_zh
    assert "地磅称重 170.0 千克" in alert.summary_zh
    assert alert.facts["gap_kg"] == -30
    assert alert.facts["tolerance_kg"] == 20
    assert alert.facts["multi_container"] is False
    assert alert.parties == (D, G)
    assert alert.entries == (story.records[-1].index,)


@pytest.mark.parametrize(
    ("declared", "received", "severity"),
    [
        (2000, 1900, Severity.MEDIUM),  # 100 kg, 5 %
        (200, 179, Severity.HIGH),  # 21 kg, 10.5 %
        (6000, 5501, Severity.MEDIUM),  # 499 kg, 8.3 %
        (6000, 5500, Severity.HIGH),  # 500 kg
    ],
)
def test_gap_of_ten_percent_or_half_a_tonne_is_urgent(declared, received, severity):
    story = Story()
    story.at(3).receive(story.drum(declared_kg=declared), mass_kg=received)
    (alert,) = discrepancies(story)
    assert alert.severity is severity


def test_multi_drum_receipt_is_compared_with_the_sum_and_says_so():
    story = Story()
    drums = [story.drum(declared_kg=200) for _ in range(3)]
    story.at(3).receive(*drums, mass_kg=540)
    (alert,) = discrepancies(story)
    assert alert.subject == drums[0]
    assert alert.facts["multi_container"] is True
    assert alert.facts["containers"] == 3
    assert alert.facts["declared_kg"] == 600
    assert "3 个容器" in alert.summary_zh
    assert alert.containers == tuple(drums)


def test_multi_drum_receipt_within_tolerance_of_the_sum_is_quiet():
    story = Story()
    drums = [story.drum(declared_kg=200) for _ in range(3)]
    story.at(3).receive(*drums, mass_kg=581)  # 19 kg light on 600 kg
    assert discrepancies(story) == []


def test_unweighed_receipts_and_unregistered_drums_are_not_compared():
    story = Story()
    stranger = DigitalId(G, WASTE, START.date(), 999).text  # labelled, never registered here
    story.at(3).receive(story.drum(), note="not weighed").receive(stranger, mass_kg=1)
    assert discrepancies(story) == []


# --- consolidation -------------------------------------------------------------------------


def consolidate(story: Story, children: list[str], parent: str, kg: float) -> None:
    story.event(Step.CONSOLIDATING, *children, by=D, parent=parent, mass_kg=kg)


def test_consolidation_that_loses_mass_is_flagged_on_the_new_container():
    story = Story()
    children = [story.drum(declared_kg=200) for _ in range(3)]
    parent = story.drum(declared_kg=600, generator=D)
    for kg, child in zip((198, 201, 199), children, strict=True):
        story.at(3).receive(child, mass_kg=kg)
    story.at(5)
    consolidate(story, children, parent, 560)  # 38 kg less than the 598 kg weighed in
    (alert,) = discrepancies(story)
    assert alert.subject == parent
    assert alert.facts["children_kg"] == 598
    assert [c["source"] for c in alert.facts["per_child"]] == ["received"] * 3
    assert "合并" in alert.summary_zh
    assert alert.containers[0] == parent


def test_consolidation_that_balances_is_quiet_and_unweighed_children_count_as_declared():
    story = Story()
    children = [story.drum(declared_kg=200) for _ in range(3)]
    parent = story.drum(declared_kg=600, generator=D)
    story.at(3).receive(children[0], mass_kg=180)  # weighed alone: 180 kg is its mass
    story.receive(children[1], children[2], mass_kg=400)  # weighed together: no own mass
    story.at(5)
    consolidate(story, children, parent, 575)  # 180 + 200 + 200 = 580: 5 kg off
    assert discrepancies(story) == []
    consolidate(story, children, parent, 600)  # 20 kg over the 580 kg: still inside
    assert discrepancies(story) == []
    consolidate(story, children, parent, 601)
    assert [a.subject for a in discrepancies(story)] == [parent]


# --- the generator's balance ---------------------------------------------------------------


def shipments(
    story: Story,
    weighed: list[float],
    *,
    declared: float = 200,
    every: float = DAY,
    first: float = 0,
    source: MassSource = MassSource.WEIGHBRIDGE,
) -> list[str]:
    """One drum a day from G: loaded by T, received and weighed by D three hours later."""
    drums = []
    for n, kg in enumerate(weighed):
        drum = story.drum(declared_kg=declared)
        hours = first + n * every
        story.at(hours).commission(drum).load(drum).at(hours + 3)
        story.receive(drum, mass=Mass(round(kg * 1000), source))
        drums.append(drum)
    return drums


def test_honest_scales_over_sixty_drums_do_not_trip_the_balance():
    # Scattered readings up to 1 kg (0.5 %) either side, as a calibrated weighbridge gives.
    noise = [((n * 7919) % 201 - 100) / 100 for n in range(60)]
    assert all(abs(kg) <= 1 for kg in noise)
    assert len(set(noise)) > 50  # scattered, not one bias
    story = Story()
    shipments(story, [200 + kg for kg in noise])
    assert balance(story) == []


def test_a_scale_reading_half_a_percent_low_on_every_drum_does_not_trip_it():
    story = Story()
    shipments(story, [199] * 60)  # 60 kg over 12 t
    assert balance(story) == []


def test_fifteen_kg_skimmed_off_each_of_sixty_drums_is_caught_though_each_is_in_tolerance():
    story = Story()
    drums = shipments(story, [185] * 60)
    assert discrepancies(story) == []  # every drum is within its 20 kg
    (alert,) = balance(story)
    assert alert.subject == G
    assert alert.severity is Severity.HIGH
    assert alert.facts["gap_kg"] == 900
    assert alert.facts["declared_kg"] == 12_000
    assert alert.facts["containers"] == 60
    assert [m["month"] for m in alert.facts["months"]] == ["2026-03", "2026-04"]
    assert sum(m["gap_kg"] for m in alert.facts["months"]) == 900
    assert alert.summary_zh.startswith("成都某电子厂")
    assert "短少 900.0 千克" in alert.summary_zh
    assert len(alert.entries) == 20
    assert set(alert.containers) <= set(drums)
    assert alert.parties == (G, D)


@pytest.mark.parametrize(
    ("drums", "short_kg", "flagged"),
    [(20, 14.9, False), (20, 15, True)],
    ids=["298-kg", "300-kg"],
)
def test_balance_needs_a_gap_of_at_least_300_kg(drums, short_kg, flagged):
    story = Story()
    shipments(story, [200 - short_kg] * drums)
    assert bool(balance(story)) is flagged


@pytest.mark.parametrize(
    ("drums", "short_kg", "flagged"),
    [(25, 12, False), (20, 15, True)],
    ids=["300-kg-is-1.2-percent", "300-kg-is-1.5-percent"],
)
def test_balance_needs_a_gap_of_at_least_one_and_a_half_percent(drums, short_kg, flagged):
    story = Story()
    shipments(story, [1000 - short_kg] * drums, declared=1000)
    assert bool(balance(story)) is flagged


@pytest.mark.parametrize(
    ("second_batch_day", "flagged"),
    [(61, True), (153, False)],
    ids=["two-months-apart", "five-months-apart"],
)
def test_gaps_count_together_only_within_the_window(second_batch_day, flagged):
    story = Story(start=datetime(2026, 3, 10, 2, 0, tzinfo=UTC))
    shipments(story, [180] * 10, every=1)  # 200 kg short on 10 March
    shipments(story, [180] * 10, every=1, first=second_batch_day * DAY)
    assert bool(balance(story)) is flagged


def test_a_month_in_progress_is_judged_on_what_is_in_so_far():
    story = Story()
    shipments(story, [185] * 30)  # 15 kg short a day, from 2 March
    assert balance(story, as_of=START + timedelta(days=18, hours=12)) == []  # 19 drums: 285 kg
    (alert,) = balance(story, as_of=START + timedelta(days=20, hours=12))  # 21 drums: 315 kg
    assert alert.facts["in_progress"] is True
    assert alert.facts["gap_kg"] == 315
    assert "尚未结束" in alert.summary_zh


def test_the_balance_reports_the_worst_window_once_per_generator():
    story = Story()
    shipments(story, [185] * 40)  # 450 kg short in March, 600 kg by 10 April
    (alert,) = balance(story, as_of=START + timedelta(days=70))
    assert alert.facts["gap_kg"] == 600
    assert alert.facts["windows_flagged"] == 2
    assert alert.facts["window_end"] == "2026-04-30"


def test_a_clean_year_of_nearly_a_thousand_loads_raises_no_mass_alert():
    story = Story()
    noise = [((n * 7919) % 201 - 100) / 100 for n in range(990)]  # within 1 kg either side
    shipments(story, [200 + kg for kg in noise], every=8)  # three loads a day for 330 days
    facts = story.facts()
    assert list(MASS_BALANCE.run(facts)) == []
    assert list(MASS_DISCREPANCY.run(facts)) == []


def test_a_2_8_t_gap_spread_over_40_loads_is_flagged_long_before_it_reaches_3_t():
    story = Story(start=FIFTH_OF_MARCH)
    shipments(story, [930] * 40, declared=1000, every=2 * DAY)  # 70 kg short, over 78 days
    early = FIFTH_OF_MARCH + timedelta(days=10)  # five loads in: 350 kg
    (alert,) = balance(story, as_of=early)
    assert alert.facts["gap_kg"] == 350
    (alert,) = balance(story)
    assert alert.facts["gap_kg"] == 2800
    assert "3 吨" not in alert.summary_zh


def test_a_gap_of_3_t_cites_the_criminal_threshold():
    story = Story(start=FIFTH_OF_MARCH)
    shipments(story, [925] * 40, declared=1000, every=2 * DAY)
    (alert,) = balance(story)
    assert alert.facts["gap_kg"] == 3000
    assert "严重污染环境" in alert.summary_zh


def test_masses_copied_from_the_declaration_are_not_weighings():
    story = Story()
    shipments(story, [185] * 60, source=MassSource.DECLARED)
    assert balance(story) == []


def test_each_generator_is_balanced_on_its_own():
    story = Story()
    other = "91510100MA6QQ7774C"
    honest = [story.drum(generator=other) for _ in range(60)]
    for n, drum in enumerate(honest):
        story.at(n).receive(drum, mass_kg=200)
    shipments(story, [185] * 60)
    assert [a.subject for a in balance(story)] == [G]


def test_balance_can_be_tuned_by_the_regulator():
    story = Story()
    shipments(story, [199] * 60)  # 60 kg
    strict = CheckSettings(balance_min_g=50_000, balance_share=0.004)
    assert [a.subject for a in balance(story, settings=strict)] == [G]


# --- the monthly table ---------------------------------------------------------------------


def test_monthly_table_shows_what_each_party_declared_moved_and_received():
    story = Story()
    light, late = story.drum(declared_kg=200), story.drum(declared_kg=300)
    story.at(0).commission(light, late).at(1).load(light, late)
    story.at(3).receive(light, mass_kg=198)
    story.at(31 * DAY).receive(late)  # April, not weighed: counted as declared
    assert monthly_balance(story.facts()) == [
        BalanceRow(G, "generator", "2026-03", 500_000, 500_000, 198_000, 2),
        BalanceRow(G, "generator", "2026-04", 0, 0, 300_000, 0),
        BalanceRow(D, "disposer", "2026-03", 200_000, 500_000, 198_000, 1),
        BalanceRow(D, "disposer", "2026-04", 300_000, 0, 300_000, 1),
    ]


def test_monthly_table_splits_a_shared_weighing_by_declared_mass_and_stops_at_as_of():
    story = Story()
    small, big = story.drum(declared_kg=100), story.drum(declared_kg=300)
    story.at(3).receive(small, big, mass_kg=380, by=D2)
    rows = monthly_balance(story.facts())
    assert [(r.party, r.role, r.received_g) for r in rows] == [
        (G, "generator", 380_000),
        (D2, "disposer", 380_000),
    ]
    assert rows[1].declared_g == 400_000
    assert rows[1].containers == 2
    before = monthly_balance(story.facts(as_of_hours=2))
    assert [(r.role, r.received_g) for r in before] == [("generator", 0)]


def test_receipts_are_counted_once_per_drum_at_their_first_receipt():
    story = Story()
    drum = story.drum()
    story.at(3).receive(drum, mass_kg=200).at(50).receive(drum, by=D2, giver=D, mass_kg=190)
    rows = monthly_balance(story.facts())
    assert [(r.party, r.received_g) for r in rows if r.role == "disposer"] == [(D, 200_000)]
    assert T not in {r.party for r in rows}

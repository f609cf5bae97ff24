"""Custody histories: the state machine that says who held a container when."""

from __future__ import annotations

import pytest

from custody.events import NO_PREVIOUS, Step
from custody.history import JumpKind, Phase, Whereabouts, histories, party_graph, whereabouts
from tests.checker_fixtures import T2, D, G, Story, T


def _life(story: Story, drum: str) -> list[tuple[str, Phase]]:
    return [(s.holder, s.phase) for s in histories(story.records)[drum].spans]


def test_a_clean_life_is_held_by_each_party_in_turn_and_ends() -> None:
    story = Story()
    drum = story.drum()
    story.at(0).commission(drum).at(1).load(drum).depart(drum).at(3).receive(drum)
    story.at(30).destroy(drum)
    assert _life(story, drum) == [
        (G, Phase.AT_REST), (T, Phase.IN_TRANSIT), (D, Phase.AT_REST), (D, Phase.ENDED),
    ]  # fmt: skip
    history = histories(story.records)[drum]
    assert history.jumps == []
    assert history.forks == {}
    assert history.ended_by is story.records[-1]
    assert [s.until for s in history.spans[:-1]] == [s.since for s in history.spans[1:]]


def test_a_late_upload_is_ordered_by_the_time_the_device_claims() -> None:
    story = Story()
    drum = story.drum()
    story.at(0).commission(drum).at(3).receive(drum)  # the receipt reaches the log first ...
    story.at(1).load(drum)  # ... the carrier's scan, made earlier, an hour later
    history = histories(story.records)[drum]
    assert [r.event.step for r in history.records] == [
        Step.COMMISSIONING, Step.LOADING, Step.RECEIVING,
    ]  # fmt: skip
    assert history.jumps == []


def test_a_drum_received_that_nobody_loaded_jumps_and_custody_follows_the_receiver() -> None:
    story = Story()
    drum = story.drum()
    story.at(0).commission(drum).at(3).receive(drum).at(30).destroy(drum)
    history = histories(story.records)[drum]
    (jump,) = history.jumps
    assert (jump.kind, jump.holder, jump.record.event.party) == (JumpKind.MISSING_HANDOFF, G, D)
    assert _life(story, drum)[-1] == (D, Phase.ENDED)


def test_a_former_holder_claiming_it_again_is_a_conflict_that_leaves_custody_alone() -> None:
    story = Story()
    drum = story.drum()
    story.at(0).commission(drum).at(1).load(drum)
    story.event(Step.STORING, drum, by=G)  # the generator still thinks it has it
    story.at(2).depart(drum).at(3).receive(drum)
    history = histories(story.records)[drum]
    assert [j.kind for j in history.jumps] == [JumpKind.CONFLICT]
    assert _life(story, drum) == [(G, Phase.AT_REST), (T, Phase.IN_TRANSIT), (D, Phase.AT_REST)]


def test_a_second_carrier_loading_from_the_generator_is_a_conflict() -> None:
    story = Story()
    drum = story.drum()
    story.at(0).commission(drum).at(1).load(drum).at(2).load(drum, by=T2)
    (jump,) = histories(story.records)[drum].jumps
    assert (jump.kind, jump.holder) == (JumpKind.CONFLICT, T)


def test_two_events_claiming_one_predecessor_are_a_fork_an_unlinked_one_is_not() -> None:
    story = Story()
    drum = story.drum()
    story.at(0).commission(drum)
    first = story.records[-1].event_hash
    story.at(1).load(drum)
    story.heads[drum] = first  # an offline handheld links to what it last saw
    story.event(Step.STORING, drum, by=G)
    story.heads[drum] = NO_PREVIOUS  # a device that saw nothing: unlinked, not a fork
    story.at(2).depart(drum)
    history = histories(story.records)[drum]
    assert list(history.forks) == [first]
    assert len(history.forks[first]) == 2
    chain = history.chain()
    assert chain.out_degree(first) == 2  # the per-container graph shows the fork
    assert chain.number_of_nodes() == len(history.records)


def test_the_party_graph_counts_containers_and_mass_along_each_hand_over() -> None:
    story = Story()
    drums = [story.drum(declared_kg=100 + i) for i in range(3)]
    for drum in drums:
        story.at(0).commission(drum).at(1).load(drum).at(3).receive(drum)
    declared = {d: c.facts.declared_net_mass_g for d, c in story.containers.items()}
    graph = party_graph(histories(story.records), declared)
    assert sorted(graph.edges) == sorted([(G, T), (T, D)])
    assert graph.edges[G, T]["containers"] == 3
    assert graph.edges[T, D]["mass_g"] == 303_000


@pytest.mark.parametrize(
    ("step", "by", "expected"),
    [
        (None, G, Whereabouts.AT_GENERATOR),
        (Step.COMMISSIONING, G, Whereabouts.AT_GENERATOR),
        (Step.STORING, G, Whereabouts.AT_GENERATOR),
        (Step.LOADING, T, Whereabouts.IN_TRANSIT),
        (Step.PASSING, T, Whereabouts.IN_TRANSIT),
        (Step.REJECTING, D, Whereabouts.IN_TRANSIT),
        (Step.RECEIVING, D, Whereabouts.RECEIVED),
        (Step.STORING, D, Whereabouts.RECEIVED),
        (Step.DESTROYING, D, Whereabouts.DISPOSED),
    ],
)
def test_where_a_container_is_follows_its_latest_step(
    step: Step | None, by: str, expected: Whereabouts
) -> None:
    story = Story()
    latest = None if step is None else story.at(0).event(step, story.drum(), by=by)
    assert whereabouts(latest, G) is expected
    assert expected.zh in {"未出厂", "运输中", "已接收", "已处置"}

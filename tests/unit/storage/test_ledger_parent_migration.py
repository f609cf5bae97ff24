"""Migration 0009 indexes the consolidations already in the ledger by the container they made."""

from __future__ import annotations

from typing import TYPE_CHECKING

from alembic import command

from custody.events import Step
from storage.engine import make_engine
from storage.facts_loader import load_records
from storage.migrate import alembic_config, upgrade
from tests.conftest import GENERATOR_CODE
from tests.facts_fixtures import append_events, drum_id
from tests.ledger_fixtures import Scanner

if TYPE_CHECKING:
    from pathlib import Path


def test_consolidations_stored_before_0009_are_found_from_their_new_container(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    upgrade(url)
    engine = make_engine(url)
    gen = Scanner(GENERATOR_CODE)
    parent = drum_id(9)
    append_events(engine, [gen.scan(Step.COMMISSIONING, drum_id(1)),
                           gen.scan(Step.COMMISSIONING, drum_id(2)),
                           gen.scan(Step.CONSOLIDATING, drum_id(1), drum_id(2), parent=parent,
                                    minutes=5),
                           gen.scan(Step.PACKING, parent, minutes=6)])  # fmt: skip
    engine.dispose()
    command.downgrade(alembic_config(url), "0008")  # as if appended before the index existed

    assert upgrade(url) == "0009"
    engine = make_engine(url)
    history = load_records(engine, [parent])
    engine.dispose()
    assert [(r.index, r.event.step) for r in history] == [(2, Step.CONSOLIDATING),
                                                          (3, Step.PACKING)]  # fmt: skip

"""A party's balance read from its own containers equals the one read from the whole ledger."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

import pytest

from custody.rules.mass import monthly_balance
from province.feed import feed
from province.simulate import demo_month
from storage.engine import make_engine
from storage.facts_loader import load_facts, load_party_facts
from storage.migrate import upgrade

if TYPE_CHECKING:
    from collections.abc import Iterator

    from sqlalchemy.engine import Engine

    from province.simulate import Month
    from routes.network import RoadNetwork


@pytest.fixture(scope="module")
def province(
    monaco: RoadNetwork, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Engine, Month]]:
    url = f"sqlite:///{tmp_path_factory.mktemp('balance') / 'demo.sqlite3'}"
    upgrade(url)
    engine = make_engine(url)
    month = demo_month(monaco, 5)
    feed(month, engine, b"tests-only key-encryption key", "demo.custody/log")
    yield engine, month
    engine.dispose()


@pytest.mark.parametrize("days_back", [None, 12], ids=["whole month", "last 12 days"])
def test_every_partys_rows_are_those_of_the_whole_ledger(
    province: tuple[Engine, Month], days_back: int | None
) -> None:
    engine, month = province
    since = None if days_back is None else month.as_of - timedelta(days=days_back)
    whole = monthly_balance(load_facts(engine, as_of=month.as_of, since=since))
    parties = sorted({r.party for r in whole})
    assert len({r.role for r in whole}) == 2, "generators and disposers both"
    assert len(parties) > 10
    for party in parties:
        own = load_party_facts(engine, party, as_of=month.as_of, since=since)
        mine = [r for r in monthly_balance(own) if r.party == party]
        assert mine == [r for r in whole if r.party == party], party

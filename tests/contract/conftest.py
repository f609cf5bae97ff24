"""Fixtures shared by the contract tests."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from sqlalchemy import text

from storage.engine import make_engine
from storage.ledger_store import SqlLedgerStore
from storage.migrate import upgrade
from tests.fakes.ledger_store import InMemoryLedgerStore

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from custody.ports import LedgerStore

LEDGER_TABLES = ("ledger_entry", "ledger_container", "ledger_node",
                 "ledger_checkpoint", "ledger_flag")  # fmt: skip


def _fresh_sql_store(
    request: pytest.FixtureRequest, tmp_path: Path, kind: str
) -> Iterator[SqlLedgerStore]:
    if kind == "sqlite":
        url = f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
        upgrade(url)
    else:
        url = request.getfixturevalue("postgres_url")
    engine = make_engine(url)
    with engine.begin() as conn:  # a fresh, empty ledger for each test
        for table in LEDGER_TABLES:
            conn.execute(text(f"DELETE FROM {table}"))  # noqa: S608  # fixed table names
        reset = "UPDATE ledger_state SET size = 0, peaks = :p, checkpoint = NULL"
        conn.execute(text(reset), {"p": b""})
    yield SqlLedgerStore(engine)
    engine.dispose()


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def ledger_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LedgerStore]:
    """Every ledger store, empty."""
    if request.param == "memory":
        yield InMemoryLedgerStore()
    else:
        yield from _fresh_sql_store(request, tmp_path, request.param)


@pytest.fixture(params=["sqlite", "postgresql"])
def sql_ledger_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlLedgerStore]:
    """The SQL ledger stores, empty: what an insider with database access could edit."""
    yield from _fresh_sql_store(request, tmp_path, request.param)

"""Migrations build exactly the schema the tables declare, on every back end."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from storage.engine import make_engine
from storage.migrate import current_revision, head_revision, upgrade
from storage.tables import metadata


def test_database_is_at_the_newest_revision(database_url: str) -> None:
    assert current_revision(database_url) == head_revision()


def test_migrations_match_the_table_models(database_url: str) -> None:
    engine = make_engine(database_url)
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), metadata)
    engine.dispose()
    assert diff == []


def test_upgrade_is_idempotent_and_creates_every_table(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh' / 'custody.sqlite3'}"
    assert upgrade(url) == head_revision()
    assert upgrade(url) == head_revision()
    engine = make_engine(url)
    assert set(metadata.tables) <= set(inspect(engine).get_table_names())
    engine.dispose()


def test_embedded_sqlite_runs_in_wal_mode_with_full_sync(tmp_path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'wal.sqlite3'}")
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    engine.dispose()

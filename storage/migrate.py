"""Schema migrations (Alembic), configured in code so no ``alembic.ini`` has to be found."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.exc import SQLAlchemyError

from custody.errors import StorageError
from storage.engine import make_engine, normalise_url

__all__ = ["alembic_config", "current_revision", "head_revision", "upgrade"]

_MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(url: str) -> Config:
    """An Alembic configuration pointing at our migrations and the given database."""
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    rendered = normalise_url(url).render_as_string(hide_password=False)
    config.set_main_option("sqlalchemy.url", rendered.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> str | None:
    """Apply migrations up to ``revision`` and return the revision the database is now at."""
    make_engine(url).dispose()  # creates the SQLite folder if needed
    try:
        command.upgrade(alembic_config(url), revision)
    except SQLAlchemyError as exc:
        raise StorageError(
            f"could not migrate the database: {exc.__class__.__name__}: {exc}",
            zh="数据库迁移失败",
        ) from exc
    return current_revision(url)


def current_revision(url: str) -> str | None:
    """The revision the database is at (``None`` for an empty database)."""
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


def head_revision() -> str | None:
    """The newest revision this code ships."""
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()

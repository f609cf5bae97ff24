"""Database engines for the two back ends we support: SQLite (embedded default) and PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import make_url

if TYPE_CHECKING:
    from sqlalchemy.engine import URL, Engine

__all__ = ["SQLITE_IMMEDIATE", "make_engine", "normalise_url"]

#: Execution option: start SQLite transactions with BEGIN IMMEDIATE (take the write lock now).
SQLITE_IMMEDIATE = "custody_sqlite_immediate"


def normalise_url(url: str) -> URL:
    """Accept the URLs people write (``postgresql://``) and pick the driver we ship (psycopg 3)."""
    parsed = make_url(url)
    if parsed.drivername in {"postgresql", "postgres"}:
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def make_engine(url: str, *, echo: bool = False, connections: int | None = None) -> Engine:
    """Create an engine with the settings each back end needs to keep accepted data safe.

    SQLite runs in WAL mode with ``synchronous=FULL`` (an acknowledged commit survives power
    loss), foreign keys on, and a busy timeout so concurrent writers wait instead of failing.
    The driver's own transaction handling is switched off so that SAVEPOINTs work.
    ``connections`` caps the pool (the service sizes it to its worker threads: a request
    holds its session's connection while a store opens another).
    """
    parsed = normalise_url(url)
    pool: dict[str, int] = {}
    if connections is not None:
        pool = {"pool_size": connections, "max_overflow": 0}  # no churn of new connections
    if parsed.get_backend_name() != "sqlite":
        return create_engine(parsed, echo=echo, pool_pre_ping=True, **pool)

    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(parsed, echo=echo, connect_args={"check_same_thread": False}, **pool)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: object) -> None:  # noqa: ANN401  # DB-API is untyped
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:  # noqa: ANN401  # SQLAlchemy passes its Connection
        # Writers that must not interleave (the ledger) ask for the write lock up front.
        immediate = connection.get_execution_options().get(SQLITE_IMMEDIATE, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine

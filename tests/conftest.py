"""Shared fixtures: databases (SQLite always, PostgreSQL when reachable), each test in a
transaction that is rolled back, and deterministic registry records.

PostgreSQL: tests that need it use ``CUSTODY_TEST_POSTGRES_URL`` (default: the local server)
and create a fresh database for the session. Without a reachable server they skip and say why;
under ``CI=true`` they fail instead, so CI can never pass by skipping them.
"""

from __future__ import annotations

import os
import uuid
from datetime import date
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlmodel import Session

from custody.parties import (
    Checkpoint,
    CheckpointKind,
    DisposalMethod,
    OperatingLicence,
    Party,
    PartyRole,
    TransportPermit,
    Vehicle,
    WGS84Point,
)
from storage.engine import make_engine, normalise_url
from storage.migrate import upgrade

if TYPE_CHECKING:
    from collections.abc import Iterator

    from sqlalchemy.engine import Engine

POSTGRES_SERVER = os.environ.get(
    "CUSTODY_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
IN_CI = os.environ.get("CI", "").lower() == "true"
# The service's background checker stays off in tests (and in the services they start), so
# no thread writes alerts behind a test's back; tests of the checker turn it on explicitly.
os.environ["CUSTODY_CHECKER"] = "false"


def _require_postgres(reason: str) -> None:
    message = (
        f"PostgreSQL is not reachable at {POSTGRES_SERVER} ({reason}); start it or set "
        "CUSTODY_TEST_POSTGRES_URL"
    )
    if IN_CI:
        pytest.fail(f"{message}. Under CI=true PostgreSQL tests must run.")
    pytest.skip(message)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for this test session, dropped at the end."""
    admin = make_engine(POSTGRES_SERVER).execution_options(isolation_level="AUTOCOMMIT")
    name = f"custody_test_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError as exc:
        admin.dispose()
        _require_postgres(str(exc.orig).strip().splitlines()[0])
    url = normalise_url(POSTGRES_SERVER).set(database=name).render_as_string(hide_password=False)
    upgrade(url)
    yield url
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The database the suite runs on: ``CUSTODY_DATABASE_URL`` if set, else a SQLite file."""
    url = os.environ.get("CUSTODY_DATABASE_URL") or (
        f"sqlite:///{tmp_path_factory.mktemp('db') / 'custody.sqlite3'}"
    )
    upgrade(url)
    return url


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    eng = make_engine(database_url)
    yield eng
    eng.dispose()


def _rolled_back_session(eng: Engine) -> Iterator[Session]:
    """A session whose commits are savepoints inside one transaction that is rolled back."""
    with eng.connect() as connection:
        outer = connection.begin()
        session = Session(bind=connection, join_transaction_mode="create_savepoint")
        try:
            yield session
        finally:
            session.close()
            outer.rollback()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    yield from _rolled_back_session(engine)


@pytest.fixture
def postgres_session(postgres_url: str) -> Iterator[Session]:
    eng = make_engine(postgres_url)
    try:
        yield from _rolled_back_session(eng)
    finally:
        eng.dispose()


# -- deterministic records --------------------------------------------------------------------
# Credit codes with valid check characters (computed by custody.credit_code helpers in
# tests/unit/custody/test_credit_code.py, which also checks them independently).

GENERATOR_CODE = "91510100MA61R8XQ02"
TRANSPORTER_CODE = "91510112MA62M3K99H"
DISPOSER_CODE = "91510900MA6232LL7N"


@pytest.fixture
def generator() -> Party:
    return Party(GENERATOR_CODE, "成都蓉新化工有限公司", frozenset({PartyRole.GENERATOR}))


@pytest.fixture
def transporter() -> Party:
    return Party(TRANSPORTER_CODE, "四川危运物流有限公司", frozenset({PartyRole.TRANSPORTER}))


@pytest.fixture
def disposer() -> Party:
    return Party(DISPOSER_CODE, "遂宁环保处置有限公司", frozenset({PartyRole.DISPOSER}))


@pytest.fixture
def permit() -> TransportPermit:
    return TransportPermit(
        "川交运管许可成字510100000123号", TRANSPORTER_CODE, date(2024, 1, 1), date(2027, 12, 31)
    )


@pytest.fixture
def licence() -> OperatingLicence:
    return OperatingLicence(
        number="川环危第510900001号",
        holder=DISPOSER_CODE,
        scope=frozenset({"HW08", "900-041-49"}),
        methods=frozenset({DisposalMethod.INCINERATION}),
        capacity_t_per_year=30000.0,
        valid_from=date(2024, 6, 1),
        valid_to=date(2029, 5, 31),
    )


@pytest.fixture
def vehicle() -> Vehicle:
    return Vehicle("川A·12345", TRANSPORTER_CODE, "川A000123", 18000)


@pytest.fixture
def checkpoint() -> Checkpoint:
    return Checkpoint(
        checkpoint_id="CD-G5-K1234",
        name="G5京昆高速成都北收费站",
        kind=CheckpointKind.TOLL,
        location=WGS84Point(30.7421, 104.0712),
        road="G5",
    )

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from api.app import create_app
from api.endpoints.deps import get_session
from api.settings import Settings
from tests.support.access import sign_in

if TYPE_CHECKING:
    from collections.abc import Iterator

    from sqlmodel import Session


@pytest.fixture
def client(database_url: str, session: Session) -> Iterator[TestClient]:
    """The app on the suite's database; every write rolls back after the test."""
    settings = Settings(
        database_url=database_url,
        migrate_on_start=False,
        key_encryption_key=SecretStr("tests-only key-encryption key"),
    )
    app = create_app(settings)
    app.dependency_overrides[get_session] = lambda: session
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield sign_in(test_client, session=session)

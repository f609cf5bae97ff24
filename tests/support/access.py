"""Signing test clients in: accounts and bearer tokens made straight in the app's database."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

from sqlmodel import Session

from api.auth import Access
from custody.access import Principal, Role
from custody.errors import AlreadyRegistered
from storage.access_store import SqlAccessStore

if TYPE_CHECKING:
    from fastapi.testclient import TestClient

__all__ = ["ADMIN", "PASSWORD", "bearer", "headers_for", "log_in", "sign_in", "token_for"]

PASSWORD = "correct horse battery"  # noqa: S105  # a test account's

ADMIN = Principal("test-admin", Role.ADMINISTRATOR)


def token_for(
    session: Session, principal: Principal, *, password: str | None = None, days: float = 1
) -> str:
    """A token for ``principal``, its account opened first if need be."""
    access = Access(SqlAccessStore(session))
    with contextlib.suppress(AlreadyRegistered):
        access.create_account(principal, password=password)
    _, text = access.issue(principal.name, days=days)
    return text


def bearer(token: str) -> dict[str, str]:
    """The header that carries a token."""
    return {"Authorization": f"Bearer {token}"}


def sign_in(
    client: TestClient, principal: Principal = ADMIN, session: Session | None = None
) -> TestClient:
    """Send every later request of ``client`` as ``principal`` (the administrator by default).

    ``session``: the session the app's requests use, when a test overrides it; otherwise the
    account is made on the app's own engine (the client must have started).
    """
    if session is not None:
        text = token_for(session, principal)
    else:
        with Session(client.app.state.engine) as own:  # type: ignore[attr-defined]
            text = token_for(own, principal)
    client.headers.update(bearer(text))
    return client


def headers_for(client: TestClient, principal: Principal) -> dict[str, str]:
    """Headers that send one request as ``principal`` (account made on the app's engine)."""
    with Session(client.app.state.engine) as own:  # type: ignore[attr-defined]
        return bearer(token_for(own, principal))


def log_in(client: TestClient, principal: Principal) -> TestClient:
    """Log ``principal`` in on the pages, as a person would: the client keeps the cookie."""
    with Session(client.app.state.engine) as own:  # type: ignore[attr-defined]
        token_for(own, principal, password=PASSWORD)
    form = {"name": principal.name, "password": PASSWORD, "next": "/officer/alerts"}
    response = client.post("/login", data=form, follow_redirects=False)
    assert response.status_code == 303, response.text
    return client

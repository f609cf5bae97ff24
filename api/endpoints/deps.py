"""Dependencies shared by endpoints: a database session and the services built on it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request
from sqlmodel import Session

from custody.registry import Registry
from storage.registry_store import SqlRegistryStore

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["RegistryDep", "SessionDep", "get_session"]


def get_session(request: Request) -> Iterator[Session]:
    """A database session for one request; each store commits its own writes."""
    with Session(request.app.state.engine) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


def _registry(session: SessionDep) -> Registry:
    return Registry(SqlRegistryStore(session))


RegistryDep = Annotated[Registry, Depends(_registry)]

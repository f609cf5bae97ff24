"""Route guards that need a record looked up first: whether the caller may read a container."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from api.auth import allow
from api.endpoints.deps import ContainersDep  # noqa: TC001  # FastAPI reads it at runtime
from api.scope import ensure_container
from custody.access import OFFICER_ROLES, PARTY_ROLES, Principal
from custody.containers import Container  # FastAPI reads it at runtime
from custody.digital_id import parse_digital_id

__all__ = ["ReadableContainerDep", "ReaderDep"]

#: Who reads the records of the chain: the parties they name, and officers.
ReaderDep = Annotated[Principal, Depends(allow(*PARTY_ROLES, *OFFICER_ROLES))]


def _readable_container(
    digital_id: str, request: Request, containers: ContainersDep, principal: ReaderDep
) -> Container:
    """The container in the path, if it is the caller's or in their jurisdiction.

    A container not registered, or out of reach, is the same 404. Routes take the container
    from here rather than reading it a second time.
    """
    container = containers.get(parse_digital_id(digital_id).text)
    ensure_container(principal, request.app.state.engine, container.digital_id.text,
                     container.facts.generator)  # fmt: skip
    return container


ReadableContainerDep = Annotated[Container, Depends(_readable_container)]

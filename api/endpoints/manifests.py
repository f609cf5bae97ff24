"""Transfer manifests (电子转移联单): recorded once, never changed, read by the checker.

Recording is idempotent: the same manifest again answers 200 with the one on file; a different
manifest under the same number is refused with 409 and never overwrites.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status
from pydantic import BaseModel, Field

from api.auth import allow, require_party_match, writer
from api.endpoints.deps import SessionDep  # noqa: TC001  # FastAPI reads it at run time
from api.paging import start_after
from api.schemas.checker import ManifestCreate, ManifestPublic
from api.schemas.times import Instant
from api.scope import ensure_manifest, manifest_parties
from custody.access import OFFICER_ROLES, PARTY_ROLES, Principal, Role
from custody.manifests import Manifests
from storage.manifest_store import SqlManifestStore

router = APIRouter(tags=["manifests"])

MAX_PAGE = 1000

_PROBLEMS: dict[int | str, dict[str, object]] = {
    404: {"description": "No manifest with that number (problem details)"},
    409: {"description": "Recorded already with other content (problem details)"},
    422: {"description": "Invalid number, identifier, time or field (problem details)"},
}


def _manifests(session: SessionDep) -> Manifests:
    return Manifests(SqlManifestStore(session))


ManifestsDep = Annotated[Manifests, Depends(_manifests)]


def _store(session: SessionDep) -> SqlManifestStore:
    return SqlManifestStore(session)


StoreDep = Annotated[SqlManifestStore, Depends(_store)]
ReaderDep = Annotated[Principal, Depends(allow(*PARTY_ROLES, *OFFICER_ROLES))]


@router.post(
    "/manifests",
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"description": "The same manifest was recorded already", "model": ManifestPublic},
        409: _PROBLEMS[409],
        422: _PROBLEMS[422],
    },
)
def record_manifest(
    body: ManifestCreate,
    manifests: ManifestsDep,
    response: Response,
    principal: Annotated[Principal, Depends(writer(Role.GENERATOR))],
) -> ManifestPublic:
    """Record a transfer manifest; the same one again answers 200, a changed one 409.

    A generator records its own manifests (the one it hands over the waste under).
    """
    manifest = body.to_domain()
    require_party_match(principal, manifest.generator)
    manifest, new = manifests.record(manifest)
    if not new:
        response.status_code = status.HTTP_200_OK
    return ManifestPublic.of(manifest)


class ManifestPage(BaseModel):
    """A page of manifests, oldest first."""

    items: list[ManifestPublic]
    next: str | None = Field(description="Pass as `cursor` for the next page; null at the end.")


@router.get("/manifests", responses={422: _PROBLEMS[422]})
def list_manifests(  # noqa: PLR0913, PLR0917  # FastAPI passes one parameter per filter
    store: StoreDep,
    principal: ReaderDep,
    since: Annotated[Instant | None, Query(description="Issued at or after.")] = None,
    until: Annotated[Instant | None, Query(description="Issued before.")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    cursor: Annotated[
        str | None, Query(max_length=20, description="`next` of the page before.")
    ] = None,
) -> ManifestPage:
    """Manifests issued in ``[since, until)``, oldest first: those naming a party in reach."""
    found = [m for m in store.list_manifests(since=since, until=until)
             if principal.covers_any(manifest_parties(m))]  # fmt: skip
    first = start_after([m.number for m in found], cursor)
    page = found[first : first + limit]
    more = first + limit < len(found)
    return ManifestPage(items=[ManifestPublic.of(m) for m in page],
                        next=page[-1].number if more else None)  # fmt: skip


@router.get("/manifests/{number}", responses={404: _PROBLEMS[404]})
def get_manifest(number: str, manifests: ManifestsDep, principal: ReaderDep) -> ManifestPublic:
    """One manifest by its number."""
    return ManifestPublic.of(ensure_manifest(principal, manifests.get(number)))

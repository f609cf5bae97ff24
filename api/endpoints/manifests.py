"""Transfer manifests (电子转移联单): recorded once, never changed, read by the checker.

Recording is idempotent: the same manifest again answers 200 with the one on file; a different
manifest under the same number is refused with 409 and never overwrites.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status

from api.endpoints.deps import SessionDep  # noqa: TC001  # FastAPI reads it at run time
from api.schemas.checker import ManifestCreate, ManifestPublic
from api.schemas.times import Instant
from custody.manifests import Manifests
from storage.manifest_store import SqlManifestStore

router = APIRouter(tags=["manifests"])

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
    body: ManifestCreate, manifests: ManifestsDep, response: Response
) -> ManifestPublic:
    """Record a transfer manifest; the same one again answers 200, a changed one 409."""
    manifest, new = manifests.record(body.to_domain())
    if not new:
        response.status_code = status.HTTP_200_OK
    return ManifestPublic.of(manifest)


@router.get("/manifests", responses={422: _PROBLEMS[422]})
def list_manifests(
    store: StoreDep,
    since: Annotated[Instant | None, Query(description="Issued at or after.")] = None,
    until: Annotated[Instant | None, Query(description="Issued before.")] = None,
) -> list[ManifestPublic]:
    """Manifests issued in ``[since, until)``, oldest first."""
    return [ManifestPublic.of(m) for m in store.list_manifests(since=since, until=until)]


@router.get("/manifests/{number}", responses={404: _PROBLEMS[404]})
def get_manifest(number: str, manifests: ManifestsDep) -> ManifestPublic:
    """One manifest by its number."""
    return ManifestPublic.of(manifests.get(number))

"""Checkpoint feeds: camera plate reads (ANPR) pushed by road checkpoints, and queries."""

from __future__ import annotations

from datetime import datetime  # FastAPI reads annotations at run time
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field

from api.auth import allow, writer
from api.endpoints.deps import RegistryDep
from api.schemas.times import Instant
from custody.access import Principal, Role
from custody.plates import parse_plate
from custody.sightings import PlateRead, ReadSource, Sightings
from storage.sighting_store import SqlSightingStore

MAX_PAGE = 1000

router = APIRouter(tags=["checkpoints"])


class PlateReadIn(BaseModel):
    """One plate read as a camera reports it."""

    model_config = ConfigDict(extra="forbid")

    checkpoint: str = Field(max_length=64)
    plate: str = Field(max_length=32)
    seen_at: datetime = Field(description="ISO 8601 with a time zone.")
    confidence: float = Field(ge=0, le=1)


class PlateReadBatch(BaseModel):
    """Reads from one or more cameras; stored all or none."""

    model_config = ConfigDict(extra="forbid")

    reads: list[PlateReadIn] = Field(min_length=1, max_length=10_000)


class PlateReadPublic(BaseModel):
    """A stored read."""

    checkpoint: str
    plate: str
    seen_at: datetime
    confidence: float
    source: ReadSource


class RecordedPublic(BaseModel):
    """What a batch did."""

    new: int
    duplicate: int = Field(description="Reads already stored (same checkpoint, plate, time).")


def _store(request: Request) -> SqlSightingStore:
    return SqlSightingStore(request.app.state.engine)


StoreDep = Annotated[SqlSightingStore, Depends(_store)]
# Road sightings name no party, so they are not scoped to districts: police and transport
# officers read them province-wide (every read is in the read log); checkpoints send them.
SenderDep = Annotated[Principal, Depends(writer(Role.CHECKPOINT))]
WatcherDep = Annotated[Principal, Depends(allow(Role.POLICE, Role.TRANSPORT))]


@router.post(
    "/plate-reads",
    status_code=status.HTTP_201_CREATED,
    responses={422: {"description": "Reads refused, each named by position (problem details)"}},
)
def record_plate_reads(
    body: PlateReadBatch,
    store: StoreDep,
    registry: RegistryDep,
    response: Response,
    _: SenderDep,
) -> RecordedPublic:
    """Store camera plate reads from registered checkpoints; a read sent again is not doubled."""
    new, duplicate = Sightings(store, registry).record(
        [r.model_dump() | {"source": ReadSource.API} for r in body.reads]
    )
    if new == 0:
        response.status_code = status.HTTP_200_OK
    return RecordedPublic(new=new, duplicate=duplicate)


class PlateReadPage(BaseModel):
    """A page of plate reads, oldest first."""

    items: list[PlateReadPublic]
    next: str | None = Field(description="Pass as `cursor` for the next page; null at the end.")


@router.get("/plate-reads", responses={422: {"description": "Bad filter (problem details)"}})
def list_plate_reads(  # noqa: PLR0913, PLR0917  # FastAPI passes one parameter per filter
    store: StoreDep,
    registry: RegistryDep,
    principal: WatcherDep,
    plate: Annotated[str | None, Query()] = None,
    checkpoint: Annotated[str | None, Query()] = None,
    since: Annotated[Instant | None, Query()] = None,
    until: Annotated[Instant | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    cursor: Annotated[
        str | None, Query(max_length=20, pattern=r"^\d+$", description="`next` of the page before.")
    ] = None,
) -> PlateReadPage:
    """Reads by plate, checkpoint and time window, oldest first, a page at a time.

    An officer reads those of checkpoints in their districts, and of checkpoints registered
    without a division (``Checkpoint.division``); an administrator all of them.
    """
    hidden = [] if principal.sees_all else [
        c.checkpoint_id for c in registry.checkpoints() if not principal.covers_division(c.division)
    ]  # fmt: skip
    found = store.page(
        plate=parse_plate(plate).text if plate else None,
        checkpoint=checkpoint,
        since=since,
        until=until,
        limit=limit + 1,  # one more: is there a next page?
        after=int(cursor) if cursor else None,
        hidden=hidden,
    )
    page = found[:limit]
    more = len(found) > limit
    return PlateReadPage(items=[_public(r) for _, r in page],
                         next=str(page[-1][0]) if more else None)  # fmt: skip


def _public(read: PlateRead) -> PlateReadPublic:
    return PlateReadPublic(checkpoint=read.checkpoint, plate=read.plate, seen_at=read.seen_at,
                           confidence=read.confidence, source=read.source)  # fmt: skip

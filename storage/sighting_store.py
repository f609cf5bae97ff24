"""Plate reads in SQL, behind :class:`custody.sightings.SightingStore`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from custody.errors import RecordInvalid, StorageError
from custody.sightings import PlateRead, ReadSource
from storage.tables import PlateReadRow

if TYPE_CHECKING:
    from collections.abc import Collection, Sequence
    from datetime import datetime

    from sqlalchemy import Select
    from sqlalchemy.engine import Engine

__all__ = ["SqlSightingStore"]

_READ = PlateReadRow.__table__  # type: ignore[attr-defined]


def _filtered(
    plate: str | None, checkpoint: str | None, since: datetime | None, until: datetime | None
) -> Select[Any]:
    """Reads matching every filter given, oldest first (the insertion order breaking ties)."""
    r = _READ.c
    query = select(_READ).order_by(r.seen_at, r.id)
    if plate is not None:
        query = query.where(r.plate == plate)
    if checkpoint is not None:
        query = query.where(r.checkpoint == checkpoint)
    if since is not None:
        query = query.where(r.seen_at >= since)
    if until is not None:
        query = query.where(r.seen_at < until)
    return query


class SqlSightingStore:
    """Plate reads in one table; a read sent twice is stored once."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._dialect = postgresql if engine.dialect.name == "postgresql" else sqlite

    def add_reads(self, reads: Sequence[PlateRead]) -> int:
        if not reads:
            return 0
        rows = [{"checkpoint": r.checkpoint, "plate": r.plate, "seen_at": r.seen_at,
                 "confidence": r.confidence, "source": r.source.value} for r in reads]  # fmt: skip
        statement = self._dialect.insert(_READ).on_conflict_do_nothing()
        try:
            with self._engine.begin() as conn:
                return max(conn.execute(statement, rows).rowcount, 0)
        except SQLAlchemyError as exc:
            raise StorageError(f"could not store plate reads: {exc.__class__.__name__}",
                               zh="无法保存车牌识别记录") from exc  # fmt: skip

    def page(  # noqa: PLR0913  # the filters, then the page
        self,
        *,
        plate: str | None = None,
        checkpoint: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
        after: int | None = None,
        hidden: Collection[str] = (),
    ) -> list[tuple[int, PlateRead]]:
        """Reads in the order of :meth:`reads`, a page after the row id ``after``, with ids.

        Keyset paging on (seen_at, id): the cursor is the last row's id, looked up here.
        ``hidden``: checkpoints whose reads are left out (outside the reader's jurisdiction).
        """
        query = _filtered(plate, checkpoint, since, until).limit(limit)
        if hidden:
            query = query.where(_READ.c.checkpoint.not_in(sorted(hidden)))
        try:
            with self._engine.connect() as conn:
                if after is not None:
                    last = conn.execute(select(_READ.c.seen_at).where(_READ.c.id == after)).first()
                    if last is None:
                        raise RecordInvalid(f"the page cursor {after} names no read",
                                            zh="分页游标无效", field="cursor")  # fmt: skip
                    query = query.where(
                        or_(_READ.c.seen_at > last.seen_at,
                            and_(_READ.c.seen_at == last.seen_at, _READ.c.id > after))
                    )  # fmt: skip
                rows = list(conn.execute(query))
        except SQLAlchemyError as exc:
            raise StorageError(f"could not read plate reads: {exc.__class__.__name__}",
                               zh="无法读取车牌识别记录") from exc  # fmt: skip
        return [(r.id, PlateRead(r.checkpoint, r.plate, r.seen_at, r.confidence,
                                 ReadSource(r.source))) for r in rows]  # fmt: skip

    def reads(
        self,
        *,
        plate: str | None = None,
        checkpoint: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[PlateRead]:
        query = _filtered(plate, checkpoint, since, until)
        try:
            with self._engine.connect() as conn:
                rows = list(conn.execute(query))
        except SQLAlchemyError as exc:
            raise StorageError(f"could not read plate reads: {exc.__class__.__name__}",
                               zh="无法读取车牌识别记录") from exc  # fmt: skip
        return [PlateRead(r.checkpoint, r.plate, r.seen_at, r.confidence, ReadSource(r.source))
                for r in rows]  # fmt: skip

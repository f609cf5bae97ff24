"""The custody ledger in SQL, behind :class:`custody.ports.LedgerStore`.

One appender at a time: on PostgreSQL the append transaction locks the single
``ledger_state`` row (``SELECT ... FOR UPDATE``); on SQLite it starts with ``BEGIN IMMEDIATE``.
Everything an append writes (entries, nodes, heads, flags, state, checkpoint) commits
together or not at all, and rows are inserted in bulk, so a batch costs one lock and one
commit. Entries are never updated or deleted by this code.
"""

from __future__ import annotations

from contextlib import contextmanager
from datetime import UTC
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, insert, select, union, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from custody import _merkle
from custody.errors import AlreadyRegistered, StorageError
from custody.ports import AppendBatch, ChainFlag, LedgerState, StoredEntry
from storage._sql import among
from storage.engine import SQLITE_IMMEDIATE
from storage.tables import (
    LedgerCheckpointRow,
    LedgerContainerRow,
    LedgerEntryRow,
    LedgerFlagRow,
    LedgerNodeRow,
    LedgerParentRow,
    LedgerStateRow,
    metadata,
)

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence
    from datetime import datetime

    from sqlalchemy import CompoundSelect
    from sqlalchemy.engine import Connection, Engine

__all__ = ["SqlLedgerStore", "naming"]

# Core tables rather than ORM objects: appends insert in bulk with executemany.
_ENTRY = metadata.tables[LedgerEntryRow.__tablename__]
_CONTAINER = metadata.tables[LedgerContainerRow.__tablename__]
_NODE = metadata.tables[LedgerNodeRow.__tablename__]
_PARENT = metadata.tables[LedgerParentRow.__tablename__]
_STATE = metadata.tables[LedgerStateRow.__tablename__]
_CHECKPOINT = metadata.tables[LedgerCheckpointRow.__tablename__]
_FLAG = metadata.tables[LedgerFlagRow.__tablename__]
_ENTRY_COLUMNS = (_ENTRY.c.idx, _ENTRY.c.event_id, _ENTRY.c.event_hash, _ENTRY.c.entry,
                  _ENTRY.c.leaf_hash)  # fmt: skip


#: Perfect subtrees narrower than this are not stored: rebuilt from at most 7 leaf hashes,
#: they would otherwise cost more rows per append than the entries themselves.
_STORED_WIDTH = 16


def _level(lo: int, hi: int) -> tuple[int, int]:
    width = hi - lo
    level = width.bit_length() - 1
    if width != 1 << level or lo % width:
        raise StorageError(f"{lo}..{hi} is not a perfect subtree", zh="不是完整子树")
    return level, lo >> level


def _read_leaf_data(
    conn: Connection, stop: int, chunk: int, *, postgres: bool
) -> Iterator[list[tuple[int, bytes, bytes]]]:
    """The audit's read, on the driver's own cursor and one statement for every chunk.

    SQLAlchemy's rows cost twice the read itself (1.2 against 0.6 µs a row on SQLite), and
    PostgreSQL's binary result format sends every entry as stored instead of hex-encoding it
    on the server and decoding it here (1.7 against 0.7 µs a row).
    """
    driver: Any = conn.connection.driver_connection
    cursor = driver.cursor(binary=True) if postgres else driver.cursor()
    mark = "%s" if postgres else "?"
    query = (
        f"SELECT idx, entry, leaf_hash FROM {_ENTRY.name}"  # noqa: S608  # no outside input
        f" WHERE idx >= {mark} AND idx < {mark} ORDER BY idx"
    )
    try:
        for start in range(0, stop, chunk):
            cursor.execute(query, (start, min(stop, start + chunk)))
            yield cursor.fetchall()
    except conn.dialect.loaded_dbapi.Error as exc:  # the driver's own, not SQLAlchemy's
        raise StorageError(f"reading the ledger failed: {exc}", zh="读取账本失败") from exc
    finally:
        cursor.close()


def _peaks(blob: bytes) -> list[bytes]:
    return [blob[i : i + 32] for i in range(0, len(blob), 32)]


def _stored(row: Any) -> StoredEntry:  # noqa: ANN401  # a SQLAlchemy Row
    return StoredEntry(row.idx, row.event_id, bytes(row.event_hash), bytes(row.entry),
                       bytes(row.leaf_hash))  # fmt: skip


def naming(containers: Sequence[str]) -> CompoundSelect[tuple[int]]:
    """The indices of the entries in these containers' histories.

    Those naming them, and the consolidations that made them (a consolidation names its new
    container as parent, not among the containers whose chains it extends).
    """
    return union(
        select(_CONTAINER.c.idx).where(_CONTAINER.c.container.in_(containers)),
        select(_PARENT.c.idx).where(_PARENT.c.container.in_(containers)),
    )


class SqlLedgerStore:
    """The ledger's tables on SQLite or PostgreSQL."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._postgres = engine.dialect.name == "postgresql"

    @contextmanager
    def writer(self) -> Iterator[_SqlWriter]:
        try:
            with (
                self._engine.connect().execution_options(**{SQLITE_IMMEDIATE: True}) as conn,
                conn.begin(),
            ):
                writer = _SqlWriter(conn, lock=self._postgres)
                yield writer
        except IntegrityError as exc:
            raise AlreadyRegistered(
                "a concurrent append wrote the same entry first", zh="并发追加冲突，请重试"
            ) from exc
        except SQLAlchemyError as exc:
            raise StorageError(
                f"the ledger append failed and was rolled back: {exc.__class__.__name__}",
                zh="账本追加失败，已回滚",
            ) from exc

    def _read(self, query: Any) -> list[Any]:  # noqa: ANN401  # SQLAlchemy statements
        try:
            with self._engine.connect() as conn:
                return list(conn.execute(query))
        except SQLAlchemyError as exc:
            raise StorageError(f"reading the ledger failed: {exc}", zh="读取账本失败") from exc

    def state(self) -> LedgerState:
        (row,) = self._read(select(_STATE).where(_STATE.c.id == 1))
        return LedgerState(row.size, _peaks(bytes(row.peaks)),
                           None if row.checkpoint is None else bytes(row.checkpoint))  # fmt: skip

    def subtree(self, lo: int, hi: int) -> bytes:
        level, position = _level(lo, hi)
        if hi - lo < _STORED_WIDTH:  # small subtrees are rebuilt from their leaves
            query = (
                select(_ENTRY.c.leaf_hash)
                .where(_ENTRY.c.idx >= lo, _ENTRY.c.idx < hi)
                .order_by(_ENTRY.c.idx)
            )
            leaves = [bytes(row.leaf_hash) for row in self._read(query)]
            if len(leaves) != hi - lo:
                raise StorageError(f"leaves {lo}..{hi} are missing", zh="缺少叶子节点")
            return _merkle.root_from_leaf_hashes(leaves)
        rows = self._read(
            select(_NODE.c.hash).where(_NODE.c.level == level, _NODE.c.position == position)
        )
        if not rows:
            raise StorageError(f"no stored subtree {lo}..{hi}", zh="缺少子树节点")
        return bytes(rows[0].hash)

    def entry(self, index: int) -> StoredEntry | None:
        rows = self._read(select(*_ENTRY_COLUMNS).where(_ENTRY.c.idx == index))
        return _stored(rows[0]) if rows else None

    def entries(self, start: int, stop: int) -> list[StoredEntry]:
        query = (
            select(*_ENTRY_COLUMNS)
            .where(_ENTRY.c.idx >= start, _ENTRY.c.idx < stop)
            .order_by(_ENTRY.c.idx)
        )
        # Positional tuples: the audit reads every row, and Row attribute access costs double.
        return [StoredEntry(idx, event_id, bytes(event_hash), bytes(entry), bytes(leaf))
                for idx, event_id, event_hash, entry, leaf in self._read(query)]  # fmt: skip

    def leaf_data(self, stop: int, chunk: int) -> Iterator[list[tuple[int, bytes, bytes]]]:
        try:
            with self._engine.connect() as conn:
                yield from _read_leaf_data(conn, stop, chunk, postgres=self._postgres)
        except SQLAlchemyError as exc:
            raise StorageError(f"reading the ledger failed: {exc}", zh="读取账本失败") from exc

    def by_event_ids(self, event_ids: list[str]) -> dict[str, StoredEntry]:
        if not event_ids:
            return {}
        rows = self._read(select(*_ENTRY_COLUMNS).where(_ENTRY.c.event_id.in_(event_ids)))
        return {row.event_id: _stored(row) for row in rows}

    def device_counters(self, devices: list[str]) -> dict[str, int]:
        if not devices:
            return {}
        query = (
            select(_ENTRY.c.device, func.max(_ENTRY.c.counter).label("counter"))
            .where(_ENTRY.c.device.in_(devices))
            .group_by(_ENTRY.c.device)
        )
        return {row.device: row.counter for row in self._read(query)}

    def by_device_counter(self, device: str, counters: list[int]) -> dict[int, StoredEntry]:
        if not counters:
            return {}
        query = select(*_ENTRY_COLUMNS, _ENTRY.c.counter).where(
            _ENTRY.c.device == device, _ENTRY.c.counter.in_(counters)
        )
        return {row.counter: _stored(row) for row in self._read(query)}

    def container_entries(self, container: str) -> list[StoredEntry]:
        query = (
            select(*_ENTRY_COLUMNS)
            .where(_ENTRY.c.idx.in_(naming([container])))
            .order_by(_ENTRY.c.idx)
        )
        return [_stored(row) for row in self._read(query)]

    def checkpoints(self) -> list[tuple[int, bytes, bytes]]:
        query = select(_CHECKPOINT.c.size, _CHECKPOINT.c.root, _CHECKPOINT.c.note).order_by(
            _CHECKPOINT.c.size
        )
        return [(r.size, bytes(r.root), bytes(r.note)) for r in self._read(query)]

    def received_since(self, since: datetime) -> int:
        """How many entries the log received at or after ``since`` (the status page)."""
        query = select(func.count()).select_from(_ENTRY).where(_ENTRY.c.received_at >= since)
        (row,) = self._read(query)
        return int(row[0])

    def checkpoint_signed_at(self, size: int) -> datetime | None:
        """When the log signed its checkpoint at ``size`` (UTC), if it did."""
        rows = self._read(select(_CHECKPOINT.c.signed_at).where(_CHECKPOINT.c.size == size))
        if not rows:
            return None
        when: datetime = rows[0].signed_at
        return when if when.tzinfo else when.replace(tzinfo=UTC)  # SQLite keeps no zone

    def flags(self) -> list[ChainFlag]:
        query = select(_FLAG).order_by(_FLAG.c.idx, _FLAG.c.id)
        return [ChainFlag(r.kind, r.container, r.idx, bytes(r.claimed), bytes(r.head))
                for r in self._read(query)]  # fmt: skip

    def add_cosignatures(self, size: int, lines: bytes) -> bytes:
        try:
            with self._engine.begin() as conn:
                query = select(_CHECKPOINT.c.note).where(_CHECKPOINT.c.size == size)
                (row,) = conn.execute(query.with_for_update() if self._postgres else query)
                note = _with_lines(bytes(row.note), lines)
                conn.execute(
                    update(_CHECKPOINT).where(_CHECKPOINT.c.size == size).values(note=note)
                )
                conn.execute(
                    update(_STATE)
                    .where(_STATE.c.id == 1, _STATE.c.size == size)
                    .values(checkpoint=note)
                )
        except (SQLAlchemyError, ValueError) as exc:
            raise StorageError(
                f"could not store cosignatures: {exc}", zh="无法保存见证联署"
            ) from exc
        return note


def _with_lines(note: bytes, lines: bytes) -> bytes:
    """The note with new signature lines added (lines it already has are not repeated)."""
    have = set(note.splitlines())
    new = [line for line in lines.splitlines() if line and line not in have]
    return note + b"".join(line + b"\n" for line in new)


class _SqlWriter:
    """Inside the append transaction; the lock is taken before anything is read."""

    def __init__(self, conn: Connection, *, lock: bool) -> None:
        self._conn = conn
        query = select(_STATE).where(_STATE.c.id == 1)
        (self._row,) = conn.execute(query.with_for_update() if lock else query)

    def state(self) -> LedgerState:
        row = self._row
        return LedgerState(row.size, _peaks(bytes(row.peaks)),
                           None if row.checkpoint is None else bytes(row.checkpoint))  # fmt: skip

    def existing(self, event_ids: list[str]) -> dict[str, StoredEntry]:
        if not event_ids:
            return {}
        named = among(self._conn, _ENTRY.c.event_id, event_ids)
        rows = self._conn.execute(select(*_ENTRY_COLUMNS).where(named))
        return {row.event_id: _stored(row) for row in rows}

    def heads(self, containers: list[str]) -> dict[str, bytes]:
        # A container's head is its entry with the highest index: read through the primary
        # key (container, idx), so no separate table has to be written on every append.
        if not containers:
            return {}
        latest = (
            select(_CONTAINER.c.container, func.max(_CONTAINER.c.idx).label("idx"))
            .where(among(self._conn, _CONTAINER.c.container, containers))
            .group_by(_CONTAINER.c.container)
            .subquery()
        )
        query = select(_CONTAINER.c.container, _CONTAINER.c.event_hash).join(
            latest,
            (_CONTAINER.c.container == latest.c.container) & (_CONTAINER.c.idx == latest.c.idx),
        )
        return {row.container: bytes(row.event_hash) for row in self._conn.execute(query)}

    def known(self, container: str, event_hashes: list[bytes]) -> set[bytes]:
        query = select(_CONTAINER.c.event_hash).where(
            _CONTAINER.c.container == container, _CONTAINER.c.event_hash.in_(event_hashes)
        )
        return {bytes(row.event_hash) for row in self._conn.execute(query)}

    def write(self, batch: AppendBatch) -> None:
        entries, nodes, _heads, flags, state, root = batch  # heads: derived from containers
        conn = self._conn
        conn.execute(insert(_ENTRY), [
            {"idx": e.index, "event_id": e.event_id, "event_hash": e.event_hash,
             "leaf_hash": e.leaf_hash, "entry": e.entry, "received_at": e.received_at,
             "device": e.device, "counter": e.counter}
            for e in entries
        ])  # fmt: skip
        conn.execute(insert(_CONTAINER), [
            {"container": c, "idx": e.index, "event_hash": e.event_hash}
            for e in entries for c in e.containers
        ])  # fmt: skip
        if made := [{"container": e.parent, "idx": e.index} for e in entries if e.parent]:
            conn.execute(insert(_PARENT), made)
        inner = [(lo, hi, h) for lo, hi, h in nodes if hi - lo >= _STORED_WIDTH]
        if inner:
            conn.execute(insert(_NODE), [
                {"level": level, "position": position, "hash": h}
                for lo, hi, h in inner for level, position in [_level(lo, hi)]
            ])  # fmt: skip
        if flags:
            conn.execute(insert(_FLAG), [
                {"kind": f.kind, "container": f.container, "idx": f.index,
                 "claimed": f.claimed, "head": f.head}
                for f in flags
            ])  # fmt: skip
        conn.execute(
            update(_STATE)
            .where(_STATE.c.id == 1)
            .values(size=state.size, peaks=b"".join(state.peaks), checkpoint=state.checkpoint)
        )
        conn.execute(insert(_CHECKPOINT).values(size=state.size, root=root, note=state.checkpoint))

"""The outbox: every event this device signed, kept on disk until the ledger proves it holds it.

One SQLite file in WAL mode with ``synchronous=FULL``: when :meth:`Outbox.record` returns, the
signed event is on disk and survives a power cut. The device counter is allocated, the event
signed, and the row stored in **one** ``BEGIN IMMEDIATE`` transaction, so

* counters in the outbox are unique and strictly increasing in queue order, even with several
  processes scanning at once;
* a crash before the commit leaves no row and no used counter: the signature made in memory is
  lost with the process and was never sent, so the next event may take the same counter
  without anyone having seen two events under it.

An event's life: ``pending`` -> ``sent`` (the verified receipt stored) or ``refused`` (the
server's reason stored). Both end states are final. Rows are never deleted and their signed
bytes never change; triggers in the schema refuse it, so not even a bug here can. The exact
bytes that were signed are what is sent, hashed and kept: nothing is re-serialised.

Beside the events: the device counter, each container's latest event hash known here (what
the next event links back to), every log checkpoint seen and proved consistent, evidence of
any split view, and the trust bundles received.
"""

from __future__ import annotations

import base64
import enum
import json
import os
import sqlite3
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Self

from custody.errors import EventMalformed, StorageError
from custody.events import NO_PREVIOUS, read_event

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence
    from pathlib import Path

__all__ = [
    "Delivered",
    "EventState",
    "Outbox",
    "QueuedEvent",
    "Refusal",
    "SeenCheckpoint",
    "SplitView",
]

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE device_counter (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    last INTEGER NOT NULL CHECK (last >= 0)
);
INSERT INTO device_counter (id, last) VALUES (1, 0);

CREATE TABLE events (
    seq               INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id          TEXT    NOT NULL UNIQUE,
    device            TEXT    NOT NULL,
    counter           INTEGER NOT NULL UNIQUE,
    message           BLOB    NOT NULL,
    event_hash        BLOB    NOT NULL UNIQUE,
    step              TEXT    NOT NULL,
    containers        TEXT    NOT NULL,
    event_time        TEXT    NOT NULL,
    queued_at         TEXT    NOT NULL,
    state             TEXT    NOT NULL DEFAULT 'pending'
                      CHECK (state IN ('pending', 'sent', 'refused')),
    attempts          INTEGER NOT NULL DEFAULT 0,
    last_error        TEXT,
    receipt           TEXT,
    ledger_index      INTEGER,
    sent_at           TEXT,
    refusal_code      TEXT,
    refusal_detail    TEXT,
    refusal_detail_zh TEXT,
    refused_at        TEXT,
    CHECK ((state = 'sent') = (receipt IS NOT NULL)),
    CHECK ((state = 'refused') = (refusal_code IS NOT NULL))
);
CREATE INDEX events_by_state ON events (state, seq);

CREATE TRIGGER events_never_deleted BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'outbox events are never deleted'); END;
CREATE TRIGGER events_signed_bytes_fixed
BEFORE UPDATE OF event_id, device, counter, message, event_hash, step, containers, event_time
ON events
BEGIN SELECT RAISE(ABORT, 'a signed event never changes'); END;
CREATE TRIGGER events_end_states_final BEFORE UPDATE OF state ON events
WHEN OLD.state <> 'pending'
BEGIN SELECT RAISE(ABORT, 'sent and refused are final states'); END;

CREATE TABLE heads (
    container  TEXT PRIMARY KEY,
    event_hash BLOB NOT NULL CHECK (length(event_hash) = 32),
    seq        INTEGER REFERENCES events (seq),
    learned_at TEXT NOT NULL
);

CREATE TABLE checkpoints (
    size    INTEGER PRIMARY KEY,
    root    BLOB NOT NULL,
    note    BLOB NOT NULL,
    seen_at TEXT NOT NULL
);
CREATE TRIGGER checkpoints_kept BEFORE DELETE ON checkpoints
BEGIN SELECT RAISE(ABORT, 'checkpoints are kept'); END;
CREATE TRIGGER checkpoints_fixed BEFORE UPDATE ON checkpoints
BEGIN SELECT RAISE(ABORT, 'checkpoints are kept as seen'); END;

CREATE TABLE split_view (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    detected_at TEXT NOT NULL,
    old_note    BLOB NOT NULL,
    new_note    BLOB NOT NULL,
    proof       TEXT NOT NULL,
    reason      TEXT NOT NULL,
    reason_zh   TEXT NOT NULL
);
CREATE TRIGGER split_view_kept BEFORE DELETE ON split_view
BEGIN SELECT RAISE(ABORT, 'split-view evidence is kept'); END;
CREATE TRIGGER split_view_fixed BEFORE UPDATE ON split_view
BEGIN SELECT RAISE(ABORT, 'split-view evidence is kept as found'); END;

CREATE TABLE trust_bundles (
    version   INTEGER PRIMARY KEY,
    signed    BLOB NOT NULL,
    stored_at TEXT NOT NULL
);
CREATE TRIGGER trust_bundles_kept BEFORE DELETE ON trust_bundles
BEGIN SELECT RAISE(ABORT, 'trust bundles are kept'); END;
"""

_EVENT_COLUMNS = (
    "seq, event_id, device, counter, message, event_hash, step, containers, event_time, "
    "queued_at, state, attempts, last_error, receipt, ledger_index, sent_at, refusal_code, "
    "refusal_detail, refusal_detail_zh, refused_at"
)


def _now() -> datetime:
    return datetime.now(UTC)


def _text(when: datetime) -> str:
    return when.astimezone(UTC).isoformat(timespec="milliseconds")


def _time(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def _storage_error(exc: sqlite3.Error, path: Path) -> StorageError:
    return StorageError(
        f"the outbox {path} failed: {exc}",
        zh=f"本机待发送队列（{path}）读写失败：{exc}",
        path=str(path),
    )


class EventState(enum.StrEnum):
    """Where a queued event is in its life."""

    PENDING = "pending"  # signed and stored, not yet proved to be in the ledger
    SENT = "sent"  # in the ledger: its verified receipt is stored
    REFUSED = "refused"  # the server refused it: kept with the reason, never sent again

    @property
    def zh(self) -> str:
        """The state in Chinese."""
        return {"pending": "待发送", "sent": "已入账", "refused": "被拒收"}[self.value]


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why the server refused an event."""

    code: str
    detail: str
    detail_zh: str


@dataclass(frozen=True, slots=True)
class QueuedEvent:
    """One signed event in the outbox."""

    seq: int  # queue order: events are sent in this order
    event_id: str
    device: str
    counter: int
    message: bytes  # the exact COSE_Sign1 bytes the device signed
    event_hash: bytes
    step: str
    containers: tuple[str, ...]
    event_time: datetime
    queued_at: datetime
    state: EventState
    attempts: int
    last_error: str | None
    receipt: str | None  # the verified receipt, JSON as the server sent it
    ledger_index: int | None
    sent_at: datetime | None
    refusal: Refusal | None
    refused_at: datetime | None


@dataclass(frozen=True, slots=True)
class Delivered:
    """An event proved to be in the ledger: its verified receipt."""

    seq: int
    receipt: str  # JSON
    index: int


@dataclass(frozen=True, slots=True)
class SeenCheckpoint:
    """A signed log checkpoint this device has seen and proved consistent with the others."""

    size: int
    root: bytes
    note: bytes
    seen_at: datetime


@dataclass(frozen=True, slots=True)
class SplitView:
    """Evidence that the log showed this device two histories that cannot both be true."""

    id: int
    detected_at: datetime
    old_note: bytes
    new_note: bytes
    proof: tuple[bytes, ...]
    reason: str
    reason_zh: str


def _event(row: sqlite3.Row) -> QueuedEvent:
    refusal = (
        Refusal(row["refusal_code"], row["refusal_detail"], row["refusal_detail_zh"])
        if row["refusal_code"] is not None
        else None
    )
    event_time, queued_at = _time(row["event_time"]), _time(row["queued_at"])
    assert event_time is not None  # noqa: S101  # NOT NULL columns
    assert queued_at is not None  # noqa: S101
    return QueuedEvent(
        seq=row["seq"],
        event_id=row["event_id"],
        device=row["device"],
        counter=row["counter"],
        message=bytes(row["message"]),
        event_hash=bytes(row["event_hash"]),
        step=row["step"],
        containers=tuple(json.loads(row["containers"])),
        event_time=event_time,
        queued_at=queued_at,
        state=EventState(row["state"]),
        attempts=row["attempts"],
        last_error=row["last_error"],
        receipt=row["receipt"],
        ledger_index=row["ledger_index"],
        sent_at=_time(row["sent_at"]),
        refusal=refusal,
        refused_at=_time(row["refused_at"]),
    )


class Outbox:
    """The device's durable queue of signed events, and what it has learnt about the ledger.

    One instance per thread (SQLite connections are not shared); several processes may open
    the same file at once.
    """

    def __init__(self, path: Path, clock: Callable[[], datetime] = _now) -> None:
        self.path = path
        self._clock = clock
        try:
            if not path.exists():  # created private: only this account reads the scans
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
            self._db = sqlite3.connect(path, isolation_level=None, timeout=30)
        except (sqlite3.Error, OSError) as exc:
            raise StorageError(
                f"cannot open the outbox {path}: {exc}", zh=f"无法打开本机待发送队列 {path}"
            ) from exc
        try:
            self._db.row_factory = sqlite3.Row
            self._db.execute("PRAGMA busy_timeout = 30000")
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA synchronous = FULL")  # per connection: fsync every commit
            self._db.execute("PRAGMA foreign_keys = ON")
            self._migrate()
        except BaseException as exc:
            self._db.close()
            if isinstance(exc, sqlite3.Error):
                raise _storage_error(exc, path) from exc
            raise

    def _migrate(self) -> None:
        with self._write() as db:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version == SCHEMA_VERSION:
                return
            if version != 0:
                raise StorageError(
                    f"the outbox {self.path} has schema {version}; this software reads "
                    f"{SCHEMA_VERSION}",
                    zh=f"本机待发送队列的版本为 {version}，本软件只能读取第 {SCHEMA_VERSION} 版",
                )
            for statement in _statements(_SCHEMA):
                db.execute(statement)
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def close(self) -> None:
        """Close the database connection."""
        self._db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One exclusive write transaction: committed (and fsynced) or rolled back whole."""
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise _storage_error(exc, self.path) from exc
        try:
            yield self._db
        except BaseException:
            with suppress(sqlite3.Error):
                self._db.execute("ROLLBACK")
            raise
        try:
            self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            with suppress(sqlite3.Error):
                self._db.execute("ROLLBACK")
            raise _storage_error(exc, self.path) from exc

    def _read(self, sql: str, params: Sequence[object] = ()) -> list[sqlite3.Row]:
        try:
            return list(self._db.execute(sql, params))
        except sqlite3.Error as exc:
            raise _storage_error(exc, self.path) from exc

    @property
    def durability(self) -> tuple[str, int]:
        """The journal mode and ``synchronous`` level this connection runs with."""
        mode = self._read("PRAGMA journal_mode")[0][0]
        level = self._read("PRAGMA synchronous")[0][0]
        return str(mode), int(level)

    # -- recording ------------------------------------------------------------------------

    def record(
        self,
        device: str,
        containers: Sequence[str],
        sign: Callable[[int, tuple[bytes, ...]], bytes],
    ) -> QueuedEvent:
        """Allocate the next counter, sign, and store the event, all in one transaction.

        ``sign(counter, prev)`` gets the counter and, per container, the hash of the latest
        event known here (``NO_PREVIOUS`` when none is), and returns the signed event bytes.
        When this returns, the event is on disk; if anything fails before, nothing is kept
        and no counter is used.
        """
        try:
            with self._write() as db:
                counter = int(db.execute("SELECT last FROM device_counter").fetchone()[0]) + 1
                prev = tuple(self._head(db, c) or NO_PREVIOUS for c in containers)
                message = sign(counter, prev)
                _, signed = read_event(message)
                event = signed.event
                if (event.device, event.counter, event.containers, event.prev) != (
                    device,
                    counter,
                    tuple(containers),
                    prev,
                ):
                    raise EventMalformed(
                        "the signed event does not carry the device, counter and links the "
                        "outbox allocated",
                        zh="签名事件中的设备、计数器或前序链接与队列分配的不一致",
                    )
                now = _text(self._clock())
                cursor = db.execute(
                    "INSERT INTO events (event_id, device, counter, message, event_hash, step, "
                    "containers, event_time, queued_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (event.event_id, device, counter, message, signed.event_hash,
                     event.step.value, json.dumps(list(event.containers)),
                     _text(event.event_time), now),
                )  # fmt: skip
                seq = cursor.lastrowid
                db.execute("UPDATE device_counter SET last = ?", (counter,))
                for container in event.containers:
                    db.execute(
                        "INSERT INTO heads (container, event_hash, seq, learned_at) "
                        "VALUES (?, ?, ?, ?) ON CONFLICT (container) DO UPDATE SET "
                        "event_hash = excluded.event_hash, seq = excluded.seq, "
                        "learned_at = excluded.learned_at",
                        (container, signed.event_hash, seq, now),
                    )
        except sqlite3.Error as exc:
            raise _storage_error(exc, self.path) from exc
        assert seq is not None  # noqa: S101  # an INSERT sets it
        return self.get(seq)

    @staticmethod
    def _head(db: sqlite3.Connection, container: str) -> bytes | None:
        row = db.execute("SELECT event_hash FROM heads WHERE container = ?", (container,))
        found = row.fetchone()
        return None if found is None else bytes(found[0])

    # -- reading --------------------------------------------------------------------------

    def get(self, seq: int) -> QueuedEvent:
        """One event by its queue position."""
        rows = self._read(f"SELECT {_EVENT_COLUMNS} FROM events WHERE seq = ?", (seq,))  # noqa: S608  # fixed column list
        if not rows:
            raise StorageError(f"no outbox event {seq}", zh=f"队列中没有第 {seq} 个事件")
        return _event(rows[0])

    def events(self, state: EventState | None = None) -> list[QueuedEvent]:
        """Every event (or those in ``state``), in queue order."""
        if state is None:
            rows = self._read(f"SELECT {_EVENT_COLUMNS} FROM events ORDER BY seq")  # noqa: S608  # fixed column list
        else:
            rows = self._read(
                f"SELECT {_EVENT_COLUMNS} FROM events WHERE state = ? ORDER BY seq",  # noqa: S608  # fixed column list
                (state.value,),
            )
        return [_event(row) for row in rows]

    def pending(self, limit: int) -> list[QueuedEvent]:
        """The oldest ``limit`` events still to send, oldest first."""
        rows = self._read(
            f"SELECT {_EVENT_COLUMNS} FROM events WHERE state = 'pending' "  # noqa: S608  # fixed column list
            "ORDER BY seq LIMIT ?",
            (limit,),
        )
        return [_event(row) for row in rows]

    def counts(self) -> dict[EventState, int]:
        """How many events are in each state."""
        found = {
            row[0]: row[1] for row in self._read("SELECT state, count(*) FROM events GROUP BY 1")
        }
        return {state: int(found.get(state.value, 0)) for state in EventState}

    def last_counter(self) -> int:
        """The last device counter used (0 before the first event)."""
        return int(self._read("SELECT last FROM device_counter")[0][0])

    def recent_containers(self, limit: int) -> list[str]:
        """Containers most recently scanned or learnt about here, newest first."""
        rows = self._read(
            "SELECT container FROM heads ORDER BY learned_at DESC, container LIMIT ?", (limit,)
        )
        return [str(row[0]) for row in rows]

    def head(self, container: str) -> bytes | None:
        """The hash of the latest event of ``container`` known here, if any."""
        rows = self._read("SELECT event_hash FROM heads WHERE container = ?", (container,))
        return bytes(rows[0][0]) if rows else None

    # -- delivery -------------------------------------------------------------------------

    def mark_sent(self, delivered: Sequence[Delivered], checkpoint: SeenCheckpoint | None) -> int:
        """Store verified receipts (and the checkpoint they lead to) in one transaction.

        Returns how many events changed state; an event already sent or refused is left alone.
        """
        changed = 0
        try:
            with self._write() as db:
                if checkpoint is not None:
                    self._insert_checkpoint(db, checkpoint)
                now = _text(self._clock())
                for item in delivered:
                    cursor = db.execute(
                        "UPDATE events SET state = 'sent', receipt = ?, ledger_index = ?, "
                        "sent_at = ?, last_error = NULL WHERE seq = ? AND state = 'pending'",
                        (item.receipt, item.index, now, item.seq),
                    )
                    changed += cursor.rowcount
        except sqlite3.Error as exc:
            raise _storage_error(exc, self.path) from exc
        return changed

    def mark_refused(self, seq: int, refusal: Refusal) -> bool:
        """Keep a refused event with the server's reason; it is never sent again.

        Each container whose latest known event is this one goes back to the event before it,
        so the next scan does not link to an event the ledger will never hold.
        """
        try:
            with self._write() as db:
                cursor = db.execute(
                    "UPDATE events SET state = 'refused', refusal_code = ?, refusal_detail = ?, "
                    "refusal_detail_zh = ?, refused_at = ? WHERE seq = ? AND state = 'pending'",
                    (refusal.code, refusal.detail, refusal.detail_zh, _text(self._clock()), seq),
                )
                if cursor.rowcount == 0:
                    return False
                message = bytes(
                    db.execute("SELECT message FROM events WHERE seq = ?", (seq,)).fetchone()[0]
                )
                _, signed = read_event(message)
                for container in signed.event.containers:
                    self._unlink_head(db, container, seq, signed.event.prev_of(container))
        except sqlite3.Error as exc:
            raise _storage_error(exc, self.path) from exc
        return True

    def _unlink_head(
        self, db: sqlite3.Connection, container: str, seq: int, previous: bytes
    ) -> None:
        row = db.execute("SELECT seq FROM heads WHERE container = ?", (container,)).fetchone()
        if row is None or row[0] != seq:
            return  # a later event is the head now; it stays so
        if previous == NO_PREVIOUS:
            db.execute(
                "UPDATE heads SET event_hash = ?, seq = NULL, learned_at = ? WHERE container = ?",
                (NO_PREVIOUS, _text(self._clock()), container),
            )
            return
        own = db.execute("SELECT seq FROM events WHERE event_hash = ?", (previous,)).fetchone()
        db.execute(
            "UPDATE heads SET event_hash = ?, seq = ?, learned_at = ? WHERE container = ?",
            (previous, None if own is None else own[0], _text(self._clock()), container),
        )

    def note_failure(self, seqs: Sequence[int], error: str) -> None:
        """Count a failed delivery attempt for these events (they stay pending)."""
        try:
            with self._write() as db:
                db.executemany(
                    "UPDATE events SET attempts = attempts + 1, last_error = ? "
                    "WHERE seq = ? AND state = 'pending'",
                    [(error[:500], seq) for seq in seqs],
                )
        except sqlite3.Error as exc:
            raise _storage_error(exc, self.path) from exc

    def learn_head(self, container: str, event_hash: bytes) -> bool:
        """Take the ledger's latest event of ``container`` as what the next scan links to.

        Refused while one of this device's own events for the container is still pending:
        that one is newer than anything the ledger can show. Returns whether the head changed.
        """
        try:
            with self._write() as db:
                row = db.execute(
                    "SELECT h.event_hash, e.state FROM heads h LEFT JOIN events e "
                    "ON e.seq = h.seq WHERE h.container = ?",
                    (container,),
                ).fetchone()
                if row is not None and (
                    bytes(row[0]) == event_hash or row[1] == EventState.PENDING.value
                ):
                    return False
                own = db.execute(
                    "SELECT seq FROM events WHERE event_hash = ?", (event_hash,)
                ).fetchone()
                db.execute(
                    "INSERT INTO heads (container, event_hash, seq, learned_at) "
                    "VALUES (?, ?, ?, ?) ON CONFLICT (container) DO UPDATE SET "
                    "event_hash = excluded.event_hash, seq = excluded.seq, "
                    "learned_at = excluded.learned_at",
                    (container, event_hash, None if own is None else own[0],
                     _text(self._clock())),
                )  # fmt: skip
        except sqlite3.Error as exc:
            raise _storage_error(exc, self.path) from exc
        return True

    # -- the ledger as this device has seen it --------------------------------------------

    @staticmethod
    def _insert_checkpoint(db: sqlite3.Connection, checkpoint: SeenCheckpoint) -> None:
        db.execute(
            "INSERT INTO checkpoints (size, root, note, seen_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (size) DO NOTHING",
            (checkpoint.size, checkpoint.root, checkpoint.note, _text(checkpoint.seen_at)),
        )

    def record_checkpoint(self, checkpoint: SeenCheckpoint) -> None:
        """Keep a checkpoint proved consistent with those seen before."""
        try:
            with self._write() as db:
                self._insert_checkpoint(db, checkpoint)
        except sqlite3.Error as exc:
            raise _storage_error(exc, self.path) from exc

    def last_checkpoint(self) -> SeenCheckpoint | None:
        """The largest checkpoint seen, if any."""
        rows = self._read(
            "SELECT size, root, note, seen_at FROM checkpoints ORDER BY size DESC LIMIT 1"
        )
        if not rows:
            return None
        size, root, note, seen_at = rows[0]
        when = _time(seen_at)
        assert when is not None  # noqa: S101  # NOT NULL column
        return SeenCheckpoint(int(size), bytes(root), bytes(note), when)

    def record_split_view(
        self,
        old_note: bytes,
        new_note: bytes,
        proof: Sequence[bytes],
        reason: str,
        reason_zh: str,
    ) -> SplitView:
        """Keep the evidence of a split view: both signed notes and the proof offered."""
        encoded = json.dumps([base64.b64encode(p).decode() for p in proof])
        now = self._clock()
        try:
            with self._write() as db:
                cursor = db.execute(
                    "INSERT INTO split_view (detected_at, old_note, new_note, proof, reason, "
                    "reason_zh) VALUES (?, ?, ?, ?, ?, ?)",
                    (_text(now), old_note, new_note, encoded, reason, reason_zh),
                )
                row_id = cursor.lastrowid
        except sqlite3.Error as exc:
            raise _storage_error(exc, self.path) from exc
        assert row_id is not None  # noqa: S101  # an INSERT sets it
        return SplitView(row_id, now, old_note, new_note, tuple(proof), reason, reason_zh)

    def split_views(self) -> list[SplitView]:
        """Every split view recorded, oldest first."""
        rows = self._read(
            "SELECT id, detected_at, old_note, new_note, proof, reason, reason_zh "
            "FROM split_view ORDER BY id"
        )
        out = []
        for row_id, detected, old, new, proof, reason, reason_zh in rows:
            when = _time(detected)
            assert when is not None  # noqa: S101  # NOT NULL column
            hashes = tuple(base64.b64decode(p) for p in json.loads(proof))
            out.append(SplitView(row_id, when, bytes(old), bytes(new), hashes, reason, reason_zh))
        return out

    # -- trust bundles ----------------------------------------------------------------------

    def store_bundle(self, version: int, signed: bytes) -> bool:
        """Keep a verified trust bundle; returns whether it was new."""
        try:
            with self._write() as db:
                cursor = db.execute(
                    "INSERT INTO trust_bundles (version, signed, stored_at) VALUES (?, ?, ?) "
                    "ON CONFLICT (version) DO NOTHING",
                    (version, signed, _text(self._clock())),
                )
                return cursor.rowcount == 1
        except sqlite3.Error as exc:
            raise _storage_error(exc, self.path) from exc

    def latest_bundle(self) -> tuple[int, bytes] | None:
        """The newest trust bundle kept (version, signed bytes), if any."""
        rows = self._read("SELECT version, signed FROM trust_bundles ORDER BY version DESC LIMIT 1")
        return (int(rows[0][0]), bytes(rows[0][1])) if rows else None


def _statements(script: str) -> list[str]:
    """Split the schema into statements (triggers hold ``;`` inside ``BEGIN … END``)."""
    out: list[str] = []
    current: list[str] = []
    for line in script.strip().splitlines():
        current.append(line)
        text = "\n".join(current).strip()
        if text.endswith(";") and sqlite3.complete_statement(text):
            out.append(text)
            current = []
    return out

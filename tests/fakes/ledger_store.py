"""An in-memory LedgerStore with the same behaviour as the SQL one (one writer at a time)."""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import TYPE_CHECKING

from custody.errors import AlreadyRegistered, StorageError
from custody.ports import AppendBatch, ChainFlag, LedgerState, StoredEntry

if TYPE_CHECKING:
    from collections.abc import Iterator


class InMemoryLedgerStore:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._state = LedgerState(0, [], None)
        self._entries: list[StoredEntry] = []
        self._by_event: dict[str, StoredEntry] = {}
        self._by_container: dict[str, list[int]] = {}
        self._by_parent: dict[str, list[int]] = {}  # consolidations, by their new container
        self._heads: dict[str, bytes] = {}
        self._nodes: dict[tuple[int, int], bytes] = {}
        self._checkpoints: list[tuple[int, bytes, bytes]] = []
        self._flags: list[ChainFlag] = []
        self._by_device: dict[str, dict[int, StoredEntry]] = {}

    @contextmanager
    def writer(self) -> Iterator[_Writer]:
        with self._lock:
            writer = _Writer(self)
            yield writer
            writer.commit()

    def state(self) -> LedgerState:
        return LedgerState(self._state.size, list(self._state.peaks), self._state.checkpoint)

    def subtree(self, lo: int, hi: int) -> bytes:
        try:
            return self._nodes[lo, hi]
        except KeyError:
            raise StorageError(f"no stored subtree {lo}..{hi}") from None

    def entry(self, index: int) -> StoredEntry | None:
        return self._entries[index] if 0 <= index < len(self._entries) else None

    def entries(self, start: int, stop: int) -> list[StoredEntry]:
        return self._entries[start:stop]

    def leaf_data(self, stop: int, chunk: int) -> Iterator[list[tuple[int, bytes, bytes]]]:
        for start in range(0, stop, chunk):
            rows = self._entries[start : min(stop, start + chunk)]
            yield [(e.index, e.entry, e.leaf_hash) for e in rows]

    def by_event_ids(self, event_ids: list[str]) -> dict[str, StoredEntry]:
        return {e: self._by_event[e] for e in event_ids if e in self._by_event}

    def device_counters(self, devices: list[str]) -> dict[str, int]:
        return {d: max(self._by_device[d]) for d in devices if self._by_device.get(d)}

    def by_device_counter(self, device: str, counters: list[int]) -> dict[int, StoredEntry]:
        mine = self._by_device.get(device, {})
        return {c: mine[c] for c in counters if c in mine}

    def container_entries(self, container: str) -> list[StoredEntry]:
        named = {*self._by_container.get(container, []), *self._by_parent.get(container, [])}
        return [self._entries[i] for i in sorted(named)]

    def checkpoints(self) -> list[tuple[int, bytes, bytes]]:
        return list(self._checkpoints)

    def flags(self) -> list[ChainFlag]:
        return list(self._flags)

    def add_cosignatures(self, size: int, lines: bytes) -> bytes:
        with self._lock:
            i, (_, root, note) = next(
                (i, c) for i, c in enumerate(self._checkpoints) if c[0] == size
            )
            have = set(note.splitlines())
            note += b"".join(
                line + b"\n" for line in lines.splitlines() if line and line not in have
            )
            self._checkpoints[i] = (size, root, note)
            if self._state.size == size:
                self._state = LedgerState(size, self._state.peaks, note)
            return note

    # -- for tamper tests ------------------------------------------------------------------

    def replace_entry(self, index: int, entry: StoredEntry) -> None:
        self._entries[index] = entry


class _Writer:
    def __init__(self, store: InMemoryLedgerStore) -> None:
        self._store = store
        self._pending: AppendBatch | None = None

    def state(self) -> LedgerState:
        return self._store.state()

    def existing(self, event_ids: list[str]) -> dict[str, StoredEntry]:
        return {e: self._store._by_event[e] for e in event_ids if e in self._store._by_event}

    def heads(self, containers: list[str]) -> dict[str, bytes]:
        return {c: self._store._heads[c] for c in containers if c in self._store._heads}

    def known(self, container: str, event_hashes: list[bytes]) -> set[bytes]:
        mine = {
            self._store._entries[i].event_hash for i in self._store._by_container.get(container, [])
        }
        return mine & set(event_hashes)

    def write(self, batch: AppendBatch) -> None:
        self._pending = batch

    def commit(self) -> None:
        if self._pending is None:
            return
        entries, nodes, heads, flags, state, root = self._pending
        s = self._store
        for e in entries:  # the SQL store's unique (device, counter) index
            if e.counter in s._by_device.get(e.device, {}):
                raise AlreadyRegistered(f"device {e.device} counter {e.counter} used twice")
        for e in entries:
            stored = StoredEntry(e.index, e.event_id, e.event_hash, e.entry, e.leaf_hash)
            s._entries.append(stored)
            s._by_event[e.event_id] = stored
            s._by_device.setdefault(e.device, {})[e.counter] = stored
            for c in e.containers:
                s._by_container.setdefault(c, []).append(e.index)
            if e.parent is not None:
                s._by_parent.setdefault(e.parent, []).append(e.index)
        s._nodes.update({(lo, hi): h for lo, hi, h in nodes})
        s._heads.update(heads)
        s._flags.extend(flags)
        s._state = state
        s._checkpoints.append((state.size, root, state.checkpoint))

"""An in-memory TrackStore with the same behaviour as the SQL one."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from datetime import datetime

    from custody.tracks import GpsFix, Terminal


class InMemoryTrackStore:
    def __init__(self) -> None:
        self._lock = threading.Lock()  # the gateway calls from worker threads
        self.terminals: dict[str, Terminal] = {}
        self.fixes: dict[tuple[str, datetime], GpsFix] = {}

    def register_terminal(self, terminal: Terminal) -> tuple[Terminal, bool]:
        with self._lock:
            known = self.terminals.setdefault(terminal.phone, terminal)
        return known, known is terminal

    def get_terminal(self, phone: str) -> Terminal | None:
        return self.terminals.get(phone)

    def add_fixes(self, fixes: Sequence[GpsFix]) -> int:
        new = 0
        with self._lock:
            for fix in fixes:
                if (fix.terminal, fix.fix_time) not in self.fixes:
                    self.fixes[fix.terminal, fix.fix_time] = fix
                    new += 1
        return new

    def fixes_for_terminal(self, phone: str, start: datetime, end: datetime) -> list[GpsFix]:
        return self._window(lambda fix: fix.terminal == phone, start, end)

    def fixes_for_plate(self, plate: str, start: datetime, end: datetime) -> list[GpsFix]:
        return self._window(lambda fix: fix.plate == plate, start, end)

    def _window(
        self, match: Callable[[GpsFix], bool], start: datetime, end: datetime
    ) -> list[GpsFix]:
        with self._lock:
            chosen = [f for f in self.fixes.values() if match(f) and start <= f.fix_time < end]
        return sorted(chosen, key=lambda fix: (fix.fix_time, fix.terminal))

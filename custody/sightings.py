"""Camera plate reads (ANPR) at road checkpoints: where a vehicle was seen, and how sure.

A read is a fact a fixed camera reports; it is kept as reported (plate normalised, time in
UTC) and never merged with others. The route checks decide what a sequence of reads means.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol

from custody.errors import CustodyError, ReadsRefused, RecordInvalid
from custody.ingest import CLOCK_SLACK
from custody.plates import parse_plate

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from custody.registry import Registry

__all__ = ["PlateRead", "ReadSource", "SightingStore", "Sightings"]

MAX_READS = 10_000


class ReadSource(enum.StrEnum):
    """How a read reached us."""

    API = "api"  # pushed by the camera or its station
    FILE = "file"  # imported from an export file


@dataclass(frozen=True, slots=True)
class PlateRead:
    """One plate read at one checkpoint."""

    checkpoint: str
    plate: str
    seen_at: datetime
    confidence: float
    source: ReadSource = ReadSource.API

    def __post_init__(self) -> None:
        object.__setattr__(self, "plate", parse_plate(self.plate).text)
        object.__setattr__(self, "source", ReadSource(self.source))
        if self.seen_at.tzinfo is None:
            raise RecordInvalid("a read's time needs a time zone", zh="识别时间须带时区")
        try:
            object.__setattr__(self, "seen_at", self.seen_at.astimezone(UTC))
        except OverflowError:  # e.g. 0001-01-01T00:00+01:00 falls before year 1 in UTC
            raise RecordInvalid("a read's time is out of range in UTC",
                                zh="识别时间超出可表示范围") from None  # fmt: skip
        if not (math.isfinite(self.confidence) and 0 <= self.confidence <= 1):
            raise RecordInvalid(f"confidence {self.confidence} is not between 0 and 1",
                                zh=f"置信度 {self.confidence} 不在 0 到 1 之间")  # fmt: skip


class SightingStore(Protocol):
    """Plate reads, stored once each."""

    def add_reads(self, reads: Sequence[PlateRead]) -> int:
        """Store reads; one already stored (same checkpoint, plate and time) is skipped.

        Returns how many were new.
        """
        ...

    def reads(
        self,
        *,
        plate: str | None = None,
        checkpoint: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[PlateRead]:
        """Reads matching every filter given, by time."""
        ...


def _now() -> datetime:
    return datetime.now(UTC)


class Sightings:
    """Accepting plate reads: each names a registered checkpoint and a valid plate."""

    def __init__(
        self, store: SightingStore, registry: Registry, clock: Callable[[], datetime] = _now
    ) -> None:
        self._store = store
        self._registry = registry
        self._clock = clock

    def record(self, reads: Sequence[dict[str, object] | PlateRead]) -> tuple[int, int]:
        """Check every read, then store them all or none; returns (new, already stored).

        A bad read refuses the batch with each bad one named by its position.
        """
        if len(reads) > MAX_READS:
            raise ReadsRefused(f"at most {MAX_READS} reads per batch",
                                zh=f"每批最多 {MAX_READS} 条识别记录", reads=[])  # fmt: skip
        now, good, bad = self._clock(), [], []
        known: dict[str, bool] = {}
        for position, raw in enumerate(reads):
            try:
                read = raw if isinstance(raw, PlateRead) else _read(raw)
                if read.checkpoint not in known:
                    known[read.checkpoint] = self._is_checkpoint(read.checkpoint)
                if not known[read.checkpoint]:
                    raise RecordInvalid(f"checkpoint {read.checkpoint} is not registered",
                                        zh=f"卡口 {read.checkpoint} 未登记")  # fmt: skip
                if read.seen_at > now + CLOCK_SLACK:
                    raise RecordInvalid(f"read at {read.seen_at:%Y-%m-%d %H:%M}Z is in the future",
                                        zh="识别时间晚于当前时间")  # fmt: skip
                good.append(read)
            except CustodyError as exc:
                bad.append({"position": position, "code": exc.code, "detail": exc.message,
                            "detail_zh": exc.zh})  # fmt: skip
        if bad:
            raise ReadsRefused(
                f"{len(bad)} of {len(reads)} plate reads refused; none stored",
                zh=f"{len(reads)} 条识别记录中有 {len(bad)} 条被拒收，本批均未保存",
                reads=bad,
            )
        new = self._store.add_reads(good)
        return new, len(good) - new

    def _is_checkpoint(self, checkpoint_id: str) -> bool:
        try:
            self._registry.checkpoint(checkpoint_id)
        except CustodyError:
            return False
        return True


def _read(raw: dict[str, object]) -> PlateRead:
    try:
        seen = raw["seen_at"]
        when = seen if isinstance(seen, datetime) else datetime.fromisoformat(str(seen))
        confidence = raw.get("confidence", 1.0)
        if not isinstance(confidence, int | float | str):
            raise TypeError("confidence is not a number")  # noqa: TRY301  # reported below
        source = raw.get("source", ReadSource.API)
        return PlateRead(str(raw["checkpoint"]), str(raw["plate"]), when, float(confidence),
                         ReadSource(str(source)))  # fmt: skip
    except (KeyError, ValueError, TypeError) as exc:
        raise RecordInvalid(
            f"a plate read needs checkpoint, plate, seen_at (ISO 8601 with zone) "
            f"and confidence: {exc}",
            zh="识别记录须含卡口、号牌、时间和置信度",
        ) from None

"""Transfer manifests (电子转移联单): what a transfer declares before it happens.

The national system issues one manifest per vehicle trip per consignor: the generator, the
waste (codes, containers, declared mass), the transporter and its vehicles, the receiver and
the dates. The checker compares what the scans say happened with what the manifest declared.
The pickup and delivery points and the arrival deadline are what the route checks plan with.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol

from custody.credit_code import parse_credit_code
from custody.digital_id import parse_digital_id
from custody.errors import AlreadyRegistered, CustodyError, ManifestNotFound, RecordInvalid
from custody.plates import parse_plate
from custody.wastes import parse_waste_code

if TYPE_CHECKING:
    from custody.parties import WGS84Point

__all__ = ["ManifestStore", "Manifests", "TransferManifest"]

#: Believed from the rules: year (4), province (2), city (2), serial (6). Not yet checked
#: against the national system's text, so any 10-20 digit number is accepted.
_NUMBER = re.compile(r"\d{10,20}")
MAX_CONTAINERS = 5000


def _invalid(reason: str, zh: str, field: str) -> RecordInvalid:
    return RecordInvalid(reason, zh=zh, field=field)


def _utc(when: datetime | None, field: str) -> datetime | None:
    if when is None:
        return None
    if when.tzinfo is None:
        raise _invalid(f"{field} needs a time zone", f"{field} 须带时区", field)
    return when.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class TransferManifest:
    """One electronic transfer manifest: one vehicle trip of one consignor."""

    number: str
    generator: str
    transporter: str
    receiver: str
    vehicles: tuple[str, ...]
    waste_codes: tuple[str, ...]
    containers: tuple[str, ...]
    declared_mass_g: int
    created_at: datetime
    origin: WGS84Point | None = None  # where the load is picked up
    destination: WGS84Point | None = None  # the receiver's gate
    depart_after: datetime | None = None
    arrive_before: datetime | None = None  # the declared deadline for delivery

    def __post_init__(self) -> None:
        if not _NUMBER.fullmatch(self.number):
            raise _invalid(f"manifest number {self.number!r} is not 10-20 digits",
                           f"联单编号 {self.number!r} 不是 10 至 20 位数字", "number")  # fmt: skip
        try:
            for name in ("generator", "transporter", "receiver"):
                object.__setattr__(self, name, parse_credit_code(getattr(self, name)).text)
            plates = tuple(parse_plate(p).text for p in self.vehicles)
            codes = tuple(parse_waste_code(c) for c in self.waste_codes)
            ids = tuple(parse_digital_id(c).text for c in self.containers)
        except CustodyError as exc:
            raise _invalid(exc.message, exc.zh, "manifest") from exc
        if not plates or not codes:
            raise _invalid("a manifest names at least one vehicle and one waste code",
                           "联单须至少载明一辆车和一个废物代码", "vehicles")  # fmt: skip
        if len(ids) > MAX_CONTAINERS or len(set(ids)) != len(ids):
            raise _invalid(f"a manifest lists up to {MAX_CONTAINERS} distinct containers",
                           f"联单最多列 {MAX_CONTAINERS} 个不重复的容器", "containers")  # fmt: skip
        if not 0 < self.declared_mass_g <= 100_000_000:
            raise _invalid("declared mass must be 1 g to 100 t",
                           "申报重量须在 1 克至 100 吨之间", "declared_mass_g")  # fmt: skip
        object.__setattr__(self, "vehicles", plates)
        object.__setattr__(self, "waste_codes", codes)
        object.__setattr__(self, "containers", ids)
        object.__setattr__(self, "created_at", _utc(self.created_at, "created_at"))
        object.__setattr__(self, "depart_after", _utc(self.depart_after, "depart_after"))
        object.__setattr__(self, "arrive_before", _utc(self.arrive_before, "arrive_before"))
        if self.depart_after and self.arrive_before and self.arrive_before <= self.depart_after:
            raise _invalid("arrive_before must be after depart_after",
                           "到达期限须晚于起运时间", "arrive_before")  # fmt: skip


class ManifestStore(Protocol):
    """Storage of transfer manifests."""

    def insert_manifest(self, manifest: TransferManifest) -> None:
        """Store a new manifest; raise ``AlreadyRegistered`` if the number is taken."""
        ...

    def get_manifest(self, number: str) -> TransferManifest | None:
        """The manifest with this number."""
        ...

    def list_manifests(
        self, *, since: datetime | None = None, until: datetime | None = None
    ) -> list[TransferManifest]:
        """Manifests created in ``[since, until)``, by creation time then number."""
        ...

    def manifests_for_vehicle(
        self, plate: str, *, since: datetime | None = None, until: datetime | None = None
    ) -> list[TransferManifest]:
        """Manifests listing the (canonical) plate, created in ``[since, until)``, in order."""
        ...


class Manifests:
    """Recording manifests: the same manifest twice is one; a changed one is refused."""

    def __init__(self, store: ManifestStore) -> None:
        self._store = store

    def record(self, manifest: TransferManifest) -> tuple[TransferManifest, bool]:
        """Store the manifest; return it and whether it was new."""
        found = self._store.get_manifest(manifest.number)
        if found is None:
            try:
                self._store.insert_manifest(manifest)
            except AlreadyRegistered:  # the same number stored a moment ago by another request
                found = self._store.get_manifest(manifest.number)
            else:
                return manifest, True
        if found != manifest:
            raise AlreadyRegistered(
                f"manifest {manifest.number} is already recorded with other content",
                zh=f"联单 {manifest.number} 已登记且内容不同，已接收的联单不可更改",
            )
        return manifest, False

    def get(self, number: str) -> TransferManifest:
        """The manifest with this number, or ``ManifestNotFound``."""
        found = self._store.get_manifest(number)
        if found is None:
            raise ManifestNotFound(f"no transfer manifest {number} is recorded",
                                   zh=f"未登记编号为 {number} 的转移联单")  # fmt: skip
        return found

"""Bodies for transfer manifests and alerts, converted explicitly to and from the core."""

from __future__ import annotations

from datetime import datetime  # pydantic reads annotations at run time
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.times import Instant
from custody.alerts import Alert, AlertChange, AlertState, Severity
from custody.manifests import MAX_CONTAINERS, TransferManifest
from custody.parties import WGS84Point

__all__ = [
    "AlertChangeCreate",
    "AlertChangePublic",
    "AlertDetail",
    "AlertPage",
    "AlertPublic",
    "ManifestCreate",
    "ManifestPublic",
    "Point",
]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Point(_Body):
    """A point in WGS-84 (satellite positioning, OpenStreetMap), not GCJ-02 or BD-09."""

    lat: float = Field(ge=-90, le=90, examples=[30.657])
    lon: float = Field(ge=-180, le=180, examples=[104.066])

    def to_domain(self) -> WGS84Point:
        """The core point."""
        return WGS84Point(self.lat, self.lon)

    @classmethod
    def of(cls, point: WGS84Point | None) -> Self | None:
        """Render a core point."""
        return None if point is None else cls(lat=point.lat, lon=point.lon)


class ManifestCreate(_Body):
    """An electronic transfer manifest (电子转移联单): one vehicle trip of one consignor."""

    number: str = Field(examples=["20260351010000123"], description="联单编号：10 至 20 位数字")
    generator: str = Field(examples=["91510100MA61R8XQ02"], description="产废单位统一社会信用代码")
    transporter: str = Field(description="运输单位统一社会信用代码")
    receiver: str = Field(description="接收（利用处置）单位统一社会信用代码")
    vehicles: list[str] = Field(min_length=1, examples=[["川A12345"]])
    waste_codes: list[str] = Field(min_length=1, examples=[["900-041-49"]])
    containers: list[str] = Field(
        default_factory=list,
        max_length=MAX_CONTAINERS,
        description="Digital identification codes of the containers (HJ 1276-2022).",
    )
    declared_mass_g: int = Field(gt=0, le=100_000_000, description="申报重量（克）")
    created_at: Instant = Field(description="When the manifest was issued; ISO 8601 with zone.")
    origin: Point | None = Field(default=None, description="Pickup point, WGS-84.")
    destination: Point | None = Field(default=None, description="The receiver's gate, WGS-84.")
    depart_after: Instant | None = None
    arrive_before: Instant | None = Field(
        default=None, description="The declared deadline for delivery."
    )

    def to_domain(self) -> TransferManifest:
        """The core record (identifiers checked and normalised there)."""
        return TransferManifest(
            number=self.number,
            generator=self.generator,
            transporter=self.transporter,
            receiver=self.receiver,
            vehicles=tuple(self.vehicles),
            waste_codes=tuple(self.waste_codes),
            containers=tuple(self.containers),
            declared_mass_g=self.declared_mass_g,
            created_at=self.created_at,
            origin=self.origin.to_domain() if self.origin else None,
            destination=self.destination.to_domain() if self.destination else None,
            depart_after=self.depart_after,
            arrive_before=self.arrive_before,
        )


class ManifestPublic(ManifestCreate):
    """A recorded manifest: identifiers normalised, times in UTC."""

    @classmethod
    def of(cls, manifest: TransferManifest) -> Self:
        """Render a core record."""
        m = manifest
        return cls(
            number=m.number,
            generator=m.generator,
            transporter=m.transporter,
            receiver=m.receiver,
            vehicles=list(m.vehicles),
            waste_codes=list(m.waste_codes),
            containers=list(m.containers),
            declared_mass_g=m.declared_mass_g,
            created_at=m.created_at,
            origin=Point.of(m.origin),
            destination=Point.of(m.destination),
            depart_after=m.depart_after,
            arrive_before=m.arrive_before,
        )


class AlertPublic(BaseModel):
    """An alert with the evidence it rests on."""

    id: str = Field(examples=["AL-3f9a0c1d2e4b5a68"], description="Stable: rule and subject.")
    rule: str = Field(examples=["missing-handoff"])
    subject: str = Field(description="What the alert is about: a container, a manifest ...")
    severity: Severity
    severity_zh: str = Field(examples=["高"])
    state: AlertState
    state_zh: str = Field(examples=["待处理"])
    summary_zh: str
    summary: str
    start: datetime = Field(description="Start of the window the evidence spans (UTC).")
    end: datetime = Field(description="End of that window (UTC).")
    containers: list[str]
    vehicle: str | None
    parties: list[str]
    entries: list[int] = Field(description="Ledger indices of the events it rests on.")
    facts: dict[str, Any] = Field(description="Numbers and times the rule found.")
    raised_at: datetime | None

    @classmethod
    def of(cls, alert: Alert) -> Self:
        """Render a core alert."""
        a = alert
        return cls(
            id=a.alert_id,
            rule=a.rule,
            subject=a.subject,
            severity=a.severity,
            severity_zh=a.severity.zh,
            state=a.state,
            state_zh=a.state.zh,
            summary_zh=a.summary_zh,
            summary=a.summary,
            start=a.start,
            end=a.end,
            containers=list(a.containers),
            vehicle=a.vehicle,
            parties=list(a.parties),
            entries=list(a.entries),
            facts=a.facts,
            raised_at=a.raised_at,
        )


class AlertChangePublic(BaseModel):
    """One recorded change of an alert's state."""

    at: datetime
    by: str
    state: AlertState
    state_zh: str
    reason: str

    @classmethod
    def of(cls, change: AlertChange) -> Self:
        """Render a core change."""
        return cls(at=change.at, by=change.by, state=change.state, state_zh=change.state.zh,
                   reason=change.reason)  # fmt: skip


class AlertDetail(AlertPublic):
    """An alert and every change of its state, oldest first."""

    changes: list[AlertChangePublic]

    @classmethod
    def with_changes(cls, alert: Alert, changes: list[AlertChange]) -> Self:
        """Render a core alert with its history."""
        public = AlertPublic.of(alert).model_dump()
        return cls(**public, changes=[AlertChangePublic.of(c) for c in changes])


class AlertPage(BaseModel):
    """One page of alerts, most severe first, then the latest window, then id."""

    items: list[AlertPublic]
    next: str | None = Field(
        description="Pass as `cursor` for the next page; null on the last page."
    )


class AlertChangeCreate(_Body):
    """A person's decision about an alert."""

    state: AlertState = Field(description="acknowledged, dismissed, escalated or open (reopen).")
    by: str | None = Field(
        default=None,
        min_length=1,
        max_length=1000,
        description="Ignored: the change is recorded under the signed-in account (操作人).",
    )
    reason: str = Field(
        default="",
        max_length=1000,
        description="Why; required to dismiss or to reopen (排除或重新打开须填写理由).",
    )

"""Bodies of the officers' read queries: a container's timeline, a vehicle's trips, a balance.

Every time is ISO 8601 with its zone (UTC as stored); months are China's (UTC+8), as in
:func:`custody.rules.mass.monthly_balance`.
"""

from __future__ import annotations

from datetime import datetime  # pydantic reads annotations at run time
from typing import TYPE_CHECKING, Literal, Self

from pydantic import BaseModel, Field

from api.schemas.checker import AlertPublic, ManifestPublic, Point
from custody.history import JumpKind, Phase

if TYPE_CHECKING:
    from collections.abc import Sequence

    from custody.facts import Facts
    from custody.history import Jump, Record, Span
    from custody.rules.mass import BalanceRow
    from custody.sightings import PlateRead
    from routes.model import Fix

__all__ = [
    "AlertNearPage",
    "BalanceRowPublic",
    "JumpPublic",
    "LineString",
    "PartyBalance",
    "SightingPublic",
    "SpanPublic",
    "Timeline",
    "TimelineEvent",
    "TrackPublic",
    "TripPublic",
    "VehicleTrips",
]

#: A track keeps at most this many points; longer ones are thinned evenly, ends kept.
MAX_TRACK_POINTS = 5000

_PHASE_ZH = {Phase.AT_REST: "在库", Phase.IN_TRANSIT: "运输中", Phase.ENDED: "已终结"}
_JUMP_ZH = {JumpKind.MISSING_HANDOFF: "缺失交接", JumpKind.CONFLICT: "多方同时持有"}
_ROLE_ZH = {"generator": "产废单位", "disposer": "接收（利用处置）单位"}


def _name(facts: Facts, code: str | None) -> str | None:
    found = facts.parties.get(code) if code else None
    return found.name if found else None


class TimelineEvent(BaseModel):
    """One ledger event of the container, as an officer reads it."""

    index: int = Field(description="账本序号 · Ledger index.")
    event_time: datetime = Field(description="设备时间 · When the device says it happened.")
    received_at: datetime = Field(description="账本接收时间 · When the ledger received it.")
    event_id: str
    step: str = Field(examples=["loading"])
    step_zh: str = Field(examples=["装车"])
    party: str = Field(description="统一社会信用代码 · The acting party's credit code.")
    party_name: str | None = Field(description="登记名称；未登记为 null.")
    counterparty: str | None
    counterparty_name: str | None
    device: str
    vehicle: str | None
    read_point: str | None
    location: Point | None = Field(description="WGS-84.")
    mass_kg: float | None
    mass_source: str | None
    manifest: str | None
    containers: list[str]

    @classmethod
    def of(cls, record: Record, facts: Facts) -> Self:
        """Render a record with the registered names of its parties."""
        e = record.event
        return cls(
            index=record.index,
            event_time=e.event_time,
            received_at=record.received_at,
            event_id=e.event_id,
            step=e.step.value,
            step_zh=e.step.zh,
            party=e.party,
            party_name=_name(facts, e.party),
            counterparty=e.counterparty,
            counterparty_name=_name(facts, e.counterparty),
            device=e.device,
            vehicle=e.vehicle,
            read_point=e.read_point,
            location=Point(lat=e.location[0], lon=e.location[1]) if e.location else None,
            mass_kg=e.mass.grams / 1000 if e.mass else None,
            mass_source=e.mass.source.value if e.mass else None,
            manifest=e.manifest,
            containers=list(e.containers),
        )


class SpanPublic(BaseModel):
    """One party's custody of the container."""

    holder: str
    holder_name: str | None
    phase: Phase
    phase_zh: str = Field(examples=["运输中"])
    since: datetime
    until: datetime | None = Field(description="null: 当前持有 · still held.")
    opened_by: int = Field(description="开启该段的事件账本序号 · Ledger index.")

    @classmethod
    def of(cls, span: Span, facts: Facts) -> Self:
        """Render a span."""
        return cls(holder=span.holder, holder_name=_name(facts, span.holder), phase=span.phase,
                   phase_zh=_PHASE_ZH[span.phase], since=span.since, until=span.until,
                   opened_by=span.opened_by.index)  # fmt: skip


class JumpPublic(BaseModel):
    """Custody that changed hands with no transfer, or was claimed by two parties."""

    kind: JumpKind
    kind_zh: str = Field(examples=["缺失交接"])
    at: datetime = Field(description="跳变事件的设备时间 · Device time of the event.")
    index: int = Field(description="跳变事件的账本序号 · Ledger index of the event.")
    party: str = Field(description="跳变事件的操作单位 · Who acted.")
    party_name: str | None
    holder: str = Field(description="此前的持有单位 · Who held it before.")
    holder_name: str | None
    phase: Phase
    holder_since: int = Field(description="使其持有的事件账本序号 · Ledger index.")

    @classmethod
    def of(cls, jump: Jump, facts: Facts) -> Self:
        """Render a jump."""
        event = jump.record.event
        return cls(kind=jump.kind, kind_zh=_JUMP_ZH[jump.kind], at=event.event_time,
                   index=jump.record.index, party=event.party,
                   party_name=_name(facts, event.party), holder=jump.holder,
                   holder_name=_name(facts, jump.holder), phase=jump.phase,
                   holder_since=jump.since.index)  # fmt: skip


class Timeline(BaseModel):
    """A container's custody timeline: events in device-time order, spans, jumps, alerts."""

    container: str
    generator: str
    generator_name: str | None
    waste_code: str
    declared_kg: float
    events: list[TimelineEvent] = Field(description="按设备时间排序 · Device time, then index.")
    spans: list[SpanPublic]
    jumps: list[JumpPublic]
    alerts: list[AlertPublic] = Field(description="涉及该容器的告警（首页）· First page.")
    alerts_next: str | None = Field(
        description="更多告警：`GET /alerts?container=…&cursor=` 此值；null 即已全部列出。"
    )


class SightingPublic(BaseModel):
    """A plate read at a road checkpoint."""

    checkpoint: str
    seen_at: datetime
    confidence: float
    source: str

    @classmethod
    def of(cls, read: PlateRead) -> Self:
        """Render a read."""
        return cls(checkpoint=read.checkpoint, seen_at=read.seen_at,
                   confidence=read.confidence, source=read.source.value)  # fmt: skip


class LineString(BaseModel):
    """A GeoJSON LineString (RFC 7946), WGS-84 ``[lon, lat]``."""

    type: Literal["LineString"] = "LineString"
    coordinates: list[tuple[float, float]]


class TrackPublic(BaseModel):
    """The vehicle's GPS track in the trip's window."""

    geometry: LineString | None = Field(description="不足两个定位点时为 null.")
    fixes: int = Field(description="窗口内定位点总数 · Fixes in the window.")
    points: int = Field(description=f"线上的点数，至多 {MAX_TRACK_POINTS} · Points drawn.")
    thinned: bool = Field(description="定位点过多，已均匀抽稀 · Evenly thinned.")

    @classmethod
    def of(cls, fixes: Sequence[Fix]) -> Self:
        """Draw the fixes, thinned evenly (first and last kept) beyond the cap."""
        return cls.of_points([(f.lon, f.lat) for f in fixes])

    @classmethod
    def of_points(cls, points: Sequence[tuple[float, float]]) -> Self:
        """Draw WGS-84 ``(lon, lat)`` points, thinned evenly (first and last kept) past the cap."""
        count = len(points)
        line = list(points)
        if count > MAX_TRACK_POINTS:
            step = (count - 1) / (MAX_TRACK_POINTS - 1)
            line = [points[round(i * step)] for i in range(MAX_TRACK_POINTS)]
        geometry = LineString(coordinates=line) if len(line) >= 2 else None  # a line needs two
        return cls(geometry=geometry, fixes=count, points=len(line), thinned=len(line) < count)


class TripPublic(BaseModel):
    """One manifest the vehicle carried, with what the roads saw of it."""

    manifest: ManifestPublic
    started: datetime | None = Field(description="首次装车或出发；未开始为 null.")
    ended: datetime | None = Field(description="接收时间，或期限（未接收时）.")
    sightings: list[SightingPublic] = Field(description="窗口内该车牌的卡口识别记录.")
    track: TrackPublic


class VehicleTrips(BaseModel):
    """A page of a vehicle's trips, oldest manifest first, and the alerts naming it."""

    plate: str
    items: list[TripPublic]
    next: str | None = Field(description="作为 `cursor` 传回取下一页；null 为末页.")
    alerts: list[AlertPublic] = Field(description="车辆为该车牌的告警（首页）.")
    alerts_next: str | None = Field(
        description="更多告警：`GET /alerts?vehicle=…&cursor=` 此值；null 即已全部列出。"
    )


class BalanceRowPublic(BaseModel):
    """One month of a party in one role (see ``custody.rules.mass.BalanceRow``)."""

    month: str = Field(examples=["2026-03"], description="北京时间月份 · China's month.")
    role: Literal["generator", "disposer"]
    role_zh: str
    declared_kg: float
    moved_kg: float
    received_kg: float
    containers: int
    gap_kg: float = Field(description="申报减实收 · Declared minus received.")

    @classmethod
    def of(cls, row: BalanceRow) -> Self:
        """Render a row."""
        return cls(month=row.month, role=row.role, role_zh=_ROLE_ZH[row.role],
                   declared_kg=row.declared_g / 1000, moved_kg=row.moved_g / 1000,
                   received_kg=row.received_g / 1000, containers=row.containers,
                   gap_kg=(row.declared_g - row.received_g) / 1000)  # fmt: skip


class PartyBalance(BaseModel):
    """A party's monthly mass balance over the last months."""

    party: str
    name: str
    months: int
    since: datetime = Field(description="首月月初（北京时间） · Start of the first month.")
    as_of: datetime
    rows: list[BalanceRowPublic] = Field(description="按角色、月份排序 · By role, then month.")


class AlertNearPage(BaseModel):
    """One page of the alerts with a ledger event inside the box."""

    items: list[AlertPublic]
    next: str | None = Field(description="作为 `cursor` 传回取下一页；null 为末页.")
    scanned: int = Field(description="参与空间筛选的告警数 · Alerts looked at.")
    capped: bool = Field(description="筛选范围已达上限，更早的告警未查 · Hit the cap.")

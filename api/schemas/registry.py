"""Request and response bodies for the registry and reference data, converted explicitly."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Self

from pydantic import BaseModel, ConfigDict, Field

from custody.parties import (
    Checkpoint,
    CheckpointKind,
    DisposalMethod,
    OperatingLicence,
    Party,
    PartyRole,
    TransportPermit,
    Vehicle,
)
from routes.coords import CoordinateSystem, GivenCoordinate

if TYPE_CHECKING:
    from custody.wastes import WasteEntry

__all__ = [
    "CheckpointCreate",
    "CheckpointPublic",
    "LicenceCreate",
    "LicencePublic",
    "PartyCreate",
    "PartyPublic",
    "PermitCreate",
    "PermitPublic",
    "VehicleCreate",
    "VehiclePublic",
    "WasteEntryPublic",
]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PartyCreate(_Body):
    """A party to record. ``registered=false`` records a party that has no account yet."""

    credit_code: str = Field(examples=["91510100MA61R8XQ02"], description="统一社会信用代码")
    name: str = Field(examples=["成都某化工有限公司"])
    roles: list[PartyRole] = Field(min_length=1)
    address: str = ""
    contact: str = ""
    registered: bool = True

    def to_domain(self) -> Party:
        """The core record."""
        return Party(
            credit_code=self.credit_code,
            name=self.name,
            roles=frozenset(self.roles),
            address=self.address,
            contact=self.contact,
            registered=self.registered,
        )


class PartyPublic(_Body):
    """A recorded party."""

    credit_code: str
    name: str
    roles: list[PartyRole]
    address: str
    contact: str
    registered: bool
    division: str = Field(
        description="Administrative division code (GB/T 2260) from the credit code."
    )

    @classmethod
    def of(cls, party: Party) -> Self:
        """Render a core record."""
        return cls(
            credit_code=party.credit_code,
            name=party.name,
            roles=sorted(party.roles),
            address=party.address,
            contact=party.contact,
            registered=party.registered,
            division=party.division,
        )


class PermitCreate(_Body):
    """A road transport operating permit for dangerous goods (道路危险货物运输许可)."""

    number: str
    valid_from: date
    valid_to: date

    def to_domain(self, holder: str) -> TransportPermit:
        """The core record."""
        return TransportPermit(self.number, holder, self.valid_from, self.valid_to)


class PermitPublic(PermitCreate):
    """A recorded permit."""

    holder: str

    @classmethod
    def of(cls, permit: TransportPermit) -> Self:
        """Render a core record."""
        return cls(
            number=permit.number,
            holder=permit.holder,
            valid_from=permit.valid_from,
            valid_to=permit.valid_to,
        )


class LicenceCreate(_Body):
    """A hazardous waste operating licence (危险废物经营许可证)."""

    number: str
    scope: list[str] = Field(
        min_length=1, examples=[["HW08", "900-041-49"]], description="Codes or whole categories."
    )
    methods: list[DisposalMethod] = Field(min_length=1)
    capacity_t_per_year: float = Field(gt=0)
    valid_from: date
    valid_to: date

    def to_domain(self, holder: str) -> OperatingLicence:
        """The core record."""
        return OperatingLicence(
            number=self.number,
            holder=holder,
            scope=frozenset(self.scope),
            methods=frozenset(self.methods),
            capacity_t_per_year=self.capacity_t_per_year,
            valid_from=self.valid_from,
            valid_to=self.valid_to,
        )


class LicencePublic(LicenceCreate):
    """A recorded licence."""

    holder: str

    @classmethod
    def of(cls, licence: OperatingLicence) -> Self:
        """Render a core record."""
        return cls(
            number=licence.number,
            holder=licence.holder,
            scope=sorted(licence.scope),
            methods=sorted(licence.methods),
            capacity_t_per_year=licence.capacity_t_per_year,
            valid_from=licence.valid_from,
            valid_to=licence.valid_to,
        )


class VehicleCreate(_Body):
    """A dangerous-goods vehicle."""

    plate: str = Field(examples=["川A·12345"])
    operator: str = Field(description="Credit code of the transporter operating it.")
    transport_certificate: str = ""
    capacity_kg: int | None = Field(default=None, gt=0)

    def to_domain(self) -> Vehicle:
        """The core record."""
        return Vehicle(self.plate, self.operator, self.transport_certificate, self.capacity_kg)


class VehiclePublic(VehicleCreate):
    """A recorded vehicle; ``plate`` is normalised (no separator)."""

    @classmethod
    def of(cls, vehicle: Vehicle) -> Self:
        """Render a core record."""
        return cls(
            plate=vehicle.plate,
            operator=vehicle.operator,
            transport_certificate=vehicle.transport_certificate,
            capacity_kg=vehicle.capacity_kg,
        )


class _CheckpointFields(_Body):
    checkpoint_id: str = Field(examples=["CD-G5-K1234"])
    name: str
    kind: CheckpointKind
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    road: str = ""
    division: str = Field(
        default="",
        max_length=6,
        description="所在县级行政区划代码（GB/T 2260，六位），决定哪些辖区的民警可查看其"
        "车牌识别记录；为空则所有民警可查看。 The county or district it stands in: whose "
        "officers read its plate reads (every officer's when empty).",
        examples=["510112"],
    )


class CheckpointCreate(_CheckpointFields):
    """A checkpoint, in WGS-84 or as a Chinese map shows it (GCJ-02: AMap, Tencent; BD-09: Baidu).

    A point in GCJ-02 or BD-09 is converted to WGS-84 here, at the edge; the record keeps the
    point as it was given, as evidence.
    """

    crs: CoordinateSystem = Field(
        default=CoordinateSystem.WGS84,
        description=(
            "坐标系：WGS84（卫星定位、OpenStreetMap）、GCJ02（高德、腾讯）或 BD09（百度）。"
            " The system lat/lon are given in; WGS-84, GCJ-02 or BD-09 in the usual spellings."
        ),
        examples=["GCJ02"],
    )

    def to_domain(self) -> Checkpoint:
        """The core record: the WGS-84 location and the point as given."""
        point = GivenCoordinate.of(self.lon, self.lat, self.crs)
        return Checkpoint(
            checkpoint_id=self.checkpoint_id,
            name=self.name,
            kind=self.kind,
            location=point.location,
            road=self.road,
            given=point.given,
            division=self.division,
        )


class CheckpointPublic(_CheckpointFields):
    """A recorded checkpoint: ``lat``/``lon`` in WGS-84, ``source_*`` as originally given."""

    source_crs: str
    source_lat: float
    source_lon: float

    @classmethod
    def of(cls, checkpoint: Checkpoint) -> Self:
        """Render a core record."""
        return cls(
            checkpoint_id=checkpoint.checkpoint_id,
            name=checkpoint.name,
            kind=checkpoint.kind,
            lat=checkpoint.location.lat,
            lon=checkpoint.location.lon,
            road=checkpoint.road,
            division=checkpoint.division,
            source_crs=checkpoint.source.crs,
            source_lat=checkpoint.source.lat,
            source_lon=checkpoint.source.lon,
        )


class WasteEntryPublic(_Body):
    """One entry of the National Hazardous Waste List."""

    code: str = Field(examples=["900-041-49"])
    category: str = Field(examples=["HW49"])
    category_name: str = Field(examples=["其他废物"])
    industry: str
    description: str
    hazards: list[str] = Field(examples=[["T", "In"]])
    edition: str

    @classmethod
    def of(cls, entry: WasteEntry) -> Self:
        """Render a core record."""
        return cls(
            code=entry.code,
            category=entry.category,
            category_name=entry.category_name,
            industry=entry.industry,
            description=entry.description,
            hazards=[h.value for h in entry.hazards],
            edition=entry.edition,
        )

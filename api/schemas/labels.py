"""Request and response bodies for containers, labels, keys and trust bundles."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Self

from pydantic import BaseModel, ConfigDict, Field

from custody.containers import Container, ContainerType, NewContainer, PhysicalForm
from custody.keys import KeyRole, PublicKeyRecord

if TYPE_CHECKING:
    from custody.ports import IssuedLabel
    from labels.payload import VerifiedLabel

__all__ = [
    "ContainerCreate",
    "ContainerPublic",
    "KeyCreate",
    "KeyPublic",
    "KeyRevoke",
    "LabelBatch",
    "LabelPublic",
    "LabelText",
    "VerificationPublic",
]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ContainerCreate(_Body):
    """A container filled and sealed at a generator (产废单位)."""

    generator: str = Field(description="Credit code of the generating unit.")
    waste_code: str = Field(examples=["900-249-08"])
    generated_on: date
    form: PhysicalForm
    container_type: ContainerType
    capacity_l: float = Field(gt=0, le=100_000, description="Decides the label size.")
    declared_net_mass_kg: float = Field(gt=0, le=100_000)
    seal_no: str = ""
    waste_name: str = Field(default="", examples=["废机油"])
    main_components: str = ""
    harmful_components: str = ""
    precautions: str = ""
    contact: str = ""
    remarks: str = ""

    def to_domain(self) -> NewContainer:
        """The core record (mass kept in whole grams)."""
        return NewContainer(
            generator=self.generator,
            waste_code=self.waste_code,
            generated_on=self.generated_on,
            form=self.form,
            container_type=self.container_type,
            capacity_l=self.capacity_l,
            declared_net_mass_g=round(self.declared_net_mass_kg * 1000),
            seal_no=self.seal_no,
            waste_name=self.waste_name,
            main_components=self.main_components,
            harmful_components=self.harmful_components,
            precautions=self.precautions,
            contact=self.contact,
            remarks=self.remarks,
        )


class ContainerPublic(_Body):
    """A registered container."""

    digital_id: str
    generator: str
    waste_code: str
    category: str
    edition: str
    generated_on: date
    sequence: int
    form: PhysicalForm
    container_type: ContainerType
    capacity_l: float
    declared_net_mass_kg: float
    seal_no: str
    waste_name: str

    @classmethod
    def of(cls, container: Container) -> Self:
        """Render a core record."""
        ident, facts = container.digital_id, container.facts
        return cls(
            digital_id=ident.text,
            generator=ident.unit_code,
            waste_code=ident.waste_code,
            category=container.waste.category,
            edition=container.edition,
            generated_on=ident.day,
            sequence=ident.sequence,
            form=facts.form,
            container_type=facts.container_type,
            capacity_l=facts.capacity_l,
            declared_net_mass_kg=facts.declared_net_mass_g / 1000,
            seal_no=facts.seal_no,
            waste_name=container.waste_name,
        )


class LabelPublic(_Body):
    """A minted label: the QR text and who signed it when."""

    digital_id: str
    key: str
    issued_at: datetime
    text: str = Field(description="The QR content: WL1: + Base45(COSE_Sign1).")

    @classmethod
    def of(cls, label: IssuedLabel) -> Self:
        """Render a core record."""
        return cls(
            digital_id=label.digital_id,
            key=label.key_name,
            issued_at=label.issued_at,
            text=label.text,
        )


class LabelBatch(_Body):
    """Several containers at once."""

    containers: list[str] = Field(min_length=1, max_length=1000)


class LabelText(_Body):
    """A label's QR content as scanned."""

    text: str = Field(max_length=2000)


class VerificationPublic(_Body):
    """A label that verified: its signed facts, and the key and bundle that vouched for it."""

    genuine: bool = True
    digital_id: str
    generator: str
    waste_code: str
    edition: str
    hazards: list[str]
    form: str
    issued_at: datetime
    declared_net_mass_kg: float
    container_type: str
    seal_no: str
    key: str
    bundle_version: int

    @classmethod
    def of(cls, verified: VerifiedLabel) -> Self:
        """Render a verification result."""
        p = verified.payload
        return cls(
            digital_id=p.digital_id.text,
            generator=p.digital_id.unit_code,
            waste_code=p.digital_id.waste_code,
            edition=p.edition,
            hazards=sorted(h.value for h in p.hazards),
            form=p.form.value,
            issued_at=p.issued_at,
            declared_net_mass_kg=p.net_mass_g / 1000,
            container_type=p.container_type.value,
            seal_no=p.seal_no,
            key=verified.key.name,
            bundle_version=verified.bundle_version,
        )


class KeyCreate(_Body):
    """A new signing key for a party."""

    owner: str = Field(description="Credit code of the party that will hold the key.")
    role: KeyRole = KeyRole.LABEL_ISSUER
    valid_days: int = Field(default=366, ge=1, le=3653)


class KeyRevoke(_Body):
    """Why a key is revoked."""

    reason: str = Field(min_length=1, max_length=200)


class KeyPublic(_Body):
    """A key's public record: never its private half."""

    name: str
    kid: str
    owner: str
    role: KeyRole
    public_key: str = Field(description="Signed-note verifier key: name+kid+base64.")
    valid_from: datetime
    valid_until: datetime
    revoked_at: datetime | None
    revocation_reason: str

    @classmethod
    def of(cls, record: PublicKeyRecord) -> Self:
        """Render a core record."""
        return cls(
            name=record.name,
            kid=record.kid.hex(),
            owner=record.owner,
            role=record.role,
            public_key=str(record.verifier_key),
            valid_from=record.valid_from,
            valid_until=record.valid_until,
            revoked_at=record.revoked_at,
            revocation_reason=record.revocation_reason,
        )

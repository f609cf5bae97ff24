"""Containers of hazardous waste: what is fixed when a drum is filled and sealed.

A container is known by its HJ 1276-2022 digital identification code. Its facts (waste,
form, declared mass, seal) never change after registration; where it is and who holds it
live in the custody ledger.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from custody.credit_code import parse_credit_code
from custody.digital_id import DigitalId
from custody.errors import AlreadyRegistered, ContainerNotFound, RecordInvalid
from custody.parties import PartyRole
from custody.wastes import WasteEntry, parse_waste_code, resolve_waste_code

if TYPE_CHECKING:
    from datetime import date

    from custody.ports import ContainerStore
    from custody.registry import Registry

__all__ = ["Container", "ContainerType", "Containers", "NewContainer", "PhysicalForm"]

_MAX_SEQUENCE_TRIES = 5


class PhysicalForm(enum.StrEnum):
    """Physical form (形态) as written on forms and labels."""

    SOLID = "S"  # 固态
    SEMI_SOLID = "SS"  # 半固态
    LIQUID = "L"  # 液态
    GAS = "G"  # 气态（容器盛装）


class ContainerType(enum.StrEnum):
    """Kinds of container, as short codes that cost few bytes in a label."""

    DRUM = "DR"  # 桶
    IBC = "IBC"  # 吨桶（中型散装容器）
    BAG = "BG"  # 袋 / 吨袋
    BOX = "BX"  # 箱
    TANK = "TK"  # 罐
    BOTTLE = "BT"  # 瓶
    OTHER = "OT"  # 其他

    @property
    def zh(self) -> str:
        """The Chinese name."""
        return _CONTAINER_ZH[self]


_CONTAINER_ZH = {
    ContainerType.DRUM: "桶",
    ContainerType.IBC: "吨桶",
    ContainerType.BAG: "袋",
    ContainerType.BOX: "箱",
    ContainerType.TANK: "罐",
    ContainerType.BOTTLE: "瓶",
    ContainerType.OTHER: "其他",
}


def _short(value: str, what: str, limit: int) -> str:
    cleaned = " ".join(value.split())
    if len(cleaned) > limit:
        raise RecordInvalid(
            f"{what} is longer than {limit} characters",
            zh=f"{what}超过 {limit} 个字符",
            field=what,
        )
    return cleaned


@dataclass(frozen=True, slots=True)
class NewContainer:
    """What a generator declares when it fills and seals a container."""

    generator: str
    waste_code: str
    generated_on: date
    form: PhysicalForm
    container_type: ContainerType
    capacity_l: float
    declared_net_mass_g: int
    seal_no: str = ""
    waste_name: str = ""
    main_components: str = ""
    harmful_components: str = ""
    precautions: str = ""
    contact: str = ""
    remarks: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "generator", parse_credit_code(self.generator).text)
        object.__setattr__(self, "waste_code", parse_waste_code(self.waste_code))
        try:
            object.__setattr__(self, "form", PhysicalForm(self.form))
            object.__setattr__(self, "container_type", ContainerType(self.container_type))
        except ValueError:
            raise RecordInvalid(
                f"form must be one of {', '.join(PhysicalForm)} and container type one of "
                f"{', '.join(ContainerType)}",
                zh="形态或容器类型取值无效",
                field="form",
            ) from None
        if not (math.isfinite(self.capacity_l) and 0 < self.capacity_l <= 100_000):
            raise RecordInvalid(
                f"capacity must be between 0 and 100000 L, not {self.capacity_l}",
                zh=f"容积须在 0 至 100000 升之间，而不是 {self.capacity_l}",
                field="capacity_l",
            )
        if not 0 < self.declared_net_mass_g <= 100_000_000:
            raise RecordInvalid(
                f"declared net mass must be 1 g to 100 t, not {self.declared_net_mass_g} g",
                zh=f"申报净重须在 1 克至 100 吨之间，而不是 {self.declared_net_mass_g} 克",
                field="declared_net_mass_g",
            )
        object.__setattr__(self, "seal_no", _short(self.seal_no, "seal number", 32))
        for name in ("waste_name", "main_components", "harmful_components", "precautions",
                     "contact", "remarks"):  # fmt: skip
            object.__setattr__(self, name, _short(getattr(self, name), name, 200))


@dataclass(frozen=True, slots=True)
class Container:
    """A registered container: its identity, its waste (with the list edition) and its facts."""

    digital_id: DigitalId
    edition: str
    facts: NewContainer

    @property
    def waste(self) -> WasteEntry:
        """The list entry of its waste code, in the edition it was coded under."""
        return resolve_waste_code(self.digital_id.waste_code, self.edition)

    @property
    def waste_name(self) -> str:
        """The name on the label: the generator's, or the list's description."""
        return self.facts.waste_name or self.waste.description


class Containers:
    """Registering containers: checks the generator and waste code, numbers the container."""

    def __init__(self, store: ContainerStore, registry: Registry, edition: str) -> None:
        self._store = store
        self._registry = registry
        self._edition = edition

    def register(self, new: NewContainer) -> Container:
        """Give the container the next sequence number of its generator, waste and day."""
        generator = self._registry.party(new.generator)
        if PartyRole.GENERATOR not in generator.roles:
            raise RecordInvalid(
                f"{generator.name} is not registered as a waste generator",
                zh=f"{generator.name} 未登记为产废单位",
                field="generator",
            )
        entry = resolve_waste_code(new.waste_code, self._edition)
        for _ in range(_MAX_SEQUENCE_TRIES):
            sequence = (
                self._store.last_sequence(generator.credit_code, entry.code, new.generated_on) + 1
            )
            ident = DigitalId(generator.credit_code, entry.code, new.generated_on, sequence)
            container = Container(ident, entry.edition, new)
            try:
                self._store.insert_container(container)
            except AlreadyRegistered:
                continue  # another writer took this number; take the next one
            return container
        raise AlreadyRegistered(
            "could not number the container: too many concurrent registrations",
            zh="并发登记过多，未能分配容器顺序码，请重试",
        )

    def get(self, digital_id: str) -> Container:
        """The container with this code, or ``ContainerNotFound``."""
        found = self._store.get_container(digital_id)
        if found is None:
            raise ContainerNotFound(
                f"no container {digital_id} is registered",
                zh=f"未登记数字识别码为 {digital_id} 的容器",
                digital_id=digital_id,
            )
        return found

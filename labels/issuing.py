"""Issuing labels for registered containers, and assembling what a printed label shows."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from custody.errors import ContainerNotFound
from custody.keys import KeyRole
from custody.ports import IssuedLabel
from labels.payload import LabelPayload, mint
from labels.printed import PrintedLabel

if TYPE_CHECKING:
    from custody.containers import Container, Containers
    from custody.keyring import Keyring
    from custody.ports import ContainerStore
    from custody.registry import Registry

__all__ = ["LabelIssuer"]


class LabelIssuer:
    """Mints signed labels with the generator's label key and keeps every label minted."""

    def __init__(
        self,
        containers: Containers,
        store: ContainerStore,
        keyring: Keyring,
        registry: Registry,
        *,
        public_url: str = "",
    ) -> None:
        """``public_url``: base of the public check page printed QRs link to ("" for none)."""
        self.containers = containers
        self._store = store
        self._keyring = keyring
        self._registry = registry
        self._public_url = public_url

    def issue(self, digital_id: str, now: datetime | None = None) -> IssuedLabel:
        """Sign a new label for a container with its generator's active label key."""
        container = self.containers.get(digital_id)
        when = (now or datetime.now(UTC)).replace(microsecond=0)
        key = self._keyring.active(container.digital_id.unit_code, KeyRole.LABEL_ISSUER, when)
        text = mint(LabelPayload.of(container, when), key)
        label = IssuedLabel(container.digital_id.text, key.record.name, when, text)
        self._store.insert_label(label)
        return label

    def latest(self, digital_id: str) -> IssuedLabel:
        """The newest label minted for a container."""
        container = self.containers.get(digital_id)
        labels = self._store.labels_of(container.digital_id.text)
        if not labels:
            raise ContainerNotFound(
                f"no label has been minted for container {digital_id} yet",
                zh=f"容器 {digital_id} 尚未生成标签",
                digital_id=digital_id,
            )
        return labels[-1]

    def printed(self, digital_id: str) -> PrintedLabel:
        """What the newest label of a container shows on paper."""
        label = self.latest(digital_id)
        return self.printed_for(self.containers.get(digital_id), label)

    def printed_for(self, container: Container, label: IssuedLabel) -> PrintedLabel:
        """What ``label`` of ``container`` shows on paper."""
        generator = self._registry.party(container.digital_id.unit_code)
        facts, waste = container.facts, container.waste
        return PrintedLabel(
            qr_text=label.text,
            digital_id=container.digital_id.text,
            waste_name=container.waste_name,
            category=waste.category,
            category_name=waste.category_name,
            waste_code=waste.code,
            form=facts.form.value,
            hazards=tuple(h.value for h in waste.hazards),
            main_components=facts.main_components,
            harmful_components=facts.harmful_components,
            precautions=facts.precautions,
            generator_name=generator.name,
            generator_contact=facts.contact or generator.contact,
            generated_on=container.digital_id.day,
            net_mass_kg=facts.declared_net_mass_g / 1000,
            capacity_l=facts.capacity_l,
            remarks=facts.remarks,
            public_url=self._public_url,
        )

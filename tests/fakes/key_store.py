"""In-memory KeyStore and ContainerStore with the same behaviour as the SQL ones."""

from __future__ import annotations

from typing import TYPE_CHECKING

from custody.errors import AlreadyRegistered

if TYPE_CHECKING:
    from collections.abc import Collection
    from datetime import date, datetime

    from custody.containers import Container
    from custody.keys import PublicKeyRecord
    from custody.ports import IssuedLabel


class InMemoryKeyStore:
    def __init__(self) -> None:
        self.keys: dict[str, tuple[PublicKeyRecord, bytes | None]] = {}
        self.bundles: dict[int, tuple[datetime, bytes]] = {}

    def insert_key(self, record: PublicKeyRecord, encrypted_private: bytes | None) -> None:
        if record.name in self.keys:
            raise AlreadyRegistered(record.name)
        self.keys[record.name] = (record, encrypted_private)

    def get_key(self, name: str) -> tuple[PublicKeyRecord, bytes | None] | None:
        return self.keys.get(name)

    def list_keys(self) -> list[PublicKeyRecord]:
        return [record for _, (record, _) in sorted(self.keys.items())]

    def mark_revoked(self, record: PublicKeyRecord) -> None:
        self.keys[record.name] = (record, self.keys[record.name][1])

    def insert_bundle(self, version: int, issued_at: datetime, signed: bytes) -> None:
        if version in self.bundles:
            raise AlreadyRegistered(str(version))
        self.bundles[version] = (issued_at, signed)

    def latest_bundle_version(self) -> int | None:
        return max(self.bundles, default=None)

    def latest_bundle(self) -> tuple[int, bytes] | None:
        if not self.bundles:
            return None
        version = max(self.bundles)
        return version, self.bundles[version][1]


class InMemoryContainerStore:
    def __init__(self) -> None:
        self.containers: dict[str, Container] = {}
        self.labels: list[IssuedLabel] = []

    def last_sequence(self, generator: str, waste_code: str, day: date) -> int:
        return max(
            (
                c.digital_id.sequence
                for c in self.containers.values()
                if (c.digital_id.unit_code, c.digital_id.waste_code, c.digital_id.day)
                == (generator, waste_code, day)
            ),
            default=0,
        )

    def insert_container(self, container: Container) -> None:
        if container.digital_id.text in self.containers:
            raise AlreadyRegistered(container.digital_id.text)
        self.containers[container.digital_id.text] = container

    def get_container(self, digital_id: str) -> Container | None:
        return self.containers.get(digital_id)

    def get_containers(self, digital_ids: Collection[str]) -> dict[str, Container]:
        return {c: self.containers[c] for c in digital_ids if c in self.containers}

    def insert_label(self, label: IssuedLabel) -> None:
        self.labels.append(label)

    def labels_of(self, digital_id: str) -> list[IssuedLabel]:
        return [label for label in self.labels if label.digital_id == digital_id]

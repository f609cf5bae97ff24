"""An in-memory DeviceStore with the same behaviour as the SQL one."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from custody.errors import AlreadyRegistered

if TYPE_CHECKING:
    from custody.devices import Anomaly, Device


class InMemoryDeviceStore:
    def __init__(self) -> None:
        self._devices: dict[str, Device] = {}
        self._anomalies: list[Anomaly] = []

    def insert_device(self, device: Device) -> None:
        if device.name in self._devices:
            raise AlreadyRegistered(f"device {device.name} is already registered")
        self._devices[device.name] = device

    def get_device(self, name: str) -> Device | None:
        return self._devices.get(name)

    def devices_of(self, owner: str) -> list[Device]:
        return sorted((d for d in self._devices.values() if d.owner == owner),
                      key=lambda d: d.name)  # fmt: skip

    def add_anomalies(self, anomalies: list[Anomaly]) -> int:
        have = {(a.kind, a.event_id) for a in self._anomalies}
        new = 0
        for anomaly in anomalies:
            if (anomaly.kind, anomaly.event_id) not in have:
                have.add((anomaly.kind, anomaly.event_id))
                self._anomalies.append(replace(anomaly, detected_at=datetime.now(UTC)))
                new += 1
        return new

    def anomalies(self, device: str | None = None) -> list[Anomaly]:
        return [a for a in self._anomalies if device is None or a.device == device]

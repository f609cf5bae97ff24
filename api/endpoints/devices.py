"""Scanners: enrol a device's own key, look devices up, revoke them, see their anomalies."""

from __future__ import annotations

import base64
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status

from api.auth import allow, require_party_match, writer
from api.endpoints.deps import DevicesDep, DeviceStoreDep, KeyringDep
from api.schemas.devices import AnomalyPublic, DeviceEnroll, DevicePublic
from api.schemas.labels import KeyRevoke
from custody.access import OFFICER_ROLES, PARTY_ROLES, Principal
from custody.credit_code import parse_credit_code
from custody.errors import DeviceUnknown, RecordInvalid

router = APIRouter(tags=["devices"])

#: A party enrols and revokes its own scanners.
KeeperDep = Annotated[Principal, Depends(writer(*PARTY_ROLES))]
#: Its devices are seen by the party and by officers of its district.
ReaderDep = Annotated[Principal, Depends(allow(*PARTY_ROLES, *OFFICER_ROLES))]


def _in_reach(principal: Principal, name: str, owner: str) -> None:
    if not principal.covers_party(owner):
        raise DeviceUnknown(f"no device named {name} is enrolled", zh=f"未登记设备 {name}")


_PROBLEMS: dict[int | str, dict[str, object]] = {
    404: {"description": "No such device or party (problem details)"},
    409: {"description": "The key is enrolled already for another device (problem details)"},
    422: {"description": "Malformed request (problem details)"},
}


@router.post("/devices", status_code=status.HTTP_201_CREATED, responses=_PROBLEMS)
def enroll_device(
    body: DeviceEnroll, devices: DevicesDep, response: Response, principal: KeeperDep
) -> DevicePublic:
    """Enrol a scanner's own public key; the same key again returns the same device (200)."""
    owner = parse_credit_code(body.owner).text
    require_party_match(principal, owner)
    try:
        public_key = base64.b64decode(body.public_key, validate=True)
    except ValueError:  # binascii.Error, or a non-ASCII character
        raise RecordInvalid("public_key is not base64", zh="公钥不是 base64 编码") from None
    if len(public_key) != 32:
        raise RecordInvalid("an Ed25519 public key has 32 bytes", zh="Ed25519 公钥应为 32 字节")
    device, record, new = devices.enroll(
        owner, body.kind, public_key, body.description, timedelta(days=body.valid_days)
    )
    if not new:
        response.status_code = status.HTTP_200_OK
    return DevicePublic.of(device, record)


@router.get("/devices", responses=_PROBLEMS)
def list_devices(
    devices: DevicesDep,
    keyring: KeyringDep,
    owner: Annotated[str, Query()],
    principal: ReaderDep,
) -> list[DevicePublic]:
    """Every device of a party (none of a party out of reach)."""
    owner = parse_credit_code(owner).text
    if not principal.covers_party(owner):
        return []
    records = {r.name: r for r in keyring.keys()}  # noqa: SIM118  # a Keyring, not a dict
    return [DevicePublic.of(d, records[d.name]) for d in devices.of(owner)]


@router.get("/devices/{name:path}/anomalies", responses=_PROBLEMS)
def device_anomalies(name: str, store: DeviceStoreDep, principal: ReaderDep) -> list[AnomalyPublic]:
    """What ingest recorded against a device: clones, replays, revoked use, clock trouble."""
    device = store.get_device(name)
    if device is None:
        raise DeviceUnknown(f"no device named {name} is enrolled", zh=f"未登记设备 {name}")
    _in_reach(principal, name, device.owner)
    return [AnomalyPublic.of(a) for a in store.anomalies(name)]


@router.post("/devices/{name:path}/revocation", responses=_PROBLEMS)
def revoke_device(
    name: str, body: KeyRevoke, devices: DevicesDep, keyring: KeyringDep, principal: KeeperDep
) -> DevicePublic:
    """Revoke a lost, stolen or cloned device: events received from now on are refused."""
    device = devices.get(name)
    _in_reach(principal, name, device.owner)
    return DevicePublic.of(device, keyring.revoke(name, body.reason))


@router.get("/devices/{name:path}", responses=_PROBLEMS)
def get_device(
    name: str, devices: DevicesDep, keyring: KeyringDep, principal: ReaderDep
) -> DevicePublic:
    """One device with its key."""
    device = devices.get(name)
    _in_reach(principal, name, device.owner)
    return DevicePublic.of(device, keyring.record(name))

"""The registry: parties with their permits and licences, vehicles, checkpoints.

Registering is idempotent: the same record again answers 200 with the record on file; a
different record under the same identity is refused with 409 and never overwrites.
"""

from __future__ import annotations

from typing import Annotated, TypeVar

from fastapi import APIRouter, Depends, Response, status

from api.auth import PrincipalDep, writer
from api.endpoints.deps import RegistryDep
from api.schemas.registry import (
    CheckpointCreate,
    CheckpointPublic,
    LicenceCreate,
    LicencePublic,
    PartyCreate,
    PartyPublic,
    PermitCreate,
    PermitPublic,
    VehicleCreate,
    VehiclePublic,
)
from custody.access import Principal, Role
from custody.parties import PartyRole

router = APIRouter(tags=["registry"])
R = TypeVar("R")

# Who keeps which register: environment authorities license parties and disposers, transport
# authorities permit carriers and their vehicles, police and transport run the checkpoints.
# Anyone signed in may read the registers (they are the directory a manifest is filled from).
EnvironmentDep = Annotated[Principal, Depends(writer(Role.ENVIRONMENT))]
TransportDep = Annotated[Principal, Depends(writer(Role.TRANSPORT))]
RoadsDep = Annotated[Principal, Depends(writer(Role.POLICE, Role.TRANSPORT))]

_PROBLEMS: dict[int | str, dict[str, object]] = {
    404: {"description": "Not registered (problem details)"},
    409: {"description": "Registered already with other details (problem details)"},
    422: {"description": "Invalid identifier or field (problem details)"},
}


def _answer(outcome: tuple[R, bool], response: Response) -> R:
    """201 for a new record, 200 when the same record was on file already."""
    record, created = outcome
    if not created:
        response.status_code = status.HTTP_200_OK
    return record


@router.post("/parties", status_code=status.HTTP_201_CREATED, responses=_PROBLEMS)
def register_party(
    body: PartyCreate, registry: RegistryDep, response: Response, _: EnvironmentDep
) -> PartyPublic:
    """Record a generator, transporter or disposer."""
    return PartyPublic.of(_answer(registry.register_party(body.to_domain()), response))


@router.get("/parties", responses=_PROBLEMS)
def list_parties(
    registry: RegistryDep, _: PrincipalDep, role: PartyRole | None = None
) -> list[PartyPublic]:
    """Every party, or those with one role."""
    return [PartyPublic.of(p) for p in registry.parties(role)]


@router.get("/parties/{credit_code}", responses=_PROBLEMS)
def get_party(credit_code: str, registry: RegistryDep, _: PrincipalDep) -> PartyPublic:
    """One party by its unified social credit code."""
    return PartyPublic.of(registry.party(credit_code))


@router.post(
    "/parties/{credit_code}/permits", status_code=status.HTTP_201_CREATED, responses=_PROBLEMS
)
def register_permit(
    credit_code: str,
    body: PermitCreate,
    registry: RegistryDep,
    response: Response,
    _: TransportDep,
) -> PermitPublic:
    """Record a dangerous-goods road transport permit of a party."""
    return PermitPublic.of(_answer(registry.register_permit(body.to_domain(credit_code)), response))


@router.get("/parties/{credit_code}/permits", responses=_PROBLEMS)
def list_permits(credit_code: str, registry: RegistryDep, _: PrincipalDep) -> list[PermitPublic]:
    """The transport permits of a party."""
    return [PermitPublic.of(p) for p in registry.permits(credit_code)]


@router.post(
    "/parties/{credit_code}/licences", status_code=status.HTTP_201_CREATED, responses=_PROBLEMS
)
def register_licence(
    credit_code: str,
    body: LicenceCreate,
    registry: RegistryDep,
    response: Response,
    _: EnvironmentDep,
) -> LicencePublic:
    """Record a hazardous waste operating licence of a party."""
    licence = registry.register_licence(body.to_domain(credit_code))
    return LicencePublic.of(_answer(licence, response))


@router.get("/parties/{credit_code}/licences", responses=_PROBLEMS)
def list_licences(credit_code: str, registry: RegistryDep, _: PrincipalDep) -> list[LicencePublic]:
    """The operating licences of a party."""
    return [LicencePublic.of(lic) for lic in registry.licences(credit_code)]


@router.get("/parties/{credit_code}/vehicles", responses=_PROBLEMS)
def list_vehicles(credit_code: str, registry: RegistryDep, _: PrincipalDep) -> list[VehiclePublic]:
    """The vehicles a transporter operates."""
    return [VehiclePublic.of(v) for v in registry.vehicles(credit_code)]


@router.post("/vehicles", status_code=status.HTTP_201_CREATED, responses=_PROBLEMS)
def register_vehicle(
    body: VehicleCreate, registry: RegistryDep, response: Response, _: TransportDep
) -> VehiclePublic:
    """Record a dangerous-goods vehicle of a known transporter."""
    return VehiclePublic.of(_answer(registry.register_vehicle(body.to_domain()), response))


@router.get("/vehicles/{plate}", responses=_PROBLEMS)
def get_vehicle(plate: str, registry: RegistryDep, _: PrincipalDep) -> VehiclePublic:
    """One vehicle by plate (``川A12345`` or ``川A·12345``)."""
    return VehiclePublic.of(registry.vehicle(plate))


@router.post("/checkpoints", status_code=status.HTTP_201_CREATED, responses=_PROBLEMS)
def register_checkpoint(
    body: CheckpointCreate, registry: RegistryDep, response: Response, _: RoadsDep
) -> CheckpointPublic:
    """Record a checkpoint (ANPR gate, scan station, weighbridge, toll).

    A point given in GCJ-02 (AMap, Tencent) or BD-09 (Baidu) is stored in WGS-84; the point as
    given is kept beside it (``source_crs``, ``source_lat``, ``source_lon``).
    """
    return CheckpointPublic.of(_answer(registry.register_checkpoint(body.to_domain()), response))


@router.get("/checkpoints", responses=_PROBLEMS)
def list_checkpoints(registry: RegistryDep, _: PrincipalDep) -> list[CheckpointPublic]:
    """Every checkpoint."""
    return [CheckpointPublic.of(c) for c in registry.checkpoints()]


@router.get("/checkpoints/{checkpoint_id}", responses=_PROBLEMS)
def get_checkpoint(checkpoint_id: str, registry: RegistryDep, _: PrincipalDep) -> CheckpointPublic:
    """One checkpoint."""
    return CheckpointPublic.of(registry.checkpoint(checkpoint_id))

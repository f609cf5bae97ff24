"""Containers, their signed labels in every print format, signing keys and the trust bundle."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, Depends, Query, Response, status

from api.auth import require_party_match, writer
from api.endpoints.deps import ContainersDep, IssuerDep, KeyringDep
from api.endpoints.guards import ReadableContainerDep
from api.schemas.labels import (
    ContainerCreate,
    ContainerPublic,
    KeyCreate,
    KeyPublic,
    KeyRevoke,
    LabelBatch,
    LabelPublic,
    LabelText,
    VerificationPublic,
)
from custody.access import Principal, Role
from custody.credit_code import parse_credit_code
from labels import render
from labels.payload import verify
from labels.printed import LabelFormat

if TYPE_CHECKING:
    from custody.containers import Containers
    from labels.printed import PrintedLabel

router = APIRouter(tags=["labels"])

COSE_SIGN1 = 'application/cose; cose-type="cose-sign1"'
_PROBLEMS: dict[int | str, dict[str, object]] = {
    404: {"description": "Unknown container, party or key (problem details)"},
    409: {"description": "No usable signing key (problem details)"},
    422: {"description": "Invalid input, or a label that fails verification (problem details)"},
}


def _rendered(label: PrintedLabel, fmt: LabelFormat) -> Response:
    name = f'inline; filename="{label.digital_id}.{fmt.value}"'
    headers = {"Content-Disposition": name}
    match fmt:
        case LabelFormat.PNG:
            return Response(render.render_png(label), media_type="image/png", headers=headers)
        case LabelFormat.SVG:
            return Response(render.render_svg(label), media_type="image/svg+xml", headers=headers)
        case LabelFormat.PDF:
            return Response(render.render_pdf(label), media_type="application/pdf", headers=headers)
        case LabelFormat.ZPL:
            return Response(render.render_zpl(label), media_type="text/plain", headers=headers)
        case LabelFormat.TXT:
            return Response(label.qr_text, media_type="text/plain", headers=headers)


# -- containers and labels --------------------------------------------------------------------

#: Generators register their containers and mint their labels.
MinterDep = Annotated[Principal, Depends(writer(Role.GENERATOR))]
AdminDep = Annotated[Principal, Depends(writer())]


def _own(principal: Principal, containers: Containers, codes: list[str]) -> None:
    """A generator mints labels only for its own containers."""
    for code in codes:
        require_party_match(principal, containers.get(code).facts.generator)


@router.post("/containers", status_code=status.HTTP_201_CREATED, responses=_PROBLEMS)
def register_container(
    body: ContainerCreate, containers: ContainersDep, principal: MinterDep
) -> ContainerPublic:
    """Register a filled, sealed container; it gets its digital identification code."""
    new = body.to_domain()
    require_party_match(principal, new.generator)
    return ContainerPublic.of(containers.register(new))


@router.get("/containers/{digital_id}", responses=_PROBLEMS)  # noqa: FAST003  # read by the guard
def get_container(container: ReadableContainerDep) -> ContainerPublic:
    """One container by its digital identification code."""
    return ContainerPublic.of(container)


@router.post(
    "/containers/{digital_id}/labels", status_code=status.HTTP_201_CREATED, responses=_PROBLEMS
)
def mint_label(
    digital_id: str, issuer: IssuerDep, containers: ContainersDep, principal: MinterDep
) -> LabelPublic:
    """Mint a signed label with the generator's label key."""
    _own(principal, containers, [digital_id])
    return LabelPublic.of(issuer.issue(digital_id))


@router.post("/labels", status_code=status.HTTP_201_CREATED, responses=_PROBLEMS)
def mint_labels(
    body: LabelBatch, issuer: IssuerDep, containers: ContainersDep, principal: MinterDep
) -> list[LabelPublic]:
    """Mint labels for many containers; stops at the first one that fails."""
    _own(principal, containers, list(body.containers))
    return [LabelPublic.of(issuer.issue(digital_id)) for digital_id in body.containers]


@router.get(
    "/containers/{digital_id}/label",
    responses={
        **_PROBLEMS,
        200: {
            "content": {
                t: {} for t in ("image/png", "image/svg+xml", "application/pdf", "text/plain")
            },
            "description": "The newest label in the asked format.",
        },
    },
)
def get_label(
    digital_id: str,
    issuer: IssuerDep,
    _: ReadableContainerDep,
    fmt: Annotated[LabelFormat, Query(alias="format")] = LabelFormat.PNG,
) -> Response:
    """The newest label of a container as PNG, SVG, PDF, ZPL (thermal printers) or QR text."""
    return _rendered(issuer.printed(digital_id), fmt)


@router.post(
    "/labels/sheets",
    responses={**_PROBLEMS, 200: {"content": {"application/pdf": {}}, "description": "A4 PDF"}},
)
def label_sheet(
    body: LabelBatch, issuer: IssuerDep, containers: ContainersDep, principal: MinterDep
) -> Response:
    """The newest labels of many containers on A4 sheets, ready for an office printer."""
    _own(principal, containers, list(body.containers))
    sheet = render.render_pdf_sheet([issuer.printed(d) for d in body.containers])
    return Response(sheet, media_type="application/pdf")


@router.post("/labels/verifications", responses=_PROBLEMS)
def verify_label(body: LabelText, keyring: KeyringDep) -> VerificationPublic:
    """Check a scanned label against the current trust bundle."""
    bundle, _ = keyring.bundle()
    return VerificationPublic.of(verify(body.text, bundle))


# -- keys and the trust bundle ----------------------------------------------------------------


@router.post("/keys", status_code=status.HTTP_201_CREATED, responses=_PROBLEMS, tags=["keys"])
def create_key(body: KeyCreate, keyring: KeyringDep, _: AdminDep) -> KeyPublic:
    """Make a signing key for a party; its private half never leaves the server unencrypted."""
    owner = parse_credit_code(body.owner).text
    key = keyring.create(owner, body.role, validity=timedelta(days=body.valid_days))
    return KeyPublic.of(key.record)


@router.get("/keys", tags=["keys"])
def list_keys(keyring: KeyringDep) -> list[KeyPublic]:
    """Every key's public record."""
    return [KeyPublic.of(record) for record in keyring.keys()]  # noqa: SIM118  # not a dict


@router.post("/keys/{name:path}/revocation", responses=_PROBLEMS, tags=["keys"])
def revoke_key(name: str, body: KeyRevoke, keyring: KeyringDep, _: AdminDep) -> KeyPublic:
    """Revoke a compromised key; a new trust bundle says so at once."""
    return KeyPublic.of(keyring.revoke(name, body.reason))


@router.get(
    "/trust-bundle",
    tags=["keys"],
    responses={200: {"content": {COSE_SIGN1: {}}, "description": "The signed bundle."}},
)
def trust_bundle(keyring: KeyringDep) -> Response:
    """The newest trust bundle, signed by the root key (COSE_Sign1 over CBOR)."""
    bundle, signed = keyring.bundle()
    headers = {"X-Bundle-Version": str(bundle.version)}
    return Response(signed, media_type=COSE_SIGN1, headers=headers)


@router.get("/trust-bundle/root", tags=["keys"])
def trust_root(keyring: KeyringDep) -> KeyPublic:
    """The root key verifiers pin (compare it with the one published on paper)."""
    return KeyPublic.of(keyring.root().record)

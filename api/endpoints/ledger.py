"""The custody ledger over HTTP: append signed events, read receipts, proofs and evidence."""

from __future__ import annotations

import base64
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status
from pydantic import BaseModel, Field

from api.auth import allow, writer
from api.endpoints.deps import IngestDep, KeyringDep, LedgerDep
from api.endpoints.guards import ReadableContainerDep
from api.schemas.ledger import EventBatch, EventPublic, ReceiptPublic, ReceiptsPublic, b64
from custody.access import PARTY_ROLES, Principal, Role
from custody.digital_id import parse_digital_id
from custody.events import read_event
from custody.evidence import export_container
from custody.export import epcis_document
from custody.ingest import Refusal
from custody.ledger import read_entry

router = APIRouter(tags=["ledger"])

_PROBLEMS: dict[int | str, dict[str, object]] = {
    404: {"description": "No such entry or container (problem details)"},
    409: {"description": "An event id reused with other content (problem details)"},
    422: {"description": "Events refused, each named with its reason (problem details)"},
}


@router.post(
    "/events",
    status_code=status.HTTP_201_CREATED,
    responses={**_PROBLEMS, 200: {"description": "All were in the log already, or a dry run"}},
)
def append_events(
    body: EventBatch,
    ingest: IngestDep,
    response: Response,
    _: Annotated[
        Principal,
        Depends(writer(Role.GENERATOR, Role.TRANSPORTER, Role.DISPOSER, Role.CHECKPOINT)),
    ],
    *,
    dry_run: Annotated[bool, Query(description="Only check the events; append nothing.")] = False,
) -> ReceiptsPublic:
    """Append device-signed events; each gets its index, inclusion proof and checkpoint.

    The whole batch is refused if any event is malformed, not signed by an enrolled device of
    the party it names, names an unregistered container, or reuses or rewinds a device counter;
    the problem lists every bad event by its position. Sending the same event again returns
    its original receipt (``duplicate: true``). Business-rule breaches are accepted: the
    checker flags them.
    """
    messages: list[bytes] = []
    undecodable: list[Refusal] = []
    for position, text in enumerate(body.events):
        try:
            messages.append(base64.b64decode(text, validate=True))
        except ValueError:  # binascii.Error, or a non-ASCII character
            messages.append(b"")
            undecodable.append(Refusal(position, "not-base64", "not base64", "不是 base64 编码"))
    receipts = ingest.submit(messages, dry_run=dry_run, refused=undecodable)
    if dry_run or all(r.duplicate for r in receipts):
        response.status_code = status.HTTP_200_OK
    return ReceiptsPublic(receipts=[ReceiptPublic.of(r) for r in receipts])


@router.get(
    "/ledger/checkpoint",
    responses={
        200: {"content": {"text/plain": {}}},
        404: {"description": "The log is empty: no checkpoint yet (problem details)"},
    },
)
def latest_checkpoint(ledger: LedgerDep) -> Response:
    """The latest signed checkpoint (C2SP tlog-checkpoint signed note)."""
    return Response(ledger.latest_checkpoint(), media_type="text/plain; charset=utf-8")


@router.get("/ledger/entries/{index}", responses=_PROBLEMS)
def entry_receipt(index: int, ledger: LedgerDep) -> ReceiptPublic:
    """The receipt of one entry against the latest checkpoint."""
    (receipt,) = ledger.receipts_for([index])
    return ReceiptPublic.of(receipt)


@router.get("/ledger/consistency", responses=_PROBLEMS)
def consistency(
    ledger: LedgerDep, old: Annotated[int, Query(ge=0)], new: Annotated[int, Query(ge=0)]
) -> dict[str, object]:
    """A consistency proof between two sizes of the log (RFC 9162 section 2.1.4)."""
    return {"old": old, "new": new, "proof": [b64(h) for h in ledger.consistency(old, new)]}


class HeadPublic(BaseModel):
    """The latest ledger event of a container, as a scanner links its next scan to it."""

    container: str
    index: int | None = Field(description="Ledger index; null when it has no event yet.")
    event_hash: str | None = Field(description="SHA-256 of the signed event, hex.")


@router.get("/containers/{digital_id}/head", responses=_PROBLEMS)
def container_head(
    digital_id: str,
    ledger: LedgerDep,
    _scanner: Annotated[Principal, Depends(allow(*PARTY_ROLES, Role.CHECKPOINT))],
) -> HeadPublic:
    """The hash of a container's latest event, for any scanning account.

    Only a hash: the party taking a container over must link its first scan to the last
    event, before the container's history is theirs to read.
    """
    code = parse_digital_id(digital_id).text
    for entry in reversed(ledger.store.container_entries(code)):
        _, message = read_entry(entry.entry)
        _, signed = read_event(message)
        if code in signed.event.containers:  # the consolidation that made it starts no chain
            return HeadPublic(container=code, index=entry.index,
                              event_hash=signed.event_hash.hex())  # fmt: skip
    return HeadPublic(container=code, index=None, event_hash=None)


@router.get("/containers/{digital_id}/history", responses=_PROBLEMS)
def container_history(
    digital_id: str, ledger: LedgerDep, _reader: ReadableContainerDep
) -> list[EventPublic]:
    """Every ledger event of a container, in log order."""
    history = []
    for entry in ledger.store.container_entries(digital_id):
        when, message = read_entry(entry.entry)
        _, signed = read_event(message)
        history.append(EventPublic.of(entry.index, when, signed.event, signed.event_hash))
    return history


@router.get(
    "/containers/{digital_id}/evidence",
    responses={**_PROBLEMS, 200: {"content": {"application/json": {}}}},
)
def container_evidence(
    digital_id: str, keyring: KeyringDep, ledger: LedgerDep, _reader: ReadableContainerDep
) -> Response:
    """The container's evidence bundle: verify it offline with ``custody verify``."""
    _, signed_bundle = keyring.bundle()
    bundle = export_container(
        ledger.store, ledger, digital_id, signed_bundle, keyring.root().record.verifier_key
    )
    name = f'attachment; filename="evidence-{digital_id}.json"'
    return Response(bundle.to_json(), media_type="application/json",
                    headers={"Content-Disposition": name})  # fmt: skip


@router.get(
    "/containers/{digital_id}/epcis",
    responses={**_PROBLEMS, 200: {"content": {"application/ld+json": {}}}},
)
def container_epcis(digital_id: str, ledger: LedgerDep, _reader: ReadableContainerDep) -> Response:
    """The container's events as a GS1 EPCIS 2.0 JSON-LD document (derived, not signed)."""
    document = epcis_document(ledger, ledger.store.container_entries(digital_id))
    return Response(document, media_type="application/ld+json")

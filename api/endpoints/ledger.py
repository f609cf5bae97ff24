"""The custody ledger over HTTP: append signed events, read receipts, proofs and evidence."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from api.endpoints.deps import KeyringDep, LedgerDep
from api.schemas.ledger import EventBatch, EventPublic, ReceiptPublic, ReceiptsPublic, b64
from custody.errors import CustodyError, EventsRefused
from custody.events import SignedEvent, read_event, verify_event
from custody.evidence import export_container
from custody.export import epcis_document
from custody.ledger import read_entry

router = APIRouter(tags=["ledger"])

_PROBLEMS: dict[int | str, dict[str, object]] = {
    404: {"description": "No such entry or container (problem details)"},
    409: {"description": "An event id reused with other content (problem details)"},
    422: {"description": "Events refused, each named with its reason (problem details)"},
}


@router.post("/events", status_code=status.HTTP_201_CREATED, responses=_PROBLEMS)
def append_events(
    body: EventBatch, keyring: KeyringDep, ledger: LedgerDep, response: Response
) -> ReceiptsPublic:
    """Append device-signed events; each gets its index, inclusion proof and checkpoint.

    The whole batch is refused if any event is malformed or not signed by a known device of
    the party it names; the problem lists every bad event by its position. Sending the same
    event again returns its original receipt (``duplicate: true``).
    """
    bundle, _ = keyring.bundle()
    verified: list[SignedEvent] = []
    bad: list[dict[str, object]] = []
    for position, text in enumerate(body.events):
        try:
            signed, _ = verify_event(base64.b64decode(text, validate=True), bundle)
            verified.append(signed)
        except binascii.Error:
            bad.append({"position": position, "code": "not-base64", "detail": "not base64"})
        except CustodyError as exc:
            bad.append({"position": position, "code": exc.code, "detail": exc.message})
    if bad:
        raise EventsRefused(
            f"{len(bad)} of {len(body.events)} events are malformed or not trusted; none appended",
            zh=f"{len(bad)} 个事件格式错误或签名不可信，本批均未入账",
            events=bad,
        )
    receipts = ledger.append(verified)
    if all(r.duplicate for r in receipts):
        response.status_code = status.HTTP_200_OK
    return ReceiptsPublic(receipts=[ReceiptPublic.of(r) for r in receipts])


@router.get("/ledger/checkpoint", responses={200: {"content": {"text/plain": {}}}})
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


@router.get("/containers/{digital_id}/history", responses=_PROBLEMS)
def container_history(digital_id: str, ledger: LedgerDep) -> list[EventPublic]:
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
def container_evidence(digital_id: str, keyring: KeyringDep, ledger: LedgerDep) -> Response:
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
def container_epcis(digital_id: str, ledger: LedgerDep) -> Response:
    """The container's events as a GS1 EPCIS 2.0 JSON-LD document (derived, not signed)."""
    document = epcis_document(ledger, ledger.store.container_entries(digital_id))
    return Response(document, media_type="application/ld+json")

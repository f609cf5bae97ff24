"""Server-rendered pages for people: the public label check and the service status.

A label's QR links to ``<public URL>/V/<signed text>`` (``labels.payload.link``), so a phone
camera opens the check page; ``/verify?label=…`` takes the signed text, or such a link, from
the form and from labels printed before the link. Pages are HTML for phones and hide from the
OpenAPI document; ``/status.json`` is the one JSON operation here.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Annotated
from urllib.parse import unquote

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import HTMLResponse
from pydantic import AwareDatetime, BaseModel

from api.endpoints.deps import ContainersDep, KeyringDep, RegistryDep
from api.templating import render as _html
from custody.alerts import AlertFilter, AlertState, Severity
from custody.checkpoint import Checkpoint
from custody.errors import ContainerNotFound, EvidenceError, PartyNotFound
from custody.history import records
from custody.wastes import Hazard
from labels.payload import LINK_PATH, read, verify
from labels.printed import FORMS
from storage.alert_store import SqlAlertStore
from storage.ledger_store import SqlLedgerStore

if TYPE_CHECKING:
    from custody.containers import Container, Containers
    from custody.keyring import Keyring
    from custody.registry import Registry
    from labels.payload import VerifiedLabel

__all__ = ["router"]

router = APIRouter()

_CHINA = timezone(timedelta(hours=8))  # dates on the page are the reader's, not UTC
_LABEL_MAX = 2000  # characters; a label is about 230-270
_ALERT_PAGE = 500
_FORMS_EN = {"S": "solid", "SS": "semi-solid", "L": "liquid", "G": "gas"}


@cache
def _css() -> bytes:
    return (resources.files("api") / "static" / "pages.css").read_bytes()


@router.get("/static/pages.css", include_in_schema=False)
def stylesheet() -> Response:
    """The pages' one stylesheet, served from the package (no CDN: the service works offline)."""
    headers = {"Cache-Control": "public, max-age=3600"}
    return Response(_css(), media_type="text/css; charset=utf-8", headers=headers)


# -- the public label check ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Reason:
    zh: str
    en: str
    advice_zh: str
    advice_en: str


_FORGED = _Reason(
    "签名无效（伪造或被篡改）",
    "forged or altered signature",
    "标签内容与签名不符，可能是伪造或被改动过的标签。请勿接收该容器，并报告当地生态环境部门。",
    "The label's content does not match its signature. Do not accept the container; report it.",
)
_MALFORMED = _Reason(
    "标签格式错误",
    "malformed label",
    "二维码内容不是完整的危险废物电子标签，可能已损坏或被改动。请重新扫描或核对纸质标签。",
    "The QR text is not a complete label of ours: damaged or altered. Scan again or check "
    "the paper label.",
)
_REASONS: dict[str, _Reason] = {
    "signature-invalid": _FORGED,
    "key-unknown": _Reason(
        "签名密钥未知",
        "unknown signing key",
        "签名密钥不在当前信任列表中：标签并非由已登记的单位签发。",
        "The key that signed it is not in the current trust bundle: no registered party "
        "issued this label.",
    ),
    "key-revoked": _Reason(
        "签名密钥已被吊销",
        "the signing key is revoked",
        "签发该标签的密钥已被吊销（例如丢失或泄露），标签不再可信。请联系产生单位重新贴标。",
        "The key that signed it has been revoked (lost or leaked); the label can no longer be "
        "trusted. Ask the generator to relabel the container.",
    ),
    "key-not-valid-at-issue": _Reason(
        "签发时密钥不在有效期内",
        "the key was not valid when the label was issued",
        "标签签发时间不在签名密钥的有效期内。",
        "The label was issued outside its key's validity period.",
    ),
    "key-owner-mismatch": _Reason(
        "签名密钥不属于产生单位",
        "signed by another party's key",
        "标签所载产生单位与签名密钥的所属单位不一致。",
        "The key belongs to a party other than the generator the label names.",
    ),
    "not-a-label": _MALFORMED,
    "label-malformed": _MALFORMED,
    "label-schema-unsupported": _MALFORMED,
}


def _claimed_id(text: str) -> str | None:
    """The code a bad label claims, shown as unproven; None when it cannot even be read."""
    try:
        return read(text)[1].digital_id.text
    except EvidenceError:
        return None


def _generator_name(registry: Registry, unit_code: str) -> str:
    try:
        return registry.party(unit_code).name
    except PartyNotFound:
        return unit_code


def _latest_step(store: SqlLedgerStore, digital_id: str) -> dict[str, str] | None:
    # The device's claimed time orders a history (an offline scanner uploads late).
    latest = max(
        records(store.container_entries(digital_id)),
        key=lambda r: (r.event.event_time, r.index),
        default=None,
    )
    if latest is None:
        return None
    step, day = latest.event.step, latest.event.event_time.astimezone(_CHINA)
    return {"zh": step.zh, "en": step.value, "day": f"{day:%Y-%m-%d}"}


def _facts(
    verified: VerifiedLabel, container: Container, generator: str, step: dict[str, str] | None
) -> dict[str, object]:
    """What the page shows: signed facts from the label, names from the register, no contacts."""
    payload, waste = verified.payload, container.waste
    order = list(Hazard)
    return {
        "digital_id": payload.digital_id.text,
        "waste_name": container.waste_name,
        "waste_code": payload.digital_id.waste_code,
        "category": waste.category,
        "category_name": waste.category_name,
        "hazards": [
            {"zh": h.zh, "en": h.name.lower()} for h in sorted(payload.hazards, key=order.index)
        ],
        "form_zh": FORMS[payload.form.value],
        "form_en": _FORMS_EN[payload.form.value],
        "mass_kg": str(Decimal(payload.net_mass_g) / 1000),
        "generated_on": payload.digital_id.day.isoformat(),
        "generator": generator,
        "step": step,
    }


@router.get("/verify", include_in_schema=False, response_class=HTMLResponse)
def verify_page(
    request: Request,
    keyring: KeyringDep,
    containers: ContainersDep,
    registry: RegistryDep,
    label: Annotated[str | None, Query(max_length=_LABEL_MAX)] = None,
) -> HTMLResponse:
    """Say whether a label is genuine and what container it is, Chinese first."""
    if not label or not label.strip():
        return _html(request, "verify.html", outcome="form")
    return _checked(request, keyring, containers, registry, label)


@router.get(f"{LINK_PATH}{{label:path}}", include_in_schema=False, response_class=HTMLResponse)
def label_link_page(
    request: Request,
    keyring: KeyringDep,
    containers: ContainersDep,
    registry: RegistryDep,
    label: str,
) -> HTMLResponse:
    """The check page a label's QR opens: ``/V/<signed text>``, percent-escapes decoded once.

    The signed text is read from the raw request path, exactly as the QR wrote it (case kept,
    ``%20``, ``%25`` and ``%2F`` decoded once), whatever the server or test client did to the
    decoded path; a malformed or altered one gets the same "not genuine" page as ``/verify``.
    """
    raw = request.scope.get("raw_path")
    if isinstance(raw, bytes) and LINK_PATH.encode() in raw:
        path = raw.split(b"?", 1)[0].decode("latin-1")
        label = unquote(path.partition(LINK_PATH)[2])
    # No label comes near the limit: a longer path cannot be genuine, and is cut before decoding.
    return _checked(request, keyring, containers, registry, label[:_LABEL_MAX])


def _checked(
    request: Request, keyring: Keyring, containers: Containers, registry: Registry, label: str
) -> HTMLResponse:
    bundle, _ = keyring.bundle()
    try:
        verified = verify(label, bundle)
    except EvidenceError as exc:
        # A readable page about a bad label is a successful answer: 200.
        return _html(
            request,
            "verify.html",
            outcome="bad",
            reason=_REASONS.get(exc.code, _FORGED),
            detail_zh=exc.zh,
            detail_en=exc.message,
            claimed_id=_claimed_id(label),
        )
    digital_id = verified.payload.digital_id.text
    try:
        container = containers.get(digital_id)
    except ContainerNotFound:
        return _html(request, "verify.html", 404, outcome="unknown", digital_id=digital_id)
    generator = _generator_name(registry, verified.payload.digital_id.unit_code)
    step = _latest_step(SqlLedgerStore(request.app.state.engine), digital_id)
    return _html(
        request,
        "verify.html",
        outcome="genuine",
        bundle_version=verified.bundle_version,
        c=_facts(verified, container, generator, step),
    )


# -- the status page ----------------------------------------------------------------------------


class CheckpointStatus(BaseModel):
    """The ledger's latest signed checkpoint."""

    origin: str
    size: int
    root: str  # base64, as in the checkpoint note
    signed_at: AwareDatetime | None


class Status(BaseModel):
    """How the service is doing: ledger size and intake, its latest checkpoint, open alerts."""

    version: str
    generated_at: AwareDatetime
    ledger_size: int
    received_last_hour: int
    received_last_day: int
    checkpoint: CheckpointStatus | None
    open_alerts: dict[Severity, int]
    open_alerts_total: int


def _open_alerts(store: SqlAlertStore) -> dict[Severity, int]:
    counts = dict.fromkeys(Severity, 0)
    where, after = AlertFilter(state=AlertState.OPEN), None
    while page := store.list_alerts(where, limit=_ALERT_PAGE, after=after):
        for alert in page:
            counts[alert.severity] += 1
        if len(page) < _ALERT_PAGE:
            break
        after = page[-1].alert_id
    return counts


def _status(request: Request) -> Status:
    engine = request.app.state.engine
    ledger, now = SqlLedgerStore(engine), datetime.now(UTC)
    state = ledger.state()
    checkpoint = None
    if state.checkpoint is not None:
        # Our own note, read for display only (its body ends at the blank line).
        point = Checkpoint.parse_body(state.checkpoint.split(b"\n\n", 1)[0] + b"\n")
        checkpoint = CheckpointStatus(
            origin=point.origin,
            size=point.size,
            root=base64.b64encode(point.root).decode(),
            signed_at=ledger.checkpoint_signed_at(point.size),
        )
    alerts = _open_alerts(SqlAlertStore(engine))
    return Status(
        version=request.app.version,
        generated_at=now,
        ledger_size=state.size,
        received_last_hour=ledger.received_since(now - timedelta(hours=1)),
        received_last_day=ledger.received_since(now - timedelta(days=1)),
        checkpoint=checkpoint,
        open_alerts=alerts,
        open_alerts_total=sum(alerts.values()),
    )


@router.get("/status.json", tags=["health"])
def status_json(request: Request) -> Status:
    """Ledger size and intake, the latest checkpoint and open alerts by severity."""
    return _status(request)


@router.get("/status", include_in_schema=False, response_class=HTMLResponse)
def status_page(request: Request) -> HTMLResponse:
    """The same as ``/status.json``, for people (Chinese first)."""
    status = _status(request)
    point = status.checkpoint
    signed = point.signed_at if point else None
    severities = [
        {"value": s.value, "zh": s.zh, "count": status.open_alerts[s]}
        for s in sorted(Severity, key=lambda s: -s.rank)
    ]
    return _html(
        request,
        "status.html",
        s=status.model_dump() | {"generated_at_local": _local(status.generated_at)},
        checkpoint_time=_local(signed) if signed else None,
        severities=severities,
    )


def _local(when: datetime) -> str:
    return f"{when.astimezone(_CHINA):%Y-%m-%d %H:%M:%S}"

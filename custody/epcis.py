"""Custody events exported as GS1 EPCIS 2.0 JSON-LD, for auditors and other agencies' tools.

EPCIS is a *derived copy*. The evidence is the device-signed deterministic CBOR of
:class:`~custody.events.CustodyEvent` in the ledger; nothing here is signed, and nothing read
back from EPCIS is ever trusted. EPCIS only gives police, transport and environment
departments a vocabulary they can query without learning our schema.

**The eventID is our ledger event hash, not the CBV event hash.** ``eventID`` is
``ni:///sha-256;<hex>`` where ``<hex>`` is the SHA-256 of the signed COSE_Sign1
bytes (:func:`custody.events.event_hash`), the same hash each container's next event links
back to. It is *not* the CBV 2.0 §8.9 event hash of this JSON. The signed leaf is our CBOR,
and this JSON is derived from it; carrying the ledger hash lets anyone match an EPCIS copy to
its ledger entry (and check it with a ``tlog-proof``), while the CBV hash would only fingerprint
a copy that has no authority of its own. The URI keeps the ``ni:`` form the design note asks
for but drops the ``?ver=CBV2.0`` suffix, which CBV-aware tools read as "computed with the CBV
2.0 algorithm": this export does **not** claim CBV hash compliance. Verify an eventID against
the ledger, never with CBV hashing tools.

**Who is source and who is destination.** ``party`` is whoever acted and signed; the
``counterparty`` is the other side of a hand-off. The step names the actor's own action, and
that fixes the direction:

* ``loading`` (onto the actor's vehicle) and ``receiving`` (into the actor's site): the actor
  *takes* possession, so ``sourceList`` holds the counterparty and ``destinationList`` the actor;
* ``returning`` (the actor sends the containers back): the actor *gives up* possession, so
  ``sourceList`` holds the actor and ``destinationList`` the counterparty;
* every other step, ``rejecting`` included (a refused load stays with the transporter), moves no
  possession and gets neither list.

A side that is unknown (no counterparty) is left out rather than guessed. Both parties are
always exported as ``wt:party`` and ``wt:counterparty`` too, so nothing depends on the rule.

Our own fields go under the ``wt:`` prefix (``{base_uri}/voc/``): ``wt:party``,
``wt:counterparty``, ``wt:device``, ``wt:counter``, ``wt:vehicle``, ``wt:prev`` (hex previous-event
hash per container, in ``epcList``/``childEPCs`` order), ``wt:parent`` (the target container
of a step other than consolidation), ``wt:location`` (the coordinates when ``readPoint`` is
a checkpoint), ``wt:photos`` (hex SHA-256), ``wt:note``, ``wt:massSource`` (inside the mass
report) and ``wt:ledger`` (log origin and index, added on export, never signed).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Final
from urllib.parse import quote

from custody.errors import EventMalformed, InputError
from custody.events import Step

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from custody.events import CustodyEvent

__all__ = [
    "CHINA_STANDARD_TIME",
    "DEFAULT_BASE_URI",
    "EPCIS_CONTEXT",
    "LedgerRef",
    "document",
    "epcis_context",
    "event_to_epcis",
    "to_json",
]

DEFAULT_BASE_URI: Final = "https://custody.example.cn"
EPCIS_CONTEXT: Final = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
CHINA_STANDARD_TIME: Final = timezone(timedelta(hours=8), "CST")  # no daylight saving since 1991
_OFFSET: Final = "+08:00"

# Step -> CBV 2.0 business step (bare term, as EPCIS 2.0 JSON-LD allows).
_BIZ_STEPS: Final = {
    Step.COMMISSIONING: "commissioning",
    Step.PACKING: "packing",
    Step.LOADING: "loading",
    Step.DEPARTING: "departing",
    Step.PASSING: "transporting",
    Step.ARRIVING: "arriving",
    Step.RECEIVING: "receiving",
    Step.REJECTING: "receiving",  # with disposition non_conformant
    Step.STORING: "storing",
    Step.REPACKING: "repackaging",
    Step.CONSOLIDATING: "packing",  # an AggregationEvent
    Step.DESTROYING: "destroying",
    Step.RETURNING: "shipping",  # with disposition returned
}
_ACTIONS: Final = {Step.COMMISSIONING: "ADD", Step.CONSOLIDATING: "ADD", Step.DESTROYING: "DELETE"}
_TAKES_POSSESSION: Final = frozenset({Step.LOADING, Step.RECEIVING})
_GIVES_UP_POSSESSION: Final = frozenset({Step.RETURNING})


@dataclass(frozen=True, slots=True)
class LedgerRef:
    """Where an event sits in the log: the log's origin line and the entry's index."""

    origin: str
    index: int

    def __post_init__(self) -> None:
        if not self.origin or self.index < 0:
            raise InputError(
                f"ledger reference needs an origin and an index >= 0, not {self!r}",
                zh="账本引用须有日志来源及非负序号",
            )


def epcis_context(base_uri: str = DEFAULT_BASE_URI) -> list[object]:
    """The JSON-LD ``@context``: the EPCIS 2.0 context plus our ``wt:`` vocabulary.

    A document carries it once; an event served on its own needs it as its ``@context`` too.
    """
    return [EPCIS_CONTEXT, {"wt": f"{_base(base_uri)}/voc/"}]


def event_to_epcis(
    event: CustodyEvent,
    *,
    event_hash: bytes,
    ledger: LedgerRef | None = None,
    base_uri: str = DEFAULT_BASE_URI,
) -> dict[str, object]:
    """One custody event as an EPCIS 2.0 event (a dict ready for JSON, without ``@context``).

    ``event_hash`` is the SHA-256 of the event's signed bytes (``SignedEvent.event_hash``);
    it becomes the ``eventID``. ``ledger``, when given, is added as ``wt:ledger``.

    Raises:
        InputError: ``event_hash`` is not 32 bytes.
        EventMalformed: a consolidation names no parent container, so it has no EPCIS form.
    """
    if len(event_hash) != 32:
        raise InputError(
            f"an event hash is 32 bytes of SHA-256, not {len(event_hash)} bytes",
            zh=f"事件哈希应为 32 字节 SHA-256，实际为 {len(event_hash)} 字节",
        )
    base = _base(base_uri)
    aggregation = event.step is Step.CONSOLIDATING
    out: dict[str, object] = {
        "type": "AggregationEvent" if aggregation else "ObjectEvent",
        "eventID": f"ni:///sha-256;{event_hash.hex()}",
        "eventTime": _cst(event.event_time),
        "eventTimeZoneOffset": _OFFSET,
        "action": _ACTIONS.get(event.step, "OBSERVE"),
        "bizStep": _BIZ_STEPS[event.step],
        "disposition": event.step.disposition,
    }
    epcs = [_container(base, c) for c in event.containers]
    if aggregation:
        if event.parent is None:
            reason = "a consolidating event names no parent container"
            raise EventMalformed(
                f"cannot export as EPCIS: {reason}", zh="合并事件未载明目标容器", reason=reason
            )
        out |= {"parentID": _container(base, event.parent), "childEPCs": epcs}
    else:
        out["epcList"] = epcs
        if event.parent is not None:
            out["wt:parent"] = _container(base, event.parent)
    out |= _where(event, base)
    if event.manifest is not None:
        manifest = f"{base}/manifests/{_segment(event.manifest)}"
        out["bizTransactionList"] = [{"type": "bol", "bizTransaction": manifest}]
    out |= _possession(event, base)
    if event.mass is not None:
        report = {
            "type": "Mass",
            "value": event.mass.grams / 1000,
            "uom": "KGM",
            "wt:massSource": event.mass.source.value,
        }
        out["sensorElementList"] = [{"sensorReport": [report]}]
    out |= _extensions(event, base)
    if ledger is not None:
        out["wt:ledger"] = {"origin": ledger.origin, "index": ledger.index}
    return out


def document(
    events: Iterable[tuple[CustodyEvent, bytes, LedgerRef | None]],
    *,
    created: datetime,
    base_uri: str = DEFAULT_BASE_URI,
) -> dict[str, object]:
    """An ``EPCISDocument`` holding the events in the order given.

    Each item is ``(event, event_hash, ledger_ref_or_None)``; ``created`` is the document's
    ``creationDate`` and must carry a time zone.

    Raises:
        InputError: ``created`` has no time zone, or an event hash is not 32 bytes.
        EventMalformed: as :func:`event_to_epcis`.
    """
    if created.tzinfo is None or created.utcoffset() is None:
        raise InputError(
            "the document's creation time needs a time zone", zh="文档创建时间须带时区"
        )
    return {
        "@context": epcis_context(base_uri),
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": _cst(created),
        "epcisBody": {
            "eventList": [
                event_to_epcis(e, event_hash=h, ledger=ref, base_uri=base_uri)
                for e, h, ref in events
            ]
        },
    }


def to_json(doc: Mapping[str, object]) -> str:
    """Deterministic JSON: sorted keys, no spaces, UTF-8 text kept as it is (川A12345)."""
    return json.dumps(
        doc, sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False
    )


def _base(base_uri: str) -> str:
    return base_uri.rstrip("/")


def _segment(text: str) -> str:
    """Free text as one URI path segment (UTF-8 percent-encoded, ``/`` included)."""
    return quote(text, safe="")


def _container(base: str, digital_id: str) -> str:
    return f"{base}/containers/{digital_id}"


def _party(base: str, credit_code: str) -> str:
    return f"{base}/parties/{credit_code}"


def _cst(when: datetime) -> str:
    return when.astimezone(CHINA_STANDARD_TIME).isoformat(timespec="milliseconds")


def _geo(location: tuple[float, float]) -> str:
    lat, lon = location
    return f"geo:{lat},{lon}"


def _where(event: CustodyEvent, base: str) -> dict[str, object]:
    if event.read_point is not None:
        out: dict[str, object] = {
            "readPoint": {"id": f"{base}/checkpoints/{_segment(event.read_point)}"}
        }
        if event.location is not None:
            out["wt:location"] = _geo(event.location)
        return out
    if event.location is not None:
        return {"readPoint": {"id": _geo(event.location)}}
    return {}


def _possession(event: CustodyEvent, base: str) -> dict[str, object]:
    """``sourceList``/``destinationList`` by the rule in the module docstring."""
    actor = _party(base, event.party)
    other = None if event.counterparty is None else _party(base, event.counterparty)
    source: str | None
    destination: str | None
    if event.step in _TAKES_POSSESSION:
        source, destination = other, actor
    elif event.step in _GIVES_UP_POSSESSION:
        source, destination = actor, other
    else:
        return {}
    out: dict[str, object] = {}
    if source is not None:
        out["sourceList"] = [{"type": "possessing_party", "source": source}]
    if destination is not None:
        out["destinationList"] = [{"type": "possessing_party", "destination": destination}]
    return out


def _extensions(event: CustodyEvent, base: str) -> dict[str, object]:
    out: dict[str, object] = {
        "wt:eventId": event.event_id,  # the device's id: a retry or a replay is recognised by it
        "wt:party": _party(base, event.party),
        "wt:device": event.device,
        "wt:counter": event.counter,
        "wt:prev": [p.hex() for p in event.prev],
    }
    if event.counterparty is not None:
        out["wt:counterparty"] = _party(base, event.counterparty)
    if event.vehicle is not None:
        out["wt:vehicle"] = event.vehicle
    if event.photos:
        out["wt:photos"] = [p.hex() for p in event.photos]
    if event.note:
        out["wt:note"] = event.note
    return out

"""Outside custody data replayed from files: EPCIS 2.0 JSON-LD documents as checker records.

An auditor, another agency or a neighbouring province may hand over events as an EPCIS 2.0
document, ours (``custody.epcis.document``) or another system's. Read back, they are checked
exactly like the ledger's events, but they are *outside data*: nothing here is signed or
verified, every record has ledger index ``-1``, and a record's ``event_hash`` is only the name
the document gives the event.

What is read, per event (``ObjectEvent``, ``AggregationEvent`` or ``TransformationEvent``):

- the step from ``bizStep`` (a bare CBV term, ``https://ref.gs1.org/cbv/BizStep-…`` or
  ``urn:epcglobal:cbv:bizstep:…``), with ``disposition`` telling a rejection (``receiving`` +
  ``non_conformant``) and a return (``shipping`` + ``returned``) apart, and an
  ``AggregationEvent`` with ``packing`` being a consolidation into ``parentID``. Our own step
  names are accepted too. Plain ``shipping`` is refused: it does not say who took the load.
- the containers from ``epcList`` (``childEPCs``; a transformation's ``inputEPCList``, its one
  ``outputEPCList`` entry being the parent), each the last path segment of its URI;
- ``eventTime`` (with its own offset, or ``eventTimeZoneOffset`` when it has none); the record's
  ``received_at`` is ``recordTime`` if given, else the event time;
- ``readPoint`` (a checkpoint, or ``geo:lat,lon``), ``wt:location``, a ``geo:`` ``bizLocation``;
- the ``wt:`` fields our export writes: ``party``, ``counterparty``, ``device``, ``counter``,
  ``vehicle``, ``prev``, ``parent``, ``photos``, ``note``, and ``eventId``/``manifest``/
  ``eventHash`` when given. Without ``wt:party`` (or ``wt:counterparty``) the possessing parties
  in ``sourceList``/``destinationList`` stand in, by the rule ``custody.epcis`` writes them;
- the manifest from the ``bol`` business transaction, the mass from a ``Mass`` sensor report.

The event hash is ``wt:eventHash`` if given, else the hash in an ``ni:///sha-256;<hex>``
``eventID`` (ours: the ledger's event hash, which the next event's ``wt:prev`` links to), else
the SHA-256 of the event's canonical JSON. Our export carries no event id, so one is derived
from the ``eventID`` (UUID 5); device and counter default to ``""`` and 0, back links to none.
Anything else wrong raises ``EventMalformed`` naming the event (``eventList[i]``) and the field.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Final, TypeVar
from urllib.parse import unquote, urlsplit

from custody.credit_code import parse_credit_code
from custody.digital_id import parse_digital_id
from custody.epcis import to_json
from custody.errors import CustodyError, EventMalformed
from custody.events import NO_PREVIOUS, CustodyEvent, Mass, MassSource, Step
from custody.history import Record
from custody.plates import parse_plate

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["events_from_epcis"]

_TYPES: Final = frozenset({"ObjectEvent", "AggregationEvent", "TransformationEvent"})
# CBV 2.0 business steps (bare terms) -> custody steps; the special cases are in _step().
_BIZ_STEPS: Final = {
    "commissioning": Step.COMMISSIONING,
    "packing": Step.PACKING,
    "loading": Step.LOADING,
    "departing": Step.DEPARTING,
    "transporting": Step.PASSING,
    "arriving": Step.ARRIVING,
    "receiving": Step.RECEIVING,
    "accepting": Step.RECEIVING,
    "storing": Step.STORING,
    "repackaging": Step.REPACKING,
    "destroying": Step.DESTROYING,
} | {step.value: step for step in Step}
_TAKES_POSSESSION: Final = frozenset({Step.LOADING, Step.RECEIVING})
_GIVES_UP_POSSESSION: Final = frozenset({Step.RETURNING})
_GRAMS_PER: Final = {"KGM": 1000, "GRM": 1, "TNE": 1_000_000}
_NI_SHA256: Final = re.compile(r"ni:///sha-256;([0-9a-fA-F]{64})(?:\?.*)?")
_HEX32: Final = re.compile(r"[0-9a-fA-F]{64}")
_OFFSET: Final = re.compile(r"([+-])(\d{2}):(\d{2})")
_T = TypeVar("_T")


def events_from_epcis(document: Mapping[str, object]) -> list[Record]:
    """The events of an EPCIS 2.0 document (or query document) as records, in document order.

    Raises:
        EventMalformed: the document holds no event list, or an event cannot be read (the error
            names ``eventList[i]`` and the field, in ``position`` and ``field``).
    """
    events = _event_list(document)
    vocabulary = _vocabulary(document.get("@context"))
    return [_Reader(raw, i, vocabulary).record() for i, raw in enumerate(events)]


def _event_list(document: Mapping[str, object]) -> list[object]:
    body = document.get("epcisBody")
    if isinstance(body, Mapping) and isinstance(body.get("queryResults"), Mapping):
        results = body["queryResults"].get("resultsBody")
        body = results if isinstance(results, Mapping) else None
    events = body.get("eventList") if isinstance(body, Mapping) else None
    if not isinstance(events, list):
        reason = "not an EPCIS document: no epcisBody.eventList"
        raise EventMalformed(reason, zh="不是 EPCIS 文档：缺少 epcisBody.eventList",
                             position=None, field="epcisBody", reason=reason)  # fmt: skip
    return events


def _vocabulary(context: object) -> str | None:
    """Where the document's ``wt:`` prefix points, so fully expanded names are read too."""
    for item in context if isinstance(context, list) else [context]:
        if isinstance(item, Mapping) and isinstance(item.get("wt"), str):
            return str(item["wt"])
    return None


def _term(value: str) -> str:
    """``https://ref.gs1.org/cbv/BizStep-loading``, ``urn:…:bizstep:loading``, ``loading``."""
    last = re.split(r"[/:#]", value.strip())[-1]
    return re.sub(r"^(BizStep|Disp|BTT|SDT)-", "", last, flags=re.IGNORECASE).lower()


def _segment(value: str) -> str:
    """The identifier in a URI our export writes (``…/containers/<id>``); other text as is."""
    if urlsplit(value).scheme in {"http", "https"}:
        return unquote(value.rstrip("/").rsplit("/", 1)[-1])
    return value


class _Reader:
    """One event of the document, read field by field; each fault names the field."""

    def __init__(self, raw: object, position: int, vocabulary: str | None) -> None:
        self.position = position
        self.vocabulary = vocabulary
        if not isinstance(raw, Mapping):
            raise self.fault("event", "is not a JSON object", "不是 JSON 对象")
        self.raw: Mapping[str, object] = raw

    def fault(self, field: str, reason: str, zh: str) -> EventMalformed:
        where = f"eventList[{self.position}]"
        return EventMalformed(
            f"EPCIS {where}, field {field}: {reason}",
            zh=f"EPCIS 事件 {where} 的字段 {field} 有误：{zh}",
            position=self.position, field=field, reason=reason,
        )  # fmt: skip

    def wt(self, name: str) -> object:
        """Our extension field ``wt:<name>``, prefixed or expanded."""
        if f"wt:{name}" in self.raw:
            return self.raw[f"wt:{name}"]
        return self.raw.get(f"{self.vocabulary}{name}") if self.vocabulary else None

    def text(self, field: str, value: object) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.fault(field, f"expected text, got {value!r}", "须为非空文本")
        return value.strip()

    def parsed(self, field: str, value: object, parse: Callable[[str], _T]) -> _T:
        """``parse`` the text; a custody error becomes a fault of this field."""
        text = self.text(field, value)
        try:
            return parse(text)
        except CustodyError as exc:
            raise self.fault(field, exc.message, exc.zh) from None

    def record(self) -> Record:
        kind = self.raw.get("type")
        if kind not in _TYPES:
            raise self.fault("type", f"{kind!r} is not an ObjectEvent, AggregationEvent or"
                             " TransformationEvent", "须为 ObjectEvent、AggregationEvent 或 "
                             "TransformationEvent")  # fmt: skip
        step = self._step(str(kind))
        containers, parent = self._containers(str(kind), step)
        party, counterparty = self._parties(step)
        event_time = self._time("eventTime")
        received = self._time("recordTime") if "recordTime" in self.raw else event_time
        read_point, location = self._where()
        event_hash = self._hash()
        prev = self._prev(len(containers))
        event_id, device, counter = self._event_id(event_hash), self._device(), self._counter()
        vehicle, manifest, mass = self._vehicle(), self._manifest(), self._mass()
        photos, note = self._photos(), self._note()
        try:  # what is left: limits on the whole event (text length, size)
            event = CustodyEvent(
                event_id=event_id, step=step, containers=containers, party=party, device=device,
                counter=counter, event_time=event_time, prev=prev, parent=parent,
                counterparty=counterparty, read_point=read_point, location=location,
                vehicle=vehicle, manifest=manifest, mass=mass, photos=photos, note=note,
            )  # fmt: skip
        except CustodyError as exc:
            raise self.fault("event", exc.message, exc.zh) from None
        return Record(-1, received, event_hash, event)

    # -- what happened ---------------------------------------------------------------------

    def _step(self, kind: str) -> Step:
        term = _term(self.text("bizStep", self.raw.get("bizStep")))
        disposition = self.raw.get("disposition")
        disposed = _term(disposition) if isinstance(disposition, str) else ""
        if kind == "AggregationEvent" and term in {"packing", "consolidating"}:
            return Step.CONSOLIDATING
        if term in {"receiving", "accepting"} and disposed == "non_conformant":
            return Step.REJECTING
        if term == "shipping" and disposed == "returned":
            return Step.RETURNING
        if term not in _BIZ_STEPS:
            raise self.fault("bizStep", f"{term!r} has no custody step here",
                             f"业务步骤“{term}”无对应的交接环节")  # fmt: skip
        return _BIZ_STEPS[term]

    def _containers(self, kind: str, step: Step) -> tuple[tuple[str, ...], str | None]:
        field = {"AggregationEvent": "childEPCs", "TransformationEvent": "inputEPCList"}.get(
            kind, "epcList"
        )
        listed = self.raw.get(field)
        if not isinstance(listed, list) or not listed:
            raise self.fault(field, "expected a non-empty list of container ids",
                             "须为非空的容器编号列表")  # fmt: skip
        containers = tuple(self._container(f"{field}[{j}]", epc) for j, epc in enumerate(listed))
        parent: str | None = None
        if kind == "AggregationEvent" and step is Step.CONSOLIDATING:
            parent = self._container("parentID", self.raw.get("parentID"))
        elif kind == "TransformationEvent":
            outputs = self.raw.get("outputEPCList")
            if not isinstance(outputs, list) or len(outputs) != 1:
                raise self.fault("outputEPCList", "expected exactly one target container",
                                 "须恰好列出一个目标容器")  # fmt: skip
            parent = self._container("outputEPCList[0]", outputs[0])
        elif self.wt("parent") is not None:
            parent = self._container("wt:parent", self.wt("parent"))
        return containers, parent

    def _container(self, field: str, value: object) -> str:
        return self.parsed(field, value, lambda text: parse_digital_id(_segment(text)).text)

    def _party(self, field: str, value: object) -> str:
        return self.parsed(field, value, lambda text: parse_credit_code(_segment(text)).text)

    def _parties(self, step: Step) -> tuple[str, str | None]:
        """The actor and the other side: ``wt:`` fields, else the possession lists."""
        source = self._possessor("sourceList", "source")
        destination = self._possessor("destinationList", "destination")
        actor, other = None, None
        if step in _TAKES_POSSESSION:
            other, actor = source, destination
        elif step in _GIVES_UP_POSSESSION:
            actor, other = source, destination
        if self.wt("party") is not None:
            actor = self._party("wt:party", self.wt("party"))
        if self.wt("counterparty") is not None:
            other = self._party("wt:counterparty", self.wt("counterparty"))
        if actor is None:
            raise self.fault("wt:party", "names no acting party (nor do the possession lists)",
                             "未载明操作单位（交接双方列表中也没有）")  # fmt: skip
        return actor, other

    def _possessor(self, field: str, key: str) -> str | None:
        listed = self.raw.get(field)
        if listed is None:
            return None
        if not isinstance(listed, list):
            raise self.fault(field, "expected a list", "须为列表")
        for j, item in enumerate(listed):
            if isinstance(item, Mapping) and _term(str(item.get("type", ""))) in {
                "possessing_party",
                "",
            }:
                return self._party(f"{field}[{j}].{key}", item.get(key))
        return None

    # -- when and where ----------------------------------------------------------------------

    def _time(self, field: str) -> datetime:
        text = self.text(field, self.raw.get(field))
        try:
            when = datetime.fromisoformat(text)
        except ValueError:
            raise self.fault(field, f"{text!r} is not an ISO 8601 time",
                             f"“{text}”不是 ISO 8601 时间") from None  # fmt: skip
        if when.tzinfo is None:
            when = when.replace(tzinfo=self._offset(field))
        return when

    def _offset(self, field: str) -> timezone:
        value = self.raw.get("eventTimeZoneOffset")
        found = _OFFSET.fullmatch(value.strip()) if isinstance(value, str) else None
        if found is None:
            raise self.fault(field, "has no zone, and eventTimeZoneOffset gives none",
                             "缺少时区，eventTimeZoneOffset 也未给出")  # fmt: skip
        sign, hours, minutes = found.groups()
        offset = timedelta(hours=int(hours), minutes=int(minutes))
        return timezone(-offset if sign == "-" else offset)

    def _where(self) -> tuple[str | None, tuple[float, float] | None]:
        read_point: str | None = None
        location = None
        point = self.raw.get("readPoint")
        if point is not None:
            ident = self.text(
                "readPoint.id", point.get("id") if isinstance(point, Mapping) else None
            )
            if ident.lower().startswith("geo:"):
                location = self._geo("readPoint.id", ident)
            else:
                read_point = _segment(ident)
        if self.wt("location") is not None:
            location = self._geo("wt:location", self.text("wt:location", self.wt("location")))
        place = self.raw.get("bizLocation")
        if location is None and isinstance(place, Mapping):
            where = place.get("id")
            if isinstance(where, str) and where.lower().startswith("geo:"):
                location = self._geo("bizLocation.id", where)
        return read_point, location

    def _geo(self, field: str, text: str) -> tuple[float, float]:
        """RFC 5870: ``geo:lat,lon[,alt][;params]``."""
        parts = text[4:].split(";", 1)[0].split(",")
        try:
            lat, lon = float(parts[0]), float(parts[1])
        except (ValueError, IndexError):
            raise self.fault(field, f"{text!r} is not geo:lat,lon",
                             f"“{text}”不是 geo:纬度,经度 格式") from None  # fmt: skip
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise self.fault(field, f"{text!r} is not a WGS-84 point", "不是有效的 WGS-84 坐标")
        return lat, lon

    # -- who, with what --------------------------------------------------------------------------

    def _device(self) -> str:
        value = self.wt("device")
        return "" if value is None else self.text("wt:device", value)

    def _counter(self) -> int:
        value = self.wt("counter")
        if value is None:
            return 0
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**63:
            raise self.fault("wt:counter", f"{value!r} is not a counter", "不是有效的设备计数")
        return value

    def _vehicle(self) -> str | None:
        value = self.wt("vehicle")
        return (
            None
            if value is None
            else self.parsed("wt:vehicle", value, lambda t: parse_plate(t).text)
        )

    def _manifest(self) -> str | None:
        if self.wt("manifest") is not None:
            return self.text("wt:manifest", self.wt("manifest"))
        listed = self.raw.get("bizTransactionList")
        if listed is None:
            return None
        if not isinstance(listed, list):
            raise self.fault("bizTransactionList", "expected a list", "须为列表")
        for j, item in enumerate(listed):
            if isinstance(item, Mapping) and _term(str(item.get("type", ""))) == "bol":
                field = f"bizTransactionList[{j}].bizTransaction"
                return _segment(self.text(field, item.get("bizTransaction")))
        return None

    def _mass(self) -> Mass | None:
        elements = self.raw.get("sensorElementList")
        if elements is None:
            return None
        if not isinstance(elements, list):
            raise self.fault("sensorElementList", "expected a list", "须为列表")
        for i, element in enumerate(elements):
            reports = element.get("sensorReport") if isinstance(element, Mapping) else None
            for j, report in enumerate(reports if isinstance(reports, list) else []):
                if isinstance(report, Mapping) and _term(str(report.get("type", ""))) == "mass":
                    return self._mass_of(f"sensorElementList[{i}].sensorReport[{j}]", report)
        return None

    def _mass_of(self, field: str, report: Mapping[str, object]) -> Mass:
        value, unit = report.get("value"), report.get("uom", "KGM")
        if isinstance(value, bool) or not isinstance(value, int | float) or unit not in _GRAMS_PER:
            raise self.fault(field, f"mass {value!r} {unit!r} is not a number in KGM, GRM or TNE",
                             "重量须为以 KGM、GRM 或 TNE 计的数值")  # fmt: skip
        source = report.get("wt:massSource")
        if source is None and self.vocabulary:
            source = report.get(f"{self.vocabulary}massSource")
        try:
            # A mass reported by someone else's sensor is a measurement, not a declaration.
            return Mass(round(value * _GRAMS_PER[str(unit)]), MassSource(str(source or "scale")))
        except (CustodyError, ValueError, OverflowError) as exc:
            raise self.fault(field, str(exc), "重量或其来源无效") from None

    def _photos(self) -> tuple[bytes, ...]:
        value = self.wt("photos")
        return () if value is None else self._hashes("wt:photos", value)

    def _note(self) -> str:
        value = self.wt("note")
        if value is None:
            return ""
        if not isinstance(value, str):
            raise self.fault("wt:note", "expected text", "须为文本")
        return value

    # -- identity and links ------------------------------------------------------------------

    def _hashes(self, field: str, value: object) -> tuple[bytes, ...]:
        if not isinstance(value, list):
            raise self.fault(field, "expected a list of SHA-256 hex strings",
                             "须为 SHA-256 十六进制字符串列表")  # fmt: skip
        out = []
        for j, item in enumerate(value):
            if not isinstance(item, str) or not _HEX32.fullmatch(item):
                raise self.fault(f"{field}[{j}]", f"{item!r} is not 64 hex digits",
                                 "不是 64 位十六进制哈希")  # fmt: skip
            out.append(bytes.fromhex(item))
        return tuple(out)

    def _prev(self, count: int) -> tuple[bytes, ...]:
        value = self.wt("prev")
        if value is None:
            return (NO_PREVIOUS,) * count
        prev = self._hashes("wt:prev", value)
        if len(prev) != count:
            raise self.fault("wt:prev", f"{len(prev)} back links for {count} containers",
                             f"前序哈希 {len(prev)} 个，与容器数 {count} 不符")  # fmt: skip
        return prev

    def _hash(self) -> bytes:
        given = self.wt("eventHash")
        if given is not None:
            return self._hashes("wt:eventHash", [given])[0]
        ident = self.raw.get("eventID")
        found = _NI_SHA256.fullmatch(ident) if isinstance(ident, str) else None
        if found is not None:
            return bytes.fromhex(found.group(1))
        try:
            return hashlib.sha256(to_json(self.raw).encode()).digest()
        except (TypeError, ValueError) as exc:
            raise self.fault("event", f"not plain JSON: {exc}", "不是纯 JSON 数据") from None

    def _event_id(self, event_hash: bytes) -> str:
        given = self.wt("eventId")
        if given is not None:
            return self.parsed("wt:eventId", given, lambda text: str(uuid.UUID(text)))
        ident = self.raw.get("eventID")
        name = ident if isinstance(ident, str) else f"ni:///sha-256;{event_hash.hex()}"
        return str(uuid.uuid5(uuid.NAMESPACE_URL, name))

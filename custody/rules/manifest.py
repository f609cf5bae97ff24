"""Manifests: what the scans say happened against what the transfer manifest declared.

Every loading, departure, arrival and receipt names its electronic transfer manifest
(电子转移联单). The manifest must exist, and the scans must match it: the carrier and its
vehicle, the receiver, the waste codes, the containers it lists and their generator. A load
with no manifest at all is a transfer the national system never saw.

One alert per manifest (subject: its number) listing every mismatch found; a load naming no
manifest, or one unknown here, gets ``no-manifest/{first container}``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from custody.alerts import Severity
from custody.digital_id import parse_digital_id
from custody.events import Step
from custody.facts import Facts, Rule
from custody.history import events_of
from custody.rules._chain_words import STEP_ZH, local

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from datetime import datetime

    from custody.alerts import Alert
    from custody.history import Record
    from custody.manifests import TransferManifest

__all__ = ["MANIFEST_MISMATCH", "MAX_LISTED"]

#: An alert lists at most this many records and mismatches; the facts count them all.
MAX_LISTED = 20
_MOVES = frozenset({Step.LOADING, Step.DEPARTING, Step.ARRIVING})
_STEPS = _MOVES | {Step.RECEIVING}
#: A waste that goes to another receiver, or is another waste, is the serious kind.
_SERIOUS = frozenset({"receiver", "waste_code"})
_FIELD_ZH = {
    "manifest": "联单",
    "transporter": "承运单位",
    "vehicle": "车辆",
    "receiver": "接收单位",
    "waste_code": "废物代码",
    "container": "容器",
    "generator": "产废单位",
}
_PARTY_FIELDS = frozenset({"transporter", "receiver", "generator"})


@dataclass(slots=True)
class _Case:
    """Everything found wrong about one manifest (or one load without one)."""

    subject: str
    manifest: TransferManifest | None
    named: str | None  # the manifest number the events named, known or not
    first: datetime
    last: datetime
    records: list[Record] = field(default_factory=list)  # the first MAX_LISTED
    events: int = 0
    found: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)  # (field, seen)

    def add(self, record: Record, mismatches: list[tuple[str, str, str]]) -> None:
        self.events += 1
        self.last = max(self.last, record.event.event_time)
        if len(self.records) < MAX_LISTED:
            self.records.append(record)
        for name, declared, seen in mismatches:
            entry = self.found.get((name, seen))
            if entry is None:
                self.found[name, seen] = {
                    "field": name,
                    "declared": declared,
                    "seen": seen,
                    "entry": record.index,
                    "step": record.event.step.value,
                    "events": 1,
                }
            else:
                entry["events"] += 1


def _records(facts: Facts, steps: frozenset[Step]) -> list[Record]:
    return events_of(facts.histories, steps)


def _mismatches(
    labels: Callable[[str], tuple[str, str]], record: Record, manifest: TransferManifest
) -> list[tuple[str, str, str]]:
    """(field, declared, seen) for every way the event departs from its manifest."""
    event = record.event
    found: list[tuple[str, str, str]] = []
    if event.step in _MOVES:
        if event.party != manifest.transporter:
            found.append(("transporter", manifest.transporter, event.party))
        if event.vehicle is not None and event.vehicle not in manifest.vehicles:
            found.append(("vehicle", "、".join(manifest.vehicles), event.vehicle))
    elif event.party != manifest.receiver:
        found.append(("receiver", manifest.receiver, event.party))
    listed = frozenset(manifest.containers)
    for container in event.containers:
        generator, code = labels(container)
        if code not in manifest.waste_codes:
            found.append(("waste_code", "、".join(manifest.waste_codes), code))
        if listed and container not in listed:
            found.append(("container", "", container))
        if generator != manifest.generator:
            found.append(("generator", manifest.generator, generator))
    return found


def _run(facts: Facts) -> Iterator[Alert]:
    cases: dict[str, _Case] = {}
    labels: dict[str, tuple[str, str]] = {}

    def label(container: str) -> tuple[str, str]:
        """The container's generator and waste code, parsed once per container."""
        found = labels.get(container)
        if found is None:
            registered = facts.containers.get(container)
            ident = registered.digital_id if registered else parse_digital_id(container)
            found = labels[container] = (ident.unit_code, ident.waste_code)
        return found

    def case(subject: str, manifest: TransferManifest | None, record: Record) -> _Case:
        found = cases.get(subject)
        if found is None:
            when = record.event.event_time
            found = cases[subject] = _Case(subject, manifest, record.event.manifest, when, when)
        return found

    for record in _records(facts, _STEPS):
        event = record.event
        manifest = facts.manifests.get(event.manifest) if event.manifest else None
        if manifest is None:
            # No manifest named: only a loading starts a transfer, the later steps follow it.
            if event.manifest is not None or event.step is Step.LOADING:
                subject = f"no-manifest/{event.containers[0]}"
                seen = event.manifest or ""
                case(subject, None, record).add(record, [("manifest", "", seen)])
            continue
        mismatches = _mismatches(label, record, manifest)
        if mismatches:
            case(manifest.number, manifest, record).add(record, mismatches)
    for found in cases.values():
        yield _alert(facts, found)


def _show(facts: Facts, name: str, value: str, *, zh: bool = True) -> str:
    if name not in _PARTY_FIELDS:
        return value
    return f"{facts.name(value)}（{value}）" if zh else f"{facts.name(value)} ({value})"


def _describe(facts: Facts, found: _Case) -> tuple[list[str], list[str]]:
    """One clause per field that differs, in Chinese and in English."""
    by_field: dict[str, list[dict[str, Any]]] = {}
    for entry in found.found.values():
        by_field.setdefault(entry["field"], []).append(entry)
    zh: list[str] = []
    en: list[str] = []
    for name, entries in by_field.items():
        if name == "container":
            zh.append(f"{len(entries)} 个容器未列入联单（如 {entries[0]['seen']}）")
            en.append(f"{len(entries)} container(s) not listed (e.g. {entries[0]['seen']})")
            continue
        declared = _show(facts, name, entries[0]["declared"])
        declared_en = _show(facts, name, entries[0]["declared"], zh=False)
        seen = "、".join(_show(facts, name, e["seen"]) for e in entries[:3])
        seen_en = ", ".join(_show(facts, name, e["seen"], zh=False) for e in entries[:3])
        if len(entries) > 3:
            seen, seen_en = f"{seen} 等 {len(entries)} 项", f"{seen_en} and more ({len(entries)})"
        if name == "waste_code":
            zh.append(f"废物代码 {seen} 不在联单所列（{declared}）之中")
            en.append(f"waste code {seen_en} not among {declared_en}")
        elif name == "generator":
            zh.append(f"产废单位应为{declared}，容器标签所示为{seen}")
            en.append(f"generator {seen_en} on the labels instead of {declared_en}")
        else:  # transporter, vehicle, receiver
            zh.append(f"{_FIELD_ZH[name]}应为{declared}，实为{seen}")
            en.append(f"{name} {seen_en} instead of {declared_en}")
    return zh, en


def _alert(facts: Facts, found: _Case) -> Alert:
    fields = dict.fromkeys(e["field"] for e in found.found.values())
    when = local(found.first)
    events = f"共 {found.events} 次扫码事件，首次于 {when}（北京时间）"
    events_en = f"{found.events} scan event(s), first at {when} China time"
    first = found.records[0].event
    if found.manifest is None:
        container = first.containers[0]
        carrier = f"{facts.name(first.party)}（{first.party}）"
        more = f" 等 {len(first.containers)} 个容器" if len(first.containers) > 1 else " "
        if found.named:
            zh = (
                f"{carrier}{STEP_ZH[first.step]}容器 {container}{more}时所报转移联单 "
                f"{found.named} 在本系统中不存在。{events}。"
            )
            en = (
                f"{facts.name(first.party)} ({first.party}) named transfer manifest "
                f"{found.named}, unknown here, for {len(first.containers)} container(s) "
                f"starting with {container}. {events_en}."
            )
        else:
            zh = f"{carrier}装车运走容器 {container}{more}时没有填报转移联单。{events}。"
            en = (
                f"{facts.name(first.party)} ({first.party}) loaded "
                f"{len(first.containers)} container(s) starting with {container} without a "
                f"transfer manifest. {events_en}."
            )
    else:
        manifest = found.manifest
        route = " → ".join(
            facts.name(p) for p in (manifest.generator, manifest.transporter, manifest.receiver)
        )
        parts_zh, parts_en = _describe(facts, found)
        zh = (
            f"转移联单 {manifest.number}（{route}）与扫码记录不符："
            f"{'；'.join(parts_zh)}。{events}。"
        )
        en = (
            f"Transfer manifest {manifest.number} ({route}) does not match the scans: "
            f"{'; '.join(parts_en)}. {events_en}."
        )
    mismatches = list(found.found.values())
    body: dict[str, Any] = {
        "manifest": found.manifest.number if found.manifest else found.named,
        "known": found.manifest is not None,
        "fields": list(fields),
        "mismatches": mismatches[: MAX_LISTED * 5],
        "mismatch_count": len(mismatches),
        "events": found.events,
        "listed_records": len(found.records),
    }
    severity = Severity.HIGH if _SERIOUS & fields.keys() else None
    named = tuple(dict.fromkeys(c for r in found.records for c in r.event.containers))
    return MANIFEST_MISMATCH.alert(
        found.subject,
        zh,
        en,
        found.records,
        containers=named[:MAX_LISTED],
        start=found.first,
        end=found.last,
        facts=body,
        severity=severity,
    )


MANIFEST_MISMATCH = Rule(
    "manifest-mismatch",
    Severity.MEDIUM,
    "转移联单与实际不符",
    "Scans do not match the transfer manifest",
    _run,
)

"""Permits and licences: who may carry hazardous waste, and who may accept it, on the day they did.

A transporter needs a road transport operating permit for dangerous goods valid on the day it
loads or moves a container, and a vehicle registered to it; a receiver (a storage site, a
disposer) needs a hazardous waste operating licence valid that day, covering the waste code,
and may not take in more in a calendar year than the licence's yearly capacity. The legal day is
China's (UTC+8). A party that is not registered here at all is flagged as such.

One alert per party and reason (subject ``{party}/{reason}``), resting on the first offending
events; the counts of all of them are in the facts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from custody.alerts import Severity
from custody.digital_id import parse_digital_id
from custody.events import Step
from custody.facts import Facts, Rule
from custody.history import events_of
from custody.rules._chain_words import STEP_ZH, local

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Sequence

    from custody.alerts import Alert
    from custody.history import Record
    from custody.parties import OperatingLicence

__all__ = ["MAX_LISTED", "UNLICENSED"]

#: An alert lists at most this many records and containers; the facts count them all.
MAX_LISTED = 20
_CHINA = timezone(timedelta(hours=8))
_MOVES = frozenset({Step.LOADING, Step.DEPARTING, Step.ARRIVING})
_ACCEPTS = frozenset({Step.RECEIVING, Step.STORING, Step.DESTROYING})
_ROLE_ZH = {"transporter": "运输单位", "receiver": "接收单位"}


@dataclass(slots=True)
class _Finding:
    """What is known so far about one party and one reason."""

    party: str
    reason: str
    first: datetime
    last: datetime
    records: list[Record] = field(default_factory=list)  # the first MAX_LISTED
    containers: dict[str, None] = field(default_factory=dict)  # every container, in order
    events: int = 0
    steps: dict[Step, None] = field(default_factory=dict)
    roles: dict[str, None] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def add(self, record: Record, containers: Iterable[str], role: str) -> None:
        self.events += 1
        self.last = max(self.last, record.event.event_time)
        if len(self.records) < MAX_LISTED:
            self.records.append(record)
        self.containers.update(dict.fromkeys(containers))
        self.steps[record.event.step] = None
        self.roles[role] = None


@dataclass(slots=True)
class _Scan:
    """One pass over the events in time order, gathering findings per party and reason."""

    facts: Facts
    findings: dict[tuple[str, str], _Finding] = field(default_factory=dict)
    received_g: dict[tuple[str, int], int] = field(default_factory=dict)  # (party, year)
    labels: dict[str, tuple[str, str]] = field(default_factory=dict)  # generator, waste code
    covered: dict[tuple[str, date, str], bool] = field(default_factory=dict)  # party, day, code

    def note(
        self, party: str, reason: str, record: Record, containers: Sequence[str], role: str
    ) -> _Finding:
        key = (party, reason)
        found = self.findings.get(key)
        if found is None:
            when = record.event.event_time
            found = self.findings[key] = _Finding(party, reason, when, when)
        found.add(record, containers, role)
        return found

    def label(self, container: str) -> tuple[str, str]:
        """The container's generator and waste code (parsed once: a million events repeat them)."""
        found = self.labels.get(container)
        if found is None:
            registered = self.facts.containers.get(container)
            ident = registered.digital_id if registered else parse_digital_id(container)
            found = self.labels[container] = (ident.unit_code, ident.waste_code)
        return found

    def transporter(self, record: Record, day: date) -> None:
        event, facts = record.event, self.facts
        party = event.party
        if party not in facts.parties:
            self.note(party, "unregistered", record, event.containers, "transporter")
        elif not any(p.valid_on(day) for p in facts.permits.get(party, ())):
            self.note(party, "no-permit", record, event.containers, "transporter")
        if event.step is Step.LOADING and event.vehicle is not None:
            vehicle = facts.vehicles.get(event.vehicle)
            if vehicle is not None and vehicle.operator != party:
                found = self.note(
                    party, f"vehicle:{event.vehicle}", record, event.containers, "transporter"
                )
                found.extra["operator"] = vehicle.operator

    def receiver(self, record: Record, day: date) -> None:
        event, facts = record.event, self.facts
        party = event.party
        # A generator keeping or treating its own waste needs no operating licence.
        foreign = [c for c in event.containers if self.label(c)[0] != party]
        if not foreign:
            return
        if party not in facts.parties:
            self.note(party, "unregistered", record, foreign, "receiver")
            return
        valid = [lic for lic in facts.licences.get(party, ()) if lic.valid_on(day)]
        if event.step is Step.RECEIVING:
            self._capacity(record, foreign, valid)
        if not valid:
            self.note(party, "no-licence", record, foreign, "receiver")
            return
        for container in foreign:
            code = self.label(container)[1]
            covered = self.covered.get((party, day, code))
            if covered is None:
                covered = self.covered[party, day, code] = any(lic.covers(code) for lic in valid)
            if not covered:
                self.note(party, f"scope:{code}", record, (container,), "receiver")

    def _capacity(
        self, record: Record, foreign: Sequence[str], valid: Sequence[OperatingLicence]
    ) -> None:
        event = record.event
        if event.mass is not None:
            mass = event.mass.grams
        else:
            mass = sum(self.facts.declared_g(c) or 0 for c in foreign)
        year = event.event_time.astimezone(_CHINA).year
        key = (event.party, year)
        before = self.received_g.get(key, 0)
        after = self.received_g[key] = before + mass
        if not valid:
            return
        # Renewals do not overlap, parallel licences (one per plant) add up.
        capacity_g = round(sum(lic.capacity_t_per_year for lic in valid) * 1_000_000)
        reason = f"capacity:{year}"
        if after > capacity_g and (event.party, reason) not in self.findings:
            found = self.note(event.party, reason, record, foreign, "receiver")
            found.extra.update(
                year=year,
                capacity_g=capacity_g,
                before_g=before,
                after_g=after,
                event_g=mass,
                licences=[lic.number for lic in valid],
            )


def _records(facts: Facts, steps: frozenset[Step]) -> list[Record]:
    return events_of(facts.histories, steps)


def _run(facts: Facts) -> Iterator[Alert]:
    scan = _Scan(facts)
    for record in _records(facts, _MOVES | _ACCEPTS):
        day = record.event.event_time.astimezone(_CHINA).date()
        if record.event.step in _MOVES:
            scan.transporter(record, day)
        else:
            scan.receiver(record, day)
    for found in scan.findings.values():
        yield _alert(facts, found)


def _alert(facts: Facts, found: _Finding) -> Alert:
    party, reason = found.party, found.reason
    who_zh, who = f"{facts.name(party)}（{party}）", f"{facts.name(party)} ({party})"
    steps_zh = "、".join(STEP_ZH[s] for s in found.steps)
    steps = ", ".join(s.value for s in found.steps)
    count_zh = (
        f"共 {found.events} 次事件、涉及 {len(found.containers)} 个容器，"
        f"首次于 {local(found.first)}（北京时间）"
    )
    count = (
        f"{found.events} event(s), {len(found.containers)} container(s), first at "
        f"{local(found.first)} China time"
    )
    kind = reason.split(":", 1)[0]
    if kind == "unregistered":
        roles_zh = "、".join(_ROLE_ZH[r] for r in found.roles)
        zh = (
            f"单位 {party} 未在本系统登记，却作为{roles_zh}经手危险废物（{steps_zh}）。{count_zh}。"
        )
        en = (
            f"Party {party} is not registered here but acted as {' and '.join(found.roles)} "
            f"({steps}). {count}."
        )
    elif kind == "no-permit":
        zh, en = _no_permit_text(facts, found, who_zh, who)
        zh, en = f"{zh}{count_zh}。", f"{en} {count}."
    elif kind == "vehicle":
        plate, operator = reason.split(":", 1)[1], found.extra["operator"]
        zh = (
            f"车辆 {plate} 登记在{facts.name(operator)}（{operator}）名下，却被{who_zh}"
            f"用于装载危险废物。{count_zh}。"
        )
        en = (
            f"Vehicle {plate} is registered to {facts.name(operator)} ({operator}) but "
            f"{who} loaded hazardous waste on it. {count}."
        )
    elif kind == "no-licence":
        zh = f"{who_zh}没有当日有效的危险废物经营许可证，却{steps_zh}了危险废物。{count_zh}。"
        en = (
            f"{who} has no hazardous waste operating licence valid on the day, yet handled "
            f"hazardous waste ({steps}). {count}."
        )
    elif kind == "scope":
        code = reason.split(":", 1)[1]
        zh = (
            f"{who_zh}的危险废物经营许可证不包括废物代码 {code}（HW{code[-2:]} 类），"
            f"却{steps_zh}了该类废物。{count_zh}。"
        )
        en = (
            f"{who}'s operating licence does not cover waste code {code} (HW{code[-2:]}), "
            f"yet handled such waste ({steps}). {count}."
        )
    else:  # capacity
        zh, en = _capacity_text(found, who_zh, who)
    return UNLICENSED.alert(
        f"{party}/{reason}",
        zh,
        en,
        found.records,
        containers=tuple(found.containers)[:MAX_LISTED],
        parties=(party, found.extra["operator"]) if kind == "vehicle" else (party,),
        start=found.first,
        end=found.last,
        facts=_facts(found),
    )


def _no_permit_text(facts: Facts, found: _Finding, who_zh: str, who: str) -> tuple[str, str]:
    day = found.first.astimezone(_CHINA).date()
    permits = facts.permits.get(found.party, ())
    expired = [p for p in permits if p.valid_to < day]
    if not permits:
        why_zh, why = "本系统未登记其任何运输许可证", "no permit of it is registered"
    elif expired:
        latest = max(expired, key=lambda p: p.valid_to)
        why_zh = f"其许可证 {latest.number} 已于 {latest.valid_to} 到期"
        why = f"its permit {latest.number} expired on {latest.valid_to}"
    else:
        earliest = min(permits, key=lambda p: p.valid_from)
        why_zh = f"其许可证 {earliest.number} 自 {earliest.valid_from} 起才生效"
        why = f"its permit {earliest.number} only starts on {earliest.valid_from}"
    zh = (
        f"{who_zh}于 {day} 运输危险废物（{'、'.join(STEP_ZH[s] for s in found.steps)}），"
        f"但当日没有有效的道路危险货物运输经营许可证（{why_zh}）。"
    )
    en = (
        f"{who} moved hazardous waste on {day} without a dangerous goods transport permit "
        f"valid that day ({why})."
    )
    return zh, en


def _capacity_text(found: _Finding, who_zh: str, who: str) -> tuple[str, str]:
    extra = found.extra
    year, cap_t, after_t = extra["year"], extra["capacity_g"] / 1e6, extra["after_g"] / 1e6
    when, kg = local(found.first), extra["event_g"] / 1000
    zh = (
        f"{who_zh} {year} 年累计接收危险废物 {after_t:.3f} 吨，超过经营许可证核准的年经营规模 "
        f"{cap_t:.3f} 吨。越过上限的是 {when}（北京时间）的接收，重量 {kg:.1f} 千克。"
    )
    en = (
        f"{who} has received {after_t:.3f} t of hazardous waste in {year}, more than the "
        f"{cap_t:.3f} t a year its licence allows; the receipt at {when} China time "
        f"({kg:.1f} kg) crossed the limit."
    )
    return zh, en


def _facts(found: _Finding) -> dict[str, Any]:
    facts: dict[str, Any] = {
        "party": found.party,
        "reason": found.reason,
        "roles": list(found.roles),
        "steps": [s.value for s in found.steps],
        "events": found.events,
        "containers": len(found.containers),
        "first": found.first.isoformat(),
        "last": found.last.isoformat(),
        "listed_records": len(found.records),
    }
    extra = dict(found.extra)
    for key in ("capacity_g", "before_g", "after_g", "event_g"):
        if key in extra:
            extra[key.removesuffix("_g") + "_kg"] = extra.pop(key) / 1000
    return facts | extra


UNLICENSED = Rule(
    "unlicensed",
    Severity.HIGH,
    "无证或超范围运输、经营危险废物",
    "Transport or disposal without a valid permit or licence",
    _run,
)

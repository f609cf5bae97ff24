"""Mass: what the generator declared against what the receiver weighed, per drum and in sum.

Weight is evidence (dumping 3 t or more is a crime), so two rules read it:

- ``mass-discrepancy``: one receipt (or one consolidation) whose weighed mass differs from the
  declared mass by more than the tolerance (2 % or 20 kg by default, a regulator's setting).
- ``mass-balance``: a generator whose waste goes missing in aggregate. 15 kg skimmed off each
  200 kg drum stays inside the per-drum tolerance, but over 60 drums it is 900 kg; the balance
  sums declared and weighed masses over a rolling window and flags the gap.

``monthly_balance`` gives the same figures as a table for reports.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Literal

from custody.alerts import Severity
from custody.events import MassSource, Step
from custody.facts import Facts, Rule
from custody.history import events_of
from custody.rules._chain_words import local

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from custody.alerts import Alert
    from custody.events import CustodyEvent, Mass
    from custody.history import Record

__all__ = ["MASS_BALANCE", "MASS_DISCREPANCY", "BalanceRow", "monthly_balance"]

#: An alert lists at most this many containers or records; the facts count them all.
MAX_LISTED = 20
#: A gap of at least this share of the declared mass, or this many grams, is urgent.
HIGH_SHARE = 0.10
HIGH_G = 500_000
#: Illegally disposing of 3 t or more is "serious pollution" (法释〔2023〕7号).
CRIMINAL_G = 3_000_000
_CHINA = timezone(timedelta(hours=8))
_SOURCE_ZH = {
    MassSource.DECLARED: "申报",
    MassSource.WEIGHBRIDGE: "地磅",
    MassSource.SCALE: "电子秤",
}


def _kg(grams: float) -> str:
    return f"{grams / 1000:,.1f}"


def _month(when: datetime) -> str:
    return f"{when.astimezone(_CHINA):%Y-%m}"


def _records(facts: Facts, steps: frozenset[Step]) -> list[Record]:
    return events_of(facts.histories, steps)


def _shares(facts: Facts, event: CustodyEvent) -> dict[str, int] | None:
    """The event's mass split over its containers by declared mass (None if it cannot be)."""
    if event.mass is None:
        return None
    declared: dict[str, int] = {}
    for container in event.containers:
        found = facts.declared_g(container)
        if found is None:
            return None
        declared[container] = found
    total, mass = sum(declared.values()), event.mass.grams
    shares = {c: mass * d // total for c, d in declared.items()}
    shares[event.containers[-1]] += mass - sum(shares.values())  # rounding, so the sum holds
    return shares


def _severity(gap_g: int, declared_g: int) -> Severity:
    gap = abs(gap_g)
    urgent = gap >= HIGH_G or gap >= HIGH_SHARE * declared_g
    return Severity.HIGH if urgent else Severity.MEDIUM


# --- one receipt, one consolidation --------------------------------------------------------


def _discrepancies(facts: Facts) -> Iterator[Alert]:
    for record in _records(facts, frozenset({Step.RECEIVING, Step.CONSOLIDATING})):
        event = record.event
        if event.mass is None:
            continue
        if event.step is Step.RECEIVING:
            alert = _receipt(facts, record, event.mass)
        elif event.parent is not None:
            alert = _consolidation(facts, record, event.parent, event.mass.grams)
        else:
            continue
        if alert is not None:
            yield alert


def _receipt(facts: Facts, record: Record, mass: Mass) -> Alert | None:
    event, measured, source = record.event, mass.grams, mass.source
    declared: dict[str, int] = {}
    for container in event.containers:
        found = facts.declared_g(container)
        if found is None:  # not registered here: nothing to compare the total with
            return None
        declared[container] = found
    total = sum(declared.values())
    gap, tolerance = measured - total, facts.settings.mass_tolerance_for(total)
    if abs(gap) <= tolerance:
        return None
    first, count = event.containers[0], len(event.containers)
    receiver = f"{facts.name(event.party)}（{event.party}）"
    generators = dict.fromkeys(facts.containers[c].facts.generator for c in declared)
    giver = "、".join(facts.name(g) for g in generators)
    more_zh, more = ("多", "more") if gap > 0 else ("少", "less")
    what_zh = f"容器 {first}" if count == 1 else f"共 {count} 个容器（首个为 {first}）"
    what = f"container {first}" if count == 1 else f"{count} containers (first {first})"
    zh = (
        f"{receiver}于 {local(event.event_time)}（北京时间）接收{what_zh}，"
        f"{_SOURCE_ZH[source]}称重 {_kg(measured)} 千克，{giver}申报 {_kg(total)} 千克，"
        f"{more_zh} {_kg(abs(gap))} 千克（{abs(gap) / total:.1%}），"
        f"超出允许误差 {_kg(tolerance)} 千克。"
    )
    en = (
        f"{facts.name(event.party)} ({event.party}) received {what} at "
        f"{local(event.event_time)} China time and weighed {_kg(measured)} kg "
        f"({source.value}); the declared mass is {_kg(total)} kg, {_kg(abs(gap))} kg {more} "
        f"({abs(gap) / total:.1%}), beyond the {_kg(tolerance)} kg tolerance."
    )
    body: dict[str, Any] = {
        "kind": "receipt",
        "container": first,
        "containers": count,
        "multi_container": count > 1,
        "receiver": event.party,
        "generators": list(generators),
        "declared_kg": total / 1000,
        "measured_kg": measured / 1000,
        "gap_kg": gap / 1000,
        "gap_share": round(gap / total, 4),
        "tolerance_kg": tolerance / 1000,
        "mass_source": source.value,
    }
    if count > 1:
        listed = list(declared.items())[:MAX_LISTED]
        body["declared_per_container"] = [{"container": c, "kg": g / 1000} for c, g in listed]
    return MASS_DISCREPANCY.alert(
        first,
        zh,
        en,
        [record],
        containers=event.containers[:MAX_LISTED],
        parties=(event.party, *generators),
        facts=body,
        severity=_severity(gap, total),
    )


def _child_mass(facts: Facts, child: str, before: Record) -> tuple[int, str] | None:
    """A child's mass before it was emptied: its own weighed receipt, else its declared mass.

    A receipt of several drums weighs them together, so only a receipt naming the child alone
    gives its own mass.
    """
    history = facts.histories.get(child)
    cut = (before.event.event_time, before.index)
    for record in reversed(history.records if history else []):
        event = record.event
        if (
            event.step is Step.RECEIVING
            and event.mass is not None
            and event.containers == (child,)
            and (event.event_time, record.index) <= cut
        ):
            return event.mass.grams, "received"
    declared = facts.declared_g(child)
    return None if declared is None else (declared, "declared")


def _consolidation(facts: Facts, record: Record, parent: str, measured: int) -> Alert | None:
    event = record.event
    parts: list[tuple[str, int, str]] = []
    for child in event.containers:
        found = _child_mass(facts, child, record)
        if found is None:
            return None
        parts.append((child, *found))
    total = sum(grams for _, grams, _ in parts)
    gap, tolerance = measured - total, facts.settings.mass_tolerance_for(total)
    if abs(gap) <= tolerance:
        return None
    who = f"{facts.name(event.party)}（{event.party}）"
    more_zh, more = ("多", "more") if gap > 0 else ("少", "less")
    zh = (
        f"{who}于 {local(event.event_time)}（北京时间）将 {len(parts)} 个容器合并装入容器 "
        f"{parent}，合并后称重 {_kg(measured)} 千克，而被合并容器合计 {_kg(total)} 千克，"
        f"{more_zh} {_kg(abs(gap))} 千克（{abs(gap) / total:.1%}），"
        f"超出允许误差 {_kg(tolerance)} 千克。"
    )
    en = (
        f"{facts.name(event.party)} ({event.party}) consolidated {len(parts)} containers into "
        f"{parent} at {local(event.event_time)} China time; the new container weighs "
        f"{_kg(measured)} kg against {_kg(total)} kg in the containers emptied into it, "
        f"{_kg(abs(gap))} kg {more} ({abs(gap) / total:.1%}), beyond the {_kg(tolerance)} kg "
        "tolerance."
    )
    body: dict[str, Any] = {
        "kind": "consolidation",
        "parent": parent,
        "children": len(parts),
        "children_kg": total / 1000,
        "measured_kg": measured / 1000,
        "gap_kg": gap / 1000,
        "gap_share": round(gap / total, 4),
        "tolerance_kg": tolerance / 1000,
        "per_child": [
            {"container": c, "kg": g / 1000, "source": s} for c, g, s in parts[:MAX_LISTED]
        ],
    }
    return MASS_DISCREPANCY.alert(
        parent,
        zh,
        en,
        [record],
        containers=(parent, *event.containers[: MAX_LISTED - 1]),
        parties=(event.party,),
        facts=body,
        severity=_severity(gap, total),
    )


MASS_DISCREPANCY = Rule(
    "mass-discrepancy",
    Severity.MEDIUM,
    "重量不符",
    "Received mass differs from the declared mass",
    _discrepancies,
)


# --- a generator's balance -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Receipt:
    """A container's first receipt: who received it, and its share of the receipt's mass."""

    container: str
    generator: str
    receiver: str
    record: Record
    declared_g: int
    received_g: int

    @property
    def when(self) -> datetime:
        return self.record.event.event_time


def _receipts(facts: Facts, *, measured_only: bool) -> list[_Receipt]:
    """Each registered container's first receipt up to ``as_of``, in time order.

    ``measured_only``: only receipts weighed by the receiver (a mass from a weighbridge or a
    scale); otherwise any receipt, at its mass or else the declared mass.
    """
    counted: set[str] = set()
    found: list[_Receipt] = []
    for record in _records(facts, frozenset({Step.RECEIVING})):
        event = record.event
        if event.event_time > facts.as_of:
            break
        measured = event.mass is not None and event.mass.source is not MassSource.DECLARED
        if measured_only and not measured:
            continue
        fresh = [c for c in event.containers if c not in counted and c in facts.containers]
        shares = _shares(facts, event)
        if not fresh or (measured_only and shares is None):
            continue
        for container in fresh:
            counted.add(container)
            declared = facts.containers[container].facts
            received = shares[container] if shares else declared.declared_net_mass_g
            found.append(
                _Receipt(
                    container,
                    declared.generator,
                    event.party,
                    record,
                    declared.declared_net_mass_g,
                    received,
                )
            )
    return found


@dataclass(frozen=True, slots=True)
class _Window:
    """The receipts of one generator in one window, and how many windows were flagged."""

    start: datetime
    end: datetime
    receipts: Sequence[_Receipt]
    declared_g: int
    received_g: int
    flagged: int

    @property
    def gap_g(self) -> int:
        return self.declared_g - self.received_g


def _month_end(when: datetime) -> datetime:
    day = when.astimezone(_CHINA)
    return datetime(day.year + day.month // 12, day.month % 12 + 1, 1, tzinfo=_CHINA)


def _worst_window(facts: Facts, receipts: Sequence[_Receipt]) -> _Window | None:
    """The flagged window with the largest gap, of those ending at each month end with data."""
    settings = facts.settings
    times = [r.when for r in receipts]
    declared, received = [0], [0]  # prefix sums
    for receipt in receipts:
        declared.append(declared[-1] + receipt.declared_g)
        received.append(received[-1] + receipt.received_g)
    flagged: list[tuple[int, datetime, int, int]] = []  # gap, end, first and stop index
    for end in dict.fromkeys(_month_end(t) for t in times):
        first = bisect.bisect_left(times, end - settings.balance_window)
        stop = bisect.bisect_left(times, end)
        in_declared = declared[stop] - declared[first]
        gap = in_declared - (received[stop] - received[first])
        if gap >= settings.balance_min_g and gap >= round(settings.balance_share * in_declared):
            flagged.append((gap, end, first, stop))
    if not flagged:
        return None
    _, end, first, stop = max(flagged, key=lambda f: f[0])  # the first of equal gaps
    return _Window(
        end - settings.balance_window,
        end,
        receipts[first:stop],
        declared[stop] - declared[first],
        received[stop] - received[first],
        len(flagged),
    )


def _balance(facts: Facts) -> Iterator[Alert]:
    by_generator: dict[str, list[_Receipt]] = defaultdict(list)
    for receipt in _receipts(facts, measured_only=True):
        by_generator[receipt.generator].append(receipt)
    for generator, receipts in by_generator.items():
        worst = _worst_window(facts, receipts)
        if worst is not None:
            yield _balance_alert(facts, generator, worst)


def _balance_alert(facts: Facts, generator: str, window: _Window) -> Alert:
    settings = facts.settings
    gap, declared, received = window.gap_g, window.declared_g, window.received_g
    count = len(window.receipts)
    first_day = window.start.astimezone(_CHINA).date()
    in_progress = window.end > facts.as_of
    last = facts.as_of if in_progress else window.end - timedelta(microseconds=1)
    last_day = last.astimezone(_CHINA).date()
    who_zh, who = (
        f"{facts.name(generator)}（{generator}）",
        f"{facts.name(generator)} ({generator})",
    )
    receivers = dict.fromkeys(r.receiver for r in window.receipts)
    zh = (
        f"{who_zh}在 {first_day} 至 {last_day} 期间交出、经接收单位称重的危险废物"
        f"共 {count} 个容器，"
        f"申报 {_kg(declared)} 千克，实收 {_kg(received)} 千克，短少 {_kg(gap)} 千克"
        f"（{gap / declared:.1%}），达到预警线（{_kg(settings.balance_min_g)} 千克且 "
        f"{settings.balance_share:.1%}）。单个容器的差额可能都在允许误差之内，请核查是否存在"
        "系统性少装、截留或倾倒。"
    )
    en = (
        f"{who} handed over {count} containers weighed by their receivers between {first_day} "
        f"and {last_day}: {_kg(declared)} kg declared, {_kg(received)} kg received, "
        f"{_kg(gap)} kg missing ({gap / declared:.1%}), at or above the warning line "
        f"({_kg(settings.balance_min_g)} kg and {settings.balance_share:.1%}). Each container "
        "may be within the tolerance; check for systematic skimming or dumping."
    )
    if gap >= CRIMINAL_G:
        zh += (
            "短少量已达 3 吨：非法排放、倾倒、处置 3 吨以上危险废物属“严重污染环境”"
            "（法释〔2023〕7号）。"
        )
        en += " The gap reaches 3 t, the threshold of 'serious pollution' (法释〔2023〕7号)."
    if in_progress:
        zh += f"本期尚未结束，按截至 {local(facts.as_of)} 的数据计算。"
        en += f" The window is still open; figures as of {local(facts.as_of)} China time."
    # The receipts short by most are the evidence to open first.
    shown = sorted(window.receipts, key=lambda r: r.received_g - r.declared_g)[:MAX_LISTED]
    shown.sort(key=lambda r: (r.when, r.record.index))
    months: dict[str, list[int]] = {}
    for receipt in window.receipts:
        row = months.setdefault(_month(receipt.when), [0, 0, 0])
        row[0] += receipt.declared_g
        row[1] += receipt.received_g
        row[2] += 1
    body: dict[str, Any] = {
        "generator": generator,
        "window_start": first_day.isoformat(),
        "window_end": last_day.isoformat(),
        "in_progress": in_progress,
        "declared_kg": declared / 1000,
        "received_kg": received / 1000,
        "gap_kg": gap / 1000,
        "gap_share": round(gap / declared, 4),
        "containers": count,
        "min_gap_kg": settings.balance_min_g / 1000,
        "min_share": settings.balance_share,
        "windows_flagged": window.flagged,
        "months": [
            {
                "month": month,
                "declared_kg": d / 1000,
                "received_kg": r / 1000,
                "gap_kg": (d - r) / 1000,
                "containers": n,
            }
            for month, (d, r, n) in months.items()
        ],
    }
    return MASS_BALANCE.alert(
        generator,
        zh,
        en,
        [r.record for r in shown],
        containers=tuple(dict.fromkeys(r.container for r in shown)),
        parties=(generator, *receivers),
        start=window.receipts[0].when,
        end=window.receipts[-1].when,
        facts=body,
    )


MASS_BALANCE = Rule(
    "mass-balance",
    Severity.HIGH,
    "产废单位危险废物重量不平衡",
    "A generator's waste goes missing in aggregate",
    _balance,
)


# --- the table for reports -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BalanceRow:
    """One party's month: what was declared, moved (loaded) and received, in grams.

    For a generator: ``declared_g`` and ``containers`` are the containers it generated that
    month; ``moved_g`` its containers first loaded that month; ``received_g`` its containers
    first received that month. For a disposer (any receiver): ``declared_g``, ``received_g``
    and ``containers`` are what it received that month; ``moved_g`` what was loaded that month
    of the containers it received. Months are China's (UTC+8). A loading or receipt counts at
    its weighed share when it has a mass, else at the declared mass.
    """

    party: str
    role: Literal["generator", "disposer"]
    month: str  # YYYY-MM
    declared_g: int
    moved_g: int
    received_g: int
    containers: int


def monthly_balance(facts: Facts) -> list[BalanceRow]:
    """Per generator and per disposer, what was declared, moved and received each month."""
    table: dict[tuple[str, str, str], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    today = facts.as_of.astimezone(_CHINA).date()
    for container in facts.containers.values():
        if container.facts.generated_on <= today:
            row = table[
                "generator", container.facts.generator, f"{container.facts.generated_on:%Y-%m}"
            ]
            row[0] += container.facts.declared_net_mass_g
            row[3] += 1
    loaded: dict[str, tuple[str, int]] = {}  # container -> month and mass of its first loading
    for record in _records(facts, frozenset({Step.LOADING})):
        event = record.event
        if event.event_time > facts.as_of:
            break
        shares = _shares(facts, event) or {}
        for c in event.containers:
            if c in facts.containers and c not in loaded:
                grams = shares.get(c, facts.containers[c].facts.declared_net_mass_g)
                loaded[c] = (_month(event.event_time), grams)
                table["generator", facts.containers[c].facts.generator, loaded[c][0]][1] += grams
    for receipt in _receipts(facts, measured_only=False):
        month = _month(receipt.when)
        table["generator", receipt.generator, month][2] += receipt.received_g
        row = table["disposer", receipt.receiver, month]
        row[0] += receipt.declared_g
        row[2] += receipt.received_g
        row[3] += 1
        if receipt.container in loaded:
            loaded_month, grams = loaded[receipt.container]
            table["disposer", receipt.receiver, loaded_month][1] += grams
    return [
        BalanceRow(party, "generator" if role == "generator" else "disposer", month, *row)
        for (role, party, month), row in sorted(
            table.items(), key=lambda i: (i[0][0] != "generator", i[0])
        )
    ]

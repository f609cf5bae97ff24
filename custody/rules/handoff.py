"""Custody that changed hands with no hand-over, or that two parties claimed at once.

Both rules read what the custody state machine (``custody.history``) found while walking each
container's events: a *missing hand-off* is a party acting on a container nobody handed to it
(a disposer receiving a drum no transporter loaded); a *conflict* is a party taking a container
another party still held, or two events linking back to the same predecessor (a fork: the same
label used in two places, or two devices each continuing the chain).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from custody.alerts import Severity
from custody.facts import Rule
from custody.history import JumpKind
from custody.rules._chain_words import PHASE_ZH, STEP_ZH, iso, local

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    from custody.alerts import Alert
    from custody.facts import Facts
    from custody.history import ContainerHistory, Jump, Record

__all__ = ["CONFLICTING_CUSTODY", "MISSING_HANDOFF"]


def _jump_facts(jump: Jump) -> dict[str, Any]:
    event = jump.record.event
    return {
        "holder": jump.holder,
        "holder_phase": jump.phase.value,
        "holder_since": iso(jump.since.event.event_time),
        "claimant": event.party,
        "step": event.step.value,
        "at": iso(event.event_time),
    }


def _claim_facts(record: Record) -> dict[str, Any]:
    event = record.event
    return {"party": event.party, "step": event.step.value, "at": iso(event.event_time)}


def _unique(records: Iterable[Record]) -> list[Record]:
    """The records once each, in the order given (a record can stand in two findings)."""
    return list({r.event_hash: r for r in records}.values())


def _missing_handoffs(facts: Facts) -> Iterator[Alert]:
    for history in facts.histories.values():
        if not history.jumps:
            continue
        jumps = [j for j in history.jumps if j.kind is JumpKind.MISSING_HANDOFF]
        if jumps:
            yield _missing_alert(facts, history.container, jumps)


def _missing_alert(facts: Facts, container: str, jumps: list[Jump]) -> Alert:
    first = jumps[0]
    event = first.record.event
    holder, claimant = facts.name(first.holder), facts.name(event.party)
    since, at = local(first.since.event.event_time), local(event.event_time)
    more_zh = f"该容器另有 {len(jumps) - 1} 处同类缺口。" if len(jumps) > 1 else ""
    more = f" {len(jumps) - 1} more such gap(s) in its history." if len(jumps) > 1 else ""
    return MISSING_HANDOFF.alert(
        container,
        f"{claimant}于 {at} {STEP_ZH[event.step]}容器 {container}，但该容器此前由{holder}"
        f"{PHASE_ZH[first.phase]}（自 {since} 起），账本中没有{holder}将其交出的记录。"
        f"容器可能未经交接转手，或交接未登记。{more_zh}",
        f"{claimant} recorded {event.step.value} of container {container} at {at} (UTC+8), "
        f"but {holder} held it ({first.phase.value}) since {since} and the ledger has no "
        f"hand-over from {holder}.{more}",
        _unique(r for j in jumps for r in (j.since, j.record)),
        containers=(container,),
        parties=tuple(dict.fromkeys(p for j in jumps for p in (j.holder, j.record.event.party))),
        facts=_jump_facts(first) | {"count": len(jumps), "jumps": [_jump_facts(j) for j in jumps]},
    )


def _conflicts(facts: Facts) -> Iterator[Alert]:
    for history in facts.histories.values():
        if not (history.jumps or history.forks):
            continue
        jumps = [j for j in history.jumps if j.kind is JumpKind.CONFLICT]
        if jumps or history.forks:
            yield _conflict_alert(facts, history, jumps)


def _conflict_alert(facts: Facts, history: ContainerHistory, jumps: list[Jump]) -> Alert:
    container = history.container
    forks = list(history.forks.items())
    by_hash = {r.event_hash: r for r in history.records} if forks else {}
    zh: list[str] = []
    en: list[str] = []
    if jumps:
        event = jumps[0].record.event
        holder, claimant = facts.name(jumps[0].holder), facts.name(event.party)
        at, since = local(event.event_time), local(jumps[0].since.event.event_time)
        zh.append(
            f"{claimant}于 {at} {STEP_ZH[event.step]}容器 {container}，而该容器当时仍由{holder}"
            f"{PHASE_ZH[jumps[0].phase]}（自 {since} 起），两家单位同时声称持有。"
        )
        en.append(
            f"{claimant} recorded {event.step.value} of container {container} at {at} (UTC+8) "
            f"while {holder} still held it ({jumps[0].phase.value}) since {since}: two parties "
            "claim it at once."
        )
    if forks:
        claims = forks[0][1]
        who_zh = "、".join(
            f"{facts.name(r.event.party)}（{local(r.event.event_time)} {STEP_ZH[r.event.step]}）"
            for r in claims
        )
        who = "; ".join(
            f"{facts.name(r.event.party)} ({r.event.step.value} at {local(r.event.event_time)})"
            for r in claims
        )
        zh.append(
            f"容器 {container} 的记录出现分叉：{who_zh} 都声称接续同一条前序记录，"
            "同一标签可能在两处被使用。"
        )
        en.append(
            f"The records of container {container} fork: {who} each continue the same earlier "
            "record; the label may be in use in two places."
        )
    if len(jumps) + len(forks) > 1:
        zh.append(f"共 {len(jumps)} 处冲突、{len(forks)} 处分叉。")
        en.append(f"{len(jumps)} conflict(s) and {len(forks)} fork(s) in all.")
    records = _unique(
        [
            *(r for j in jumps for r in (j.since, j.record)),
            *(by_hash[prev] for prev, _ in forks if prev in by_hash),  # what both continue
            *(r for _, claims in forks for r in claims),
        ]
    )
    kinds = (["jump"] if jumps else []) + (["fork"] if forks else [])
    return CONFLICTING_CUSTODY.alert(
        container,
        "".join(zh),
        " ".join(en),
        records,
        containers=(container,),
        parties=tuple(dict.fromkeys(r.event.party for r in records)),
        facts={
            "kinds": kinds,
            "conflicts": [_jump_facts(j) for j in jumps],
            "forks": [
                {"predecessor": prev.hex(), "claimants": [_claim_facts(r) for r in claims]}
                for prev, claims in forks
            ],
        },
    )


MISSING_HANDOFF = Rule(
    "missing-handoff",
    Severity.HIGH,
    "缺少交接",
    "Missing hand-off",
    _missing_handoffs,
)

CONFLICTING_CUSTODY = Rule(
    "conflicting-custody",
    Severity.HIGH,
    "持有冲突",
    "Conflicting custody",
    _conflicts,
)

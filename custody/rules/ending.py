"""Scans after the end: a container destroyed, or emptied into another, that is seen again.

Once the disposer records a container destroyed, or its contents moved into another container,
the label should never be read again; a later scan means the label was copied, reused on a new
drum, or the destruction was never real. Only scans claiming a later time count: a scan at
the very instant of the ending cannot be said to follow it (the ledger index is upload order,
not the order things happened in).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from custody.alerts import Severity
from custody.events import Step
from custody.facts import Rule
from custody.rules._chain_words import STEP_ZH, iso, local

if TYPE_CHECKING:
    from collections.abc import Iterator

    from custody.alerts import Alert
    from custody.facts import Facts
    from custody.history import Record

__all__ = ["AFTER_END"]

#: Later scans spelled out in an alert; the rest are counted (a cloned label may be read daily).
_LISTED = 10


def _after_end(facts: Facts) -> Iterator[Alert]:
    for history in facts.histories.values():
        end = history.ended_by
        if end is None or not history.after_end:
            continue
        ended_at = end.event.event_time
        later = [r for r in history.after_end if r.event.event_time > ended_at]
        if later:
            yield _alert(facts, history.container, end, later)


def _scan(record: Record) -> dict[str, Any]:
    event = record.event
    return {"at": iso(event.event_time), "party": event.party, "step": event.step.value}


def _alert(facts: Facts, container: str, end: Record, later: list[Record]) -> Alert:
    ending = end.event
    by = facts.name(ending.party)
    if ending.step is Step.DESTROYING:
        how_zh, how = "处置（销毁）", "destroyed"
    else:
        how_zh, how = (
            f"{STEP_ZH[ending.step]}至容器 {ending.parent}",
            f"emptied into {ending.parent}",
        )
    first = later[0].event
    more_zh = f"此后共有 {len(later)} 条记录。" if len(later) > 1 else ""
    more = f" {len(later)} later records in all." if len(later) > 1 else ""
    return AFTER_END.alert(
        container,
        f"容器 {container} 已于 {local(ending.event_time)} 由{by}{how_zh}，"
        f"但 {local(first.event_time)} 仍被{facts.name(first.party)}扫描（{STEP_ZH[first.step]}）。"
        f"已终结的容器不应再出现，标签可能被复制或重复使用，或处置并未真实发生。{more_zh}",
        f"Container {container} was {how} by {by} at {local(ending.event_time)} (UTC+8), yet "
        f"{facts.name(first.party)} recorded {first.step.value} of it at "
        f"{local(first.event_time)}. An ended container must not appear again: the label may "
        f"have been copied or reused, or the disposal never happened.{more}",
        [end, *later],
        containers=(container,),
        facts={
            "ended_at": iso(ending.event_time),
            "ended_by": ending.party,
            "how": "destroyed" if ending.step is Step.DESTROYING else "emptied",
            "into": None if ending.step is Step.DESTROYING else ending.parent,
            "count": len(later),
            "later": [_scan(r) for r in later[:_LISTED]],
        },
    )


AFTER_END = Rule(
    "scan-after-end",
    Severity.HIGH,
    "终结后仍被扫描",
    "Scan after the end",
    _after_end,
)

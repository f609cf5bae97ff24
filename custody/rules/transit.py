"""Containers that left on a vehicle and never arrived: loaded, and nobody received them in time.

A container is *in transit* from the scan that put it on a vehicle until a site takes it
(received, or returned to the generator). Its deadline is the transfer manifest's
``arrive_before`` plus a grace period; with no manifest, or one without a deadline, a default
time from loading. Past the deadline, with no receipt, the waste may have been dumped on the way.
Carriers handing a container to one another do not restart the clock: the deadline counts from
when it left the last site.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from custody.alerts import Severity
from custody.facts import Rule
from custody.history import Phase
from custody.rules._chain_words import STEP_ZH, hours, iso, local

if TYPE_CHECKING:
    from collections.abc import Iterator
    from datetime import datetime

    from custody.alerts import Alert
    from custody.facts import Facts
    from custody.history import ContainerHistory, Record, Span

__all__ = ["VANISHED"]


def _transit(history: ContainerHistory) -> list[Span]:
    """The spans of the current transit, oldest first: every carrier since the last site."""
    run: list[Span] = []
    for span in reversed(history.spans):
        if span.phase is not Phase.IN_TRANSIT:
            break
        run.append(span)
    run.reverse()
    return run


def _deadline(facts: Facts, openers: list[Record]) -> tuple[datetime, str | None, bool]:
    """The deadline, the manifest the loading names, and whether the deadline is the manifest's.

    The latest loading that names a manifest is the current trip's document.
    """
    number = next((r.event.manifest for r in reversed(openers) if r.event.manifest), None)
    manifest = facts.manifests.get(number) if number else None
    if manifest is not None and manifest.arrive_before is not None:
        return manifest.arrive_before + facts.settings.transit_grace, number, True
    return openers[0].event.event_time + facts.settings.default_transit, number, False


def _vehicle(history: ContainerHistory, span: Span) -> str | None:
    """The plate the current carrier last recorded the container on (not another's claim)."""
    for record in reversed(history.records):
        if record.event.event_time < span.since:
            break
        if record.event.party == span.holder and record.event.vehicle:
            return record.event.vehicle
    return span.opened_by.event.vehicle


def _vanished(facts: Facts) -> Iterator[Alert]:
    for history in facts.histories.values():
        span = history.current
        if span is None or span.phase is not Phase.IN_TRANSIT:
            continue
        run = _transit(history)
        openers = [s.opened_by for s in run]
        deadline, manifest, planned = _deadline(facts, openers)
        if facts.as_of > deadline:
            yield _alert(facts, history, openers, (deadline, manifest, planned))


def _alert(
    facts: Facts,
    history: ContainerHistory,
    openers: list[Record],
    due: tuple[datetime, str | None, bool],
) -> Alert:
    deadline, manifest, planned = due
    container, settings = history.container, facts.settings
    loading, last = openers[0], history.records[-1]
    loaded_at = loading.event.event_time
    carrier = history.spans[-1].holder
    vehicle = _vehicle(history, history.spans[-1])
    overdue = facts.as_of - deadline
    if planned:
        basis_zh = f"联单 {manifest} 要求的到达期限加宽限 {hours(settings.transit_grace)} 小时"
        basis = f"manifest {manifest}'s arrival deadline plus {hours(settings.transit_grace)} h"
    else:
        named = f"所载联单 {manifest} 未登记或未载明到达期限" if manifest else "未载明联单"
        basis_zh = f"{named}，按装车后 {hours(settings.default_transit)} 小时计"
        basis = f"{hours(settings.default_transit)} h after loading (no manifest deadline)"
    plate = loading.event.vehicle
    via_zh, via = (f"（车辆 {plate}）", f" on vehicle {plate}") if plate else ("", "")
    now_zh, now = "", ""
    if carrier != loading.event.party:
        on_zh, on = (f"（车辆 {vehicle}）", f" on vehicle {vehicle}") if vehicle else ("", "")
        now_zh, now = (
            f"现由{facts.name(carrier)}承运{on_zh}，",
            f" it is now with {facts.name(carrier)}{on};",
        )
    last_party = facts.name(last.event.party)
    return VANISHED.alert(
        container,
        f"容器 {container} 于 {local(loaded_at)} 由{facts.name(loading.event.party)}"
        f"{STEP_ZH[loading.event.step]}{via_zh}后，{now_zh}"
        f"至 {local(facts.as_of)} 仍未被接收或退回，"
        f"已超过期限 {local(deadline)}（{basis_zh}）{hours(overdue)} 小时。"
        f"最后一条记录：{local(last.event.event_time)} {last_party}{STEP_ZH[last.event.step]}。"
        "废物可能在途中被倾倒或转移。",
        f"Container {container} was taken by {facts.name(loading.event.party)} at "
        f"{local(loaded_at)} (UTC+8){via};{now} by {local(facts.as_of)} nobody has received or "
        f"returned it, {hours(overdue)} h past its deadline {local(deadline)} ({basis}). "
        f"Last record: {last.event.step.value} by {last_party} at {local(last.event.event_time)}.",
        list({r.event_hash: r for r in (*openers, last)}.values()),
        containers=(container,),
        parties=tuple(dict.fromkeys(r.event.party for r in openers)),
        vehicle=vehicle,
        start=loaded_at,
        end=max(deadline, last.event.event_time),
        facts={
            "loaded_at": iso(loaded_at),
            "deadline": iso(deadline),
            "deadline_from": "manifest" if planned else "default",
            "hours_overdue": round(overdue.total_seconds() / 3600, 2),
            "vehicle": vehicle,
            "manifest": manifest,
            "carrier": carrier,
            "last_seen_at": iso(last.event.event_time),
            "last_seen_by": last.event.party,
            "last_seen_step": last.event.step.value,
            "as_of": iso(facts.as_of),
        },
    )


VANISHED = Rule(
    "vanished",
    Severity.HIGH,
    "在途失踪",
    "Vanished in transit",
    _vanished,
)

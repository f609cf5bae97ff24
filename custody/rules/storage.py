"""Storage: hazardous waste may be kept at rest for at most one year (longer needs approval).

A container still at rest at the check's time, at its generator or at a storage site, is
overdue when it has been there longer than the storage limit. At the generator, storage starts
at the earlier of the day the waste was generated (the digital id's date, from midnight China
time) and the span's start: a drum labelled a year ago and scanned only last week has still
been stored for a year. Elsewhere it starts when the holder took the container.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta, timezone
from typing import TYPE_CHECKING

from custody.alerts import Severity
from custody.digital_id import parse_digital_id
from custody.facts import Facts, Rule
from custody.history import Phase

if TYPE_CHECKING:
    from collections.abc import Iterator

    from custody.alerts import Alert
    from custody.history import ContainerHistory, Span

__all__ = ["OVERDUE_STORAGE"]

_CHINA = timezone(timedelta(hours=8))
_DAY = timedelta(days=1)


def _span_at(history: ContainerHistory, when: datetime) -> Span | None:
    """The span in force at ``when`` (the current one unless the check looks back)."""
    for span in reversed(history.spans):
        if span.since <= when:
            return span if span.until is None or span.until > when else None
    return None


def _run(facts: Facts) -> Iterator[Alert]:
    limit = facts.settings.storage_limit
    for container, history in facts.histories.items():
        span = _span_at(history, facts.as_of)
        if span is None or span.phase is not Phase.AT_REST:
            continue
        registered = facts.containers.get(container)
        if registered is not None:
            generator, made = registered.facts.generator, registered.facts.generated_on
        else:
            ident = parse_digital_id(container)
            generator, made = ident.unit_code, ident.day
        start = span.since
        if span.holder == generator:
            start = min(start, datetime.combine(made, time(), _CHINA))
        if facts.as_of - start > limit:
            yield _alert(facts, container, span, start, at_generator=span.holder == generator)


def _alert(
    facts: Facts, container: str, span: Span, start: datetime, *, at_generator: bool
) -> Alert:
    limit, held = facts.settings.storage_limit, facts.as_of - start
    days, limit_days, over = held // _DAY, limit // _DAY, (held - limit) // _DAY
    holder = span.holder
    who_zh, who = f"{facts.name(holder)}（{holder}）", f"{facts.name(holder)} ({holder})"
    since = f"{start.astimezone(_CHINA):%Y-%m-%d}"
    role_zh = "产废单位自行贮存" if at_generator else "贮存"
    zh = (
        f"容器 {container} 由{who_zh}{role_zh}，自 {since} 起已 {days} 天，"
        f"超过 {limit_days} 天的贮存期限 {over} 天，且未见转移或处置记录。"
        "贮存超过一年须经批准，请核实是否有延期批准。"
    )
    en = (
        f"Container {container} has been held at rest by {who} since {since}, {days} days, "
        f"{over} days beyond the {limit_days}-day storage limit, with no transfer or "
        "disposal since. Storage beyond a year needs approval."
    )
    return OVERDUE_STORAGE.alert(
        container,
        zh,
        en,
        [span.opened_by],
        containers=(container,),
        parties=(holder,),
        start=start,
        end=facts.as_of,
        facts={
            "container": container,
            "holder": holder,
            "at_generator": at_generator,
            "storage_start": start.astimezone(UTC).isoformat(),
            "span_since": span.since.isoformat(),
            "days_held": days,
            "limit_days": limit_days,
            "days_over": over,
        },
    )


OVERDUE_STORAGE = Rule(
    "overdue-storage",
    Severity.MEDIUM,
    "危险废物贮存超期",
    "Hazardous waste stored beyond the limit",
    _run,
)

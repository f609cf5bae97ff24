"""Alerts: what the checker found, for a person to look at, with a recorded lifecycle.

An alert's id is derived from its rule and its subject (a container, a manifest, a generator
and month ...), so running the checker again finds the same alert instead of raising a second
one, and the officer's acknowledgement sticks. What an alert rests on is kept in it: the facts
(numbers and times), the ledger entries by index, the parties, the vehicle.

Lifecycle: ``open`` → ``acknowledged`` → ``escalated`` or ``dismissed`` (with a reason); any
closed alert can be reopened with a reason. Every change is stored with who made it and when;
nothing is overwritten.
"""

from __future__ import annotations

import enum
import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from custody.errors import AlertNotFound, AlertTransitionInvalid, RecordInvalid

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from custody.access import Reach

__all__ = [
    "Alert",
    "AlertChange",
    "AlertFilter",
    "AlertState",
    "AlertStore",
    "Alerts",
    "Severity",
    "alert_id",
]


class Severity(enum.StrEnum):
    """How urgently a person should look."""

    INFO = "info"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"

    @property
    def rank(self) -> int:
        """Higher is more urgent."""
        return list(Severity).index(self)

    @property
    def zh(self) -> str:
        """The Chinese name."""
        return {"info": "提示", "low": "低", "medium": "中", "high": "高"}[self.value]


class AlertState(enum.StrEnum):
    """Where an alert is in its lifecycle."""

    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    DISMISSED = "dismissed"
    ESCALATED = "escalated"

    @property
    def zh(self) -> str:
        """The Chinese name."""
        return {"open": "待处理", "acknowledged": "已确认", "dismissed": "已排除",
                "escalated": "已上报"}[self.value]  # fmt: skip


_ALLOWED: dict[AlertState, frozenset[AlertState]] = {
    AlertState.OPEN: frozenset(
        {AlertState.ACKNOWLEDGED, AlertState.DISMISSED, AlertState.ESCALATED}
    ),
    AlertState.ACKNOWLEDGED: frozenset({AlertState.DISMISSED, AlertState.ESCALATED}),
    AlertState.DISMISSED: frozenset({AlertState.OPEN}),
    AlertState.ESCALATED: frozenset({AlertState.OPEN, AlertState.DISMISSED}),
}
#: Changes that must say why.
_NEEDS_REASON = frozenset({AlertState.DISMISSED, AlertState.OPEN})
_MAX_TEXT = 1000


def alert_id(rule: str, subject: str) -> str:
    """The stable id of the alert a rule raises about a subject."""
    digest = hashlib.sha256(f"{rule}\x00{subject}".encode()).hexdigest()
    return f"AL-{digest[:16]}"


@dataclass(frozen=True, slots=True)
class Alert:
    """One thing for a person to look at, with the evidence it rests on."""

    rule: str
    subject: str  # what it is about, unique for the rule: a container id, a manifest number ...
    severity: Severity
    summary_zh: str
    summary: str
    start: datetime
    end: datetime
    containers: tuple[str, ...] = ()
    vehicle: str | None = None
    parties: tuple[str, ...] = ()
    entries: tuple[int, ...] = ()  # ledger indices of the events it rests on
    facts: dict[str, Any] = field(default_factory=dict)
    state: AlertState = AlertState.OPEN
    raised_at: datetime | None = None  # set when stored

    def __post_init__(self) -> None:
        object.__setattr__(self, "severity", Severity(self.severity))
        object.__setattr__(self, "state", AlertState(self.state))
        for name in ("start", "end"):
            when: datetime = getattr(self, name)
            if when.tzinfo is None:
                raise RecordInvalid(f"alert {name} needs a time zone", zh="告警时间须带时区")
            object.__setattr__(self, name, when.astimezone(UTC))
        if self.end < self.start:
            object.__setattr__(self, "end", self.start)

    @property
    def alert_id(self) -> str:
        """The stable id (rule and subject)."""
        return alert_id(self.rule, self.subject)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view; times as ISO 8601 with zone."""
        return {
            "id": self.alert_id,
            "rule": self.rule,
            "subject": self.subject,
            "severity": self.severity.value,
            "state": self.state.value,
            "summary_zh": self.summary_zh,
            "summary": self.summary,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "containers": list(self.containers),
            "vehicle": self.vehicle,
            "parties": list(self.parties),
            "entries": list(self.entries),
            "facts": self.facts,
            "raised_at": self.raised_at.isoformat() if self.raised_at else None,
        }

    def to_json(self) -> str:
        """Canonical JSON of the alert's content (sorted keys)."""
        return json.dumps(self.to_dict(), ensure_ascii=False, sort_keys=True, default=str)


@dataclass(frozen=True, slots=True)
class AlertChange:
    """One recorded change of an alert's state."""

    alert_id: str
    at: datetime
    by: str
    state: AlertState
    reason: str = ""


@dataclass(frozen=True, slots=True)
class AlertFilter:
    """Which alerts to list; every field given must match."""

    rule: str | None = None
    state: AlertState | None = None
    min_severity: Severity | None = None
    container: str | None = None
    vehicle: str | None = None
    party: str | None = None
    since: datetime | None = None  # alerts whose window ends at or after this
    until: datetime | None = None  # ... and starts before this
    waste_code: str | None = None  # alerts naming a container of this code (e.g. 900-041-49)
    reach: Reach | None = None  # alerts naming a party within (who asks may see only those)


class AlertStore(Protocol):
    """Storage of alerts and their changes. Nothing stored is updated except the state."""

    def add_alerts(self, alerts: Sequence[Alert], raised_at: datetime) -> list[Alert]:
        """Store the alerts whose id is not stored yet; return those, as stored."""
        ...

    def get_alert(self, alert_id: str) -> Alert | None:
        """The alert with this id."""
        ...

    def list_alerts(
        self, where: AlertFilter, *, limit: int = 100, after: str | None = None
    ) -> list[Alert]:
        """Matching alerts: most severe first, then the newest window, then by id.

        ``after`` is the id of the last alert of the previous page.
        """
        ...

    def change_state(self, change: AlertChange, expected: AlertState) -> bool:
        """Record the change and set the state, in one transaction, if still ``expected``.

        Two officers acting on one alert at once: the second learns of it (``False``).
        """
        ...

    def changes(self, alert_id: str) -> list[AlertChange]:
        """Every change of the alert, oldest first."""
        ...


def _now() -> datetime:
    return datetime.now(UTC)


class Alerts:
    """Raising alerts (once each) and moving them through their lifecycle."""

    def __init__(self, store: AlertStore) -> None:
        self._store = store

    def raise_all(self, found: Iterable[Alert], now: datetime | None = None) -> list[Alert]:
        """Store what is new; an alert already raised keeps its state and first evidence."""
        return self._store.add_alerts(list(found), now or _now())

    def get(self, alert_id: str) -> Alert:
        """The alert, or ``AlertNotFound``."""
        found = self._store.get_alert(alert_id)
        if found is None:
            raise AlertNotFound(f"no alert {alert_id}", zh=f"未找到告警 {alert_id}")
        return found

    def change(
        self, alert_id: str, to: AlertState, by: str, reason: str = "", now: datetime | None = None
    ) -> Alert:
        """Move the alert to ``to``; dismissing or reopening must give a reason."""
        alert = self.get(alert_id)
        to = AlertState(to)
        by, reason = by.strip(), reason.strip()
        if not by or len(by) > _MAX_TEXT or len(reason) > _MAX_TEXT:
            raise RecordInvalid(
                "a change names who made it; texts up to 1000 characters",
                zh="状态变更须注明操作人，文字不超过 1000 字",
                field="by",
            )
        if to not in _ALLOWED[alert.state]:
            raise AlertTransitionInvalid(
                f"alert {alert_id} is {alert.state.value}; it cannot become {to.value}",
                zh=f"告警 {alert_id} 当前为“{alert.state.zh}”，不能变更为“{to.zh}”",
                state=alert.state.value,
            )
        if to in _NEEDS_REASON and not reason:
            raise AlertTransitionInvalid(
                f"{'dismissing' if to is AlertState.DISMISSED else 'reopening'} an alert needs "
                "a reason",
                zh="排除或重新打开告警须填写理由",
                state=alert.state.value,
            )
        change = AlertChange(alert_id, now or _now(), by, to, reason)
        if not self._store.change_state(change, alert.state):
            raise AlertTransitionInvalid(
                f"alert {alert_id} changed meanwhile; look at it again before changing it",
                zh=f"告警 {alert_id} 已被他人变更，请刷新后再操作",
                state=self.get(alert_id).state.value,
            )
        return self.get(alert_id)

    def history(self, alert_id: str) -> list[AlertChange]:
        """Every change of the alert, oldest first."""
        self.get(alert_id)
        return self._store.changes(alert_id)

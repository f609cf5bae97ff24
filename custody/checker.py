"""Running every rule over one snapshot: the ranked list an officer opens the system for."""

from __future__ import annotations

from typing import TYPE_CHECKING

from custody.rules.clones import CLONED_LABEL
from custody.rules.ending import AFTER_END
from custody.rules.handoff import CONFLICTING_CUSTODY, MISSING_HANDOFF
from custody.rules.licences import UNLICENSED
from custody.rules.manifest import MANIFEST_MISMATCH
from custody.rules.mass import MASS_BALANCE, MASS_DISCREPANCY
from custody.rules.storage import OVERDUE_STORAGE
from custody.rules.transit import VANISHED

if TYPE_CHECKING:
    from collections.abc import Iterable

    from custody.alerts import Alert
    from custody.facts import Facts, Rule

__all__ = ["RULES", "check", "rank"]

#: Every custody rule, in the order the issue lists them.
RULES: tuple[Rule, ...] = (
    MISSING_HANDOFF,
    VANISHED,
    CONFLICTING_CUSTODY,
    CLONED_LABEL,
    AFTER_END,
    UNLICENSED,
    MASS_DISCREPANCY,
    MANIFEST_MISMATCH,
    OVERDUE_STORAGE,
    MASS_BALANCE,
)


def check(facts: Facts, rules: Iterable[Rule] = RULES) -> list[Alert]:
    """Every alert the rules raise on the snapshot, most urgent first (one per rule and subject)."""
    found: dict[str, Alert] = {}
    for rule in rules:
        for alert in rule.run(facts):
            found.setdefault(alert.alert_id, alert)
    return rank(found.values())


def rank(alerts: Iterable[Alert]) -> list[Alert]:
    """Most severe first, then the latest window, then by id (a stable order)."""
    ordered = sorted(alerts, key=lambda a: a.alert_id)
    ordered.sort(key=lambda a: a.end, reverse=True)
    ordered.sort(key=lambda a: a.severity.rank, reverse=True)
    return ordered

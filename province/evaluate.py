"""Grading the checker against the month's ground truth: precision and recall per rule.

An alert is matched to the truth by its rule and its subject (a container, a manifest, a party
and reason, a generator); a route alert by its rule and the manifest of the trip it is about.
Every injected violation that no alert names is a miss; every alert that names no injected
violation is a false alarm, except route findings on a trip with an injected detour or stop
that the detour explains (a detour also makes the trip slow): those are listed as explained.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING

from province.simulate import INJECTED_RULES, ROUTE_SIDE_EFFECTS

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from custody.alerts import Alert
    from province.simulate import Truth

__all__ = ["PRECISION_TARGET", "RECALL_TARGET", "Score", "evaluate", "key_of", "score_row"]

RECALL_TARGET = 0.95
PRECISION_TARGET = 0.90
_ROUTE_TRUTHS = frozenset({"off-route", "dwell"})


@dataclass(frozen=True, slots=True)
class Score:
    """How one rule did."""

    rule: str
    injected: int
    raised: int  # distinct subjects alerted
    hits: int
    false_alarms: int
    misses: int
    explained: int = 0  # route findings a neighbouring injected violation explains

    @property
    def precision(self) -> float | None:
        """Share of the rule's alerts that name an injected violation (None: no alerts)."""
        judged = self.hits + self.false_alarms
        return self.hits / judged if judged else None

    @property
    def recall(self) -> float | None:
        """Share of injected violations the rule named (None: none injected)."""
        return self.hits / self.injected if self.injected else None

    @property
    def meets_target(self) -> bool:
        """Recall and precision at or above the targets (a rule not injected has no target)."""
        if not self.injected:
            return True
        return (self.recall or 0.0) >= RECALL_TARGET and (self.precision or 0.0) >= PRECISION_TARGET


def key_of(alert: Alert) -> str:
    """What an alert names, in the truth's terms."""
    manifest = alert.facts.get("manifest")
    if alert.rule not in INJECTED_RULES[:10] and isinstance(manifest, str):
        return manifest  # a route finding: the trip
    return alert.subject


def evaluate(alerts: Iterable[Alert], truth: Sequence[Truth]) -> list[Score]:
    """One score per rule injected or alerted, injected rules first in their order."""
    expected: dict[str, set[str]] = defaultdict(set)
    for t in truth:
        expected[t.rule].add(t.key)
    raised: dict[str, set[str]] = defaultdict(set)
    for alert in alerts:
        raised[alert.rule].add(key_of(alert))
    detoured = set().union(*(expected[r] for r in _ROUTE_TRUTHS))
    scores = []
    others = sorted(set(raised) - set(INJECTED_RULES))
    for rule in [*INJECTED_RULES, *others]:
        want, got = expected.get(rule, set()), raised.get(rule, set())
        explained = {k for k in got - want if rule in ROUTE_SIDE_EFFECTS and k in detoured}
        wrong = got - want - explained
        scores.append(
            Score(
                rule,
                len(want),
                len(got),
                len(got & want),
                len(wrong),
                len(want - got),
                len(explained),
            )
        )
    return scores


def score_row(s: Score) -> tuple[str, ...]:
    """One score as table cells: rule, counts, precision, recall, whether it meets the target."""
    false = f"{s.false_alarms}" + (f" (+{s.explained} 可解释 explained)" if s.explained else "")
    target = ("是 yes" if s.meets_target else "否 NO") if s.injected else "未注入 not injected"
    return (s.rule, str(s.injected), str(s.raised), str(s.hits), false, str(s.misses),
            _ratio(s.precision), _ratio(s.recall), target)  # fmt: skip


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"

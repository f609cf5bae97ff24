"""Words the custody-chain rules share: steps and phases in Chinese, times as officers read them."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Final

from custody.events import Step
from custody.history import Phase

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["PHASE_ZH", "STEP_ZH", "hours", "iso", "local"]

#: China Standard Time: what an officer's watch says (no daylight saving since 1991).
_CST: Final = timezone(timedelta(hours=8), "CST")

#: The scanners' words for each step (``Step.zh``), so an alert says what the screen said.
STEP_ZH: Final[Mapping[Step, str]] = {step: step.zh for step in Step}

#: How a holder held a container, as a verb phrase ("由某公司存放").
PHASE_ZH: Final[Mapping[Phase, str]] = {
    Phase.AT_REST: "存放",
    Phase.IN_TRANSIT: "运输",
    Phase.ENDED: "处置",
}


def local(when: datetime) -> str:
    """A time in Beijing time, to the second: ``2026-03-02 16:00:05``."""
    return f"{when.astimezone(_CST):%Y-%m-%d %H:%M:%S}"


def iso(when: datetime) -> str:
    """A time for an alert's facts: ISO 8601 with its zone."""
    return when.isoformat()


def hours(span: timedelta) -> str:
    """A duration in hours, without trailing zeros: ``12``, ``1.5``."""
    return f"{span.total_seconds() / 3600:.2f}".rstrip("0").rstrip(".")

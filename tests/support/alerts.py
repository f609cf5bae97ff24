"""One sample alert for the tests of the alert API, the officers' pages and the browser."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from custody.alerts import Alert, Severity
from tests.conftest import GENERATOR_CODE, TRANSPORTER_CODE
from tests.facts_fixtures import drum_id

__all__ = ["T0", "handoff_alert"]

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def handoff_alert(n: int, **changes: object) -> Alert:
    """Drum ``n`` held by the transporter without a hand-off, from T0 for an hour; any field
    can be changed (``entries`` defaults to ``(n,)``)."""
    values: dict[str, object] = {
        "rule": "missing-handoff",
        "subject": drum_id(n),
        "severity": Severity.HIGH,
        "summary_zh": f"容器 {n} 未经交接即由运输单位持有",
        "summary": f"container {n} held by the transporter without a hand-off",
        "start": T0,
        "end": T0 + timedelta(hours=1),
        "containers": (drum_id(n),),
        "vehicle": "川A12345",
        "parties": (GENERATOR_CODE, TRANSPORTER_CODE),
        "entries": (n,),
        "facts": {"gap_h": 1.5},
    }
    values.update(changes)
    return Alert(**values)  # type: ignore[arg-type]

"""Migration 0007 fills the query tables from what was stored before it."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import insert, select

from custody.alerts import AlertFilter, alert_id
from custody.events import Step
from storage.alert_store import SqlAlertStore
from storage.engine import make_engine
from storage.manifest_store import SqlManifestStore
from storage.migrate import upgrade
from storage.tables import metadata
from tests.conftest import DISPOSER_CODE, GENERATOR_CODE, TRANSPORTER_CODE
from tests.facts_fixtures import append_events, drum_id
from tests.ledger_fixtures import Scanner

if TYPE_CHECKING:
    from pathlib import Path

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def _manifest_row(number: str, vehicles: list[str]) -> dict[str, object]:
    return {"number": number, "generator": GENERATOR_CODE, "transporter": TRANSPORTER_CODE,
            "receiver": DISPOSER_CODE, "vehicles": vehicles, "waste_codes": ["900-249-08"],
            "containers": [drum_id(1)], "declared_mass_g": 150_000, "created_at": T0,
            "recorded_at": T0}  # fmt: skip


def _alert_row(n: int, entries: list[int], facts: dict[str, object]) -> dict[str, object]:
    return {"alert_id": alert_id("missing-handoff", str(n)), "rule": "missing-handoff",
            "subject": str(n),
            "severity": "high", "severity_rank": 3, "state": "open", "summary_zh": "告警",
            "summary": "alert", "start": T0, "end": T0 + timedelta(hours=1), "vehicle": None,
            "containers": "[]", "parties": "[]", "entries": json.dumps(entries),
            "facts": json.dumps(facts), "raised_at": T0}  # fmt: skip


def test_rows_stored_before_0007_are_found_by_plate_and_by_area(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    upgrade(url, "0006")
    engine = make_engine(url)
    gen = Scanner(GENERATOR_CODE)
    append_events(engine, [gen.scan(Step.COMMISSIONING, drum_id(1), location=(30.6, 104.0)),
                           gen.scan(Step.COMMISSIONING, drum_id(2))])  # fmt: skip
    stop = {"stop": {"type": "Point", "coordinates": [104.5, 31.2]}}
    with engine.begin() as conn:  # as 0006's code stored them: no plate links, no places
        conn.execute(insert(metadata.tables["transfer_manifest"]),
                     [_manifest_row("2026000000001", ["川A12345", "川B54321"]),
                      _manifest_row("2026000000002", ["川B54321"])])  # fmt: skip
        conn.execute(insert(metadata.tables["alert"]),
                     [_alert_row(1, [0, 1], {}), _alert_row(2, [1], {}),
                      _alert_row(3, [], {"layers": stop})])  # fmt: skip
    engine.dispose()

    assert upgrade(url, "0007") == "0007"
    engine = make_engine(url)
    manifests = SqlManifestStore(engine)
    assert [m.number for m in manifests.manifests_for_vehicle("川A12345")] == ["2026000000001"]
    assert len(manifests.manifests_for_vehicle("川B54321")) == 2
    alerts = SqlAlertStore(engine)
    near = alerts.list_near((103.9, 30.5, 104.2, 30.8), AlertFilter())
    assert [a.subject for a in near] == ["1"]  # 2's only event has no location
    stopped = alerts.list_near((104.4, 31.1, 104.6, 31.3), AlertFilter())
    assert [a.subject for a in stopped] == ["3"]
    with engine.connect() as conn:
        assert len(conn.execute(select(metadata.tables["alert_place"])).all()) == 2
    engine.dispose()
